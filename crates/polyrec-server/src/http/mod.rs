//! The HTTP transport: the public REST API of SPEC §6 (`/api/v1/...`), the OpenAPI document and
//! its docs page, health and metrics. Handlers only extract, call a service and wrap the answer.
//!
//! One middleware wraps every request: it settles the request id (the caller's `X-Request-Id`,
//! or a new one) and echoes it, opens the log span that carries tenant, scenario and request id,
//! checks the `Authorization` header's form, and records the Prometheus request count and
//! latency histogram per route.

mod analytics;
mod behaviors;
pub(crate) mod console;
pub mod contract;
pub mod error;
mod experiments;
mod items;
mod models;
pub(crate) mod ops;
mod recommend;
mod scenarios;
pub mod serve;

use polyrec_core::Code;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::App;
use crate::split::Service;
use crate::tenancy::{Charge, Scope};
use contract::Contract;
use error::{ApiError, RequestId, new_request_id};

pub use ops::prometheus;

/// The document's frame: its info and tags, and the amendments of [`Contract`]. Its paths come
/// from the route table ([`openapi`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "polyrec",
        description = "Multi-tenant, multi-scenario recommendation engine. Every /api/v1 route needs \
            the X-Tenant-Id header; errors are {code, message, errors?}.",
    ),
    tags(
        (name = "scenarios", description = "scenario service: scenarios and their configs"),
        (name = "items", description = "item service: catalog items and bulk import"),
        (name = "behaviors", description = "behavior service: events onto the event bus"),
        (name = "recommend", description = "recommendation service"),
        (name = "realtime", description = "what the stream jobs keep"),
        (name = "jobs", description = "training jobs: on demand, with state and progress"),
        (name = "analytics", description = "analytics service: dashboards, trends, distributions, top items, funnels"),
        (name = "experiments", description = "A/B experiments between scenario configurations"),
        (name = "models", description = "model registry: versions, offline metrics, activate and roll back"),
        (name = "ops", description = "health and metrics"),
    )
)]
pub struct ApiDoc;

/// The route table: each service's handlers, grouped by path (a handler's path and method are
/// its `#[utoipa::path]`'s). The router of each service, the OpenAPI document and which service
/// owns a path ([`owner`], what a split deployment's gateway routes by) all come from it.
fn table(service: Service) -> OpenApiRouter<Arc<App>> {
    let api = OpenApiRouter::new();
    match service {
        Service::Scenario => api
            .routes(routes!(scenarios::create, scenarios::list))
            .routes(routes!(scenarios::get, scenarios::replace, scenarios::patch, scenarios::delete))
            .routes(routes!(scenarios::versions))
            .routes(routes!(experiments::create, experiments::list))
            .routes(routes!(experiments::get, experiments::replace, experiments::delete))
            .routes(routes!(experiments::start))
            .routes(routes!(experiments::stop))
            .routes(routes!(experiments::results)),
        Service::Item => {
            api.routes(routes!(items::create, items::list)).routes(routes!(items::get, items::patch, items::delete))
        }
        Service::Behavior => api
            .routes(routes!(behaviors::track))
            .routes(routes!(behaviors::track_batch))
            .routes(routes!(behaviors::stats))
            .routes(routes!(behaviors::dead_letters))
            .routes(routes!(behaviors::replay)),
        Service::Recommendation => api
            .routes(routes!(recommend::recommend))
            .routes(routes!(recommend::hot))
            .routes(routes!(recommend::item_stats))
            .routes(routes!(recommend::realtime_metrics))
            .routes(routes!(recommend::train_cf)),
        Service::Feature => api.routes(routes!(recommend::profile)),
        Service::Model => api
            .routes(routes!(models::train))
            .routes(routes!(models::precompute))
            .routes(routes!(models::jobs))
            .routes(routes!(models::job))
            .routes(routes!(models::list))
            .routes(routes!(models::activate))
            .routes(routes!(models::rollback)),
        Service::Analytics => api
            .routes(routes!(analytics::dashboard))
            .routes(routes!(analytics::trends))
            .routes(routes!(analytics::distributions))
            .routes(routes!(analytics::top_items))
            .routes(routes!(analytics::funnel)),
    }
}

/// The routes that stream their body (the item service's bulk import): no request timeout, no
/// body cap.
fn streaming() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(items::bulk))
}

/// Every process's own routes: health and metrics.
fn ops() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(ops::healthz)).routes(routes!(ops::readyz)).routes(routes!(ops::metrics))
}

