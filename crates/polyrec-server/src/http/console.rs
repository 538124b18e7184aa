//! The admin console (`/`): a page, a script and a style sheet in `console/`, plain HTML, CSS and
//! JavaScript written for this project, compiled into the binary — no build step, no CDN, nothing
//! to install. It is a client of the public `/api/v1` routes only.

use axum::http::HeaderName;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::IntoResponse;

/// What the console's page may load and do: its own script and style sheet and its calls to
/// this server's API, nothing inline, no other origin, no framing. The console shows what
/// tenants and their users sent (item metadata, dead-lettered events); it writes it as text
/// only, and should a bug ever let some in as markup, the browser still runs none of it — the
/// operator's token in the page stays where it is.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the API docs (`/docs`, Swagger UI: its own bundled scripts, no inline one) may load and
/// do: as the console, but with inline styles, which Swagger UI sets on its elements. Its "Try it
/// out" holds whatever token the reader pastes in; nothing of another origin runs beside it, and
/// no other site can frame it.
pub const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The headers a page of this server is served with: its policy, no sniffing, no framing, no
/// referrer.
fn guarded(policy: &'static str) -> [(HeaderName, &'static str); 4] {
    [
        (CONTENT_SECURITY_POLICY, policy),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
    ]
}

/// Puts the API docs' headers ([`guarded`] by [`DOCS_POLICY`]) on each of their answers.
pub async fn docs_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    for (name, value) in guarded(DOCS_POLICY) {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/app.js");
const STYLE: &str = include_str!("../../console/app.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], guarded(POLICY), body)
}

pub async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX)
}

pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}