/// The OpenAPI document: [`ApiDoc`]'s frame, every route of the table, amended by [`Contract`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document = ApiDoc::openapi();
            for service in Service::ALL {
                document.merge(table(service).into_openapi());
            }
            document.merge(streaming().into_openapi());
            document.merge(ops().into_openapi());
            utoipa::Modify::modify(&Contract, &mut document);
            document
        })
        .clone()
}

/// The service that owns `path` (a concrete path, e.g. `/api/v1/scenarios/feed/hot`), from the
/// route table; `None` for a path no service has.
pub fn owner(path: &str) -> Option<Service> {
    static TEMPLATES: std::sync::OnceLock<Vec<(Vec<String>, Service)>> = std::sync::OnceLock::new();
    let templates = TEMPLATES.get_or_init(|| {
        let mut templates = Vec::new();
        for service in Service::ALL {
            let mut routes = table(service);
            if service == Service::Item {
                routes = routes.merge(streaming());
            }
            for template in routes.into_openapi().paths.paths.into_keys() {
                templates.push((template.trim_matches('/').split('/').map(str::to_owned).collect(), service));
            }
        }
        templates
    });
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let matches = |template: &[String]| {
        template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && t.ends_with('}')) || t == s)
    };
    // The most literal template wins (`…/items/bulk` over `…/items/{item_id}`).
    templates
        .iter()
        .filter(|(template, _)| matches(template))
        .max_by_key(|(template, _)| template.iter().filter(|t| !t.starts_with('{')).count())
        .map(|(_, service)| *service)
}

/// The all-in-one router: every service's routes on one port.
pub fn router(app: Arc<App>) -> Router {
    router_for(app, None)
}

/// The routes of one service of the split deployment (`None`: all of them), with `/healthz`,
/// `/readyz`, `/metrics` and the API docs.
pub fn router_for(app: Arc<App>, service: Option<Service>) -> Router {
    // Make sure the recorder exists before the first request records into it.
    prometheus();
    let max_body = app.config.max_body_bytes;
    let services: Vec<Service> = service.map_or_else(|| Service::ALL.to_vec(), |service| vec![service]);
    let api: Router<Arc<App>> =
        services.iter().fold(Router::new(), |api, service| api.merge(Router::from(table(*service))));
    let limits = &app.config.limits;
    let permits = app.request_permits.clone();
    let tenants = serve::TenantSlots::new(limits.max_concurrent_requests_per_tenant);
    let api = serve::protect(
        api.fallback(api_not_found).layer(DefaultBodyLimit::max(max_body)),
        limits,
        &permits,
        &tenants,
        true,
    )
    .layer(middleware::from_fn_with_state(app.clone(), early_quota));
    // The bulk import streams for as long as its body lasts: no request timeout (each piece
    // within one instead), no body cap, and slots of its own, so uploads held open leave the
    // other requests theirs.
    let api = if services.contains(&Service::Item) {
        let streaming = Router::from(streaming()).layer(DefaultBodyLimit::disable());
        let importers = serve::TenantSlots::new(limits.max_concurrent_imports_per_tenant);
        api.merge(serve::protect(streaming, limits, &app.import_permits, &importers, false))
    } else {
        api
    };
    // The console is the all-in-one server's: in a split deployment it would need the gateway.
    let console = match service {
        None => Router::new()
            .route("/", get(console::index))
            .route("/console/app.js", get(console::script))
            .route("/console/app.css", get(console::style)),
        Some(_) => Router::new(),
    };
    Router::new()
        .merge(console)
        .merge(Router::from(ops()))
        .merge(
            // Swagger UI's validator badge would load an image of another origin: off.
            Router::from(
                SwaggerUi::new("/docs")
                    .url("/openapi.json", openapi())
                    .config(utoipa_swagger_ui::Config::default().validator_url("none")),
            )
            .layer(middleware::map_response(console::docs_headers)),
        )
        .merge(api)
        .layer(middleware::from_fn(observe))
        .with_state(app)
}

/// A tenant whose recommend or event quota is used up right now is refused (`429`) before its
/// body is read and parsed, and outside the request slots (this layer wraps `serve::protect`),
/// so a flood far past a quota costs the other tenants almost nothing. Every `429` of the API —
/// refused here, or inside (a batch larger than the tokens left, an analytics query past its
/// rate, too many requests in flight) — is held back `refusal_delay_ms` before it is sent, still
/// outside the slots (see [`hold_back`]). The tenant is admitted first, token and all, so only
/// its own callers see its quota refusals; admitted, the request carries [`error::Admitted`] and
/// the `Tenant` extractor does not check it again. Anything else (no token, an unknown tenant, a
/// bad header) is left to the `Tenant` extractor to answer.
async fn early_quota(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    // The routes with a scope of their own are the charged ones (one route table: `Scope`).
    let charge = match Scope::needed(request.method().as_str(), request.uri().path()) {
        Scope::Recommend => Some(Charge::Recommend),
        Scope::Events => Some(Charge::Events(1)),
        Scope::Read | Scope::Write => None,
    };
    if let Some(charge) = charge
        && let Some(tenant) = error::tenant_of(request.headers())
    {
        let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
        match app.refuse_if_spent(&tenant, authorization, charge).await {
            Ok(user) => {
                request.extensions_mut().insert(error::Admitted(tenant, user));
            }
            Err(error @ polyrec_core::Error::RateLimited { .. }) => {
                hold_back(&app).await;
                return ApiError::from(error).into_response();
            }
            Err(_) => {}
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        hold_back(&app).await;
    }
    response
}

/// Waits `refusal_delay_ms` while one of [`crate::config::MAX_HELD_REFUSALS`] slots is free (at
/// once otherwise): a client that asks again at once after a `429`, whatever `Retry-After` says,
/// is slowed to a few requests a second per connection instead of thousands.
async fn hold_back(app: &App) {
    let delay = std::time::Duration::from_millis(app.config.limits.refusal_delay_ms);
    if !delay.is_zero()
        && let Ok(_slot) = app.held_refusals.try_acquire()
    {
        metrics::counter!("polyrec_http_refusals_held_total").increment(1);
        tokio::time::sleep(delay).await;
    }
}

/// What a `polyrec worker` serves: liveness and its metrics (stream-job lag, warehouse inserts,
/// …), so workers are scraped like every service.
pub fn ops_router(app: Arc<App>) -> Router {
    prometheus();
    Router::new().route("/healthz", get(ops::healthz)).route("/metrics", get(ops::metrics)).with_state(app)
}

async fn api_not_found() -> ApiError {
    polyrec_core::Error::not_found("route (see /openapi.json for the API)").into()
}

const MAX_REQUEST_ID_LEN: usize = 128;

fn request_id_of(request: &Request) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// Bearer tokens are accepted as they are (verification comes with the tenant service); a
/// header of another form is refused, so clients find their mistake now, not when it is checked.
fn check_authorization(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(axum::http::header::AUTHORIZATION) else { return Ok(()) };
    let text = value.to_str().unwrap_or_default();
    match text.strip_prefix("Bearer ") {
        Some(token) if !token.trim().is_empty() => Ok(()),
        _ => {
            Err(ApiError::bad_request(Code::InvalidAuthorization, "the Authorization header must be `Bearer <token>`"))
        }
    }
}

async fn observe(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %request_id,
        tenant = tracing::field::Empty,
        scenario = tracing::field::Empty,
    );
    crate::telemetry::adopt_parent(&span, request.headers());
    let mut response = async {
        let response = match check_authorization(&request) {
            Ok(()) => next.run(request).await,
            Err(error) => error.into_response(),
        };
        let status = response.status();
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms, "request failed");
        } else if status.is_client_error() {
            tracing::info!(status = status.as_u16(), latency_ms, "request refused");
        } else {
            tracing::debug!(status = status.as_u16(), latency_ms, "request served");
        }
        response
    }
    .instrument(span)
    .await;
    let status = response.status();
    let labels = [("route", route), ("method", method.to_string()), ("status", status.as_u16().to_string())];
    metrics::counter!("polyrec_http_requests_total", &labels).increment(1);
    metrics::histogram!("polyrec_http_request_duration_seconds", &labels[..2]).record(started.elapsed().as_secs_f64());
    if status == StatusCode::METHOD_NOT_ALLOWED && response.headers().get("content-type").is_none() {
        let allow = response.headers().get(axum::http::header::ALLOW).cloned();
        response = (
            status,
            axum::Json(serde_json::json!({
                "code": Code::MethodNotAllowed,
                "message": "this route does not take that method; see /openapi.json",
            })),
        )
            .into_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(axum::http::header::ALLOW, allow);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
