//! The one place errors become HTTP: the status is the error's [`Code`]'s, the JSON body
//! `{code, message, errors?}` carries the code's stable text. Also the
//! extractors whose failures must come out in that same shape: the gateway headers and JSON
//! bodies.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use polyrec_core::Code;
use std::sync::Arc;

use polyrec_core::{Error, FieldError, TenantId, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::App;
use crate::tenancy::{Credential, Scope, check_user};

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: e.g. `missing_tenant`, `invalid_config`, `not_found`.
    pub code: String,
    /// What went wrong and what to do about it.
    pub message: String,
    /// For validation errors: each problem with its JSON path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// An error on its way out, with the status it gets.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: Error,
}

impl ApiError {
    /// A problem with the request's headers or framing: always 400, whatever the code says (an
    /// id that is 422 in a path or body is 400 in a header).
    pub fn bad_request(code: Code, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: Error::invalid(code, message) }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = StatusCode::from_u16(error.code().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, error }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (message, errors) = match &self.error {
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ("internal error; it has been logged with this request's id".to_owned(), None)
            }
            Error::Validation { message, errors, .. } => (message.clone(), Some(errors.clone())),
            other => (other.to_string(), None),
        };
        let body = ErrorBody { code: self.error.code().into(), message, errors };
        let mut response = (self.status, axum::Json(body)).into_response();
        match self.error {
            Error::Unavailable { retry_after_seconds, .. } | Error::RateLimited { retry_after_seconds, .. } => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            }
            Error::Unauthorized { .. } => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // RFC 6750 §3.1.
            Error::Forbidden { code: Code::InsufficientScope, .. } => {
                let challenge = HeaderValue::from_static("Bearer error=\"insufficient_scope\"");
                response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            }
            _ => {}
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The request's tenant, when `X-Tenant-Id` is a valid id: for the layers that act per tenant
/// before the [`Tenant`] extractor, which answers a missing or malformed header.
pub fn tenant_of(headers: &axum::http::HeaderMap) -> Option<TenantId> {
    TenantId::parse(headers.get("x-tenant-id")?.to_str().ok()?).ok()
}

/// A JSON body whose every failure is an [`ErrorBody`]: malformed JSON 400, wrong types or
/// unknown fields 422 (serde's message names the field), too large 413, not JSON 415.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    /// The body is read and checked as JSON first (raw: no tree of values is built), then it must
    /// be an object — every body of the API is — and only then is it parsed into `T`: serde's
    /// derives would otherwise take a JSON array for a struct, field by field.
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let raw = match axum::Json::<Box<serde_json::value::RawValue>>::from_request(req, state).await {
            Ok(axum::Json(raw)) => raw,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        if !raw.get().trim_start().starts_with('{') {
            return Err(Error::invalid(Code::InvalidBody, "the body must be a JSON object").into());
        }
        polyrec_core::limits::from_json_str(raw.get())
            .map(ApiJson)
            .map_err(|e| Error::invalid(Code::InvalidBody, format!("the body does not fit: {e}")).into())
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => Error::invalid(Code::InvalidBody, e.body_text()).into(),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(Code::MalformedJson, e.body_text()),
        JsonRejection::MissingJsonContentType(_) => {
            Error::invalid(Code::UnsupportedMediaType, "send the body as JSON with `Content-Type: application/json`")
                .into()
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Error::invalid(
            Code::BodyTooLarge,
            "the body is larger than the server's limit (max_body_bytes); split it into smaller requests",
        )
        .into(),
        other => ApiError::bad_request(Code::UnreadableBody, other.body_text()),
    }
}

/// A query string whose failures are an [`ErrorBody`]: an unknown parameter or a wrong type is a
/// 400 `invalid_query` naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::bad_request(Code::InvalidQuery, rejection.body_text())),
        }
    }
}

fn header_text<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, ApiError> {
    match parts.headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::bad_request(Code::InvalidHeader, format!("header {name} is not visible ASCII"))),
    }
}

/// `X-Tenant-Id`, required on every `/api/v1` route, and admitted: its bearer token verified
/// (when tokens are checked) and the tenant active (`Tenancy::admit`).
pub struct Tenant(pub TenantId);

impl FromRequestParts<Arc<App>> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        Ok(Tenant(Caller::from_request_parts(parts, app).await?.tenant))
    }
}

/// The admitted caller, as [`Tenant`], and the user its token is bound to, if it is
/// (`auth.user_claim`): for the handlers that check each event's user against it. Whatever the
/// route, a bound token's `X-User-Id` and a `/users/{user_id}/` path must name its user.
pub struct Caller {
    pub tenant: TenantId,
    pub user: Option<UserId>,
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let value = header_text(parts, "x-tenant-id")?
            .ok_or_else(|| ApiError::bad_request(Code::MissingTenant, "the X-Tenant-Id header is required"))?;
        let tenant =
            TenantId::parse(value.trim()).map_err(|e| ApiError::bad_request(Code::InvalidTenantId, e.to_string()))?;
        tracing::Span::current().record("tenant", tenant.as_str());
        let authorization = header_text(parts, "authorization")?;
        // Admitted already by the early quota check (the same `admit`), or admitted here.
        let user = match parts.extensions.get::<Admitted>() {
            Some(Admitted(admitted, user)) if *admitted == tenant => user.clone(),
            _ => {
                let scope = Scope::needed(parts.method.as_str(), parts.uri.path());
                app.tenancy.admit(&tenant, Credential::Bearer { authorization, scope }, app.now_ms()).await?.user
            }
        };
        if let Some(bound) = &user {
            if let Some(value) = header_text(parts, "x-user-id")?
                && let Ok(asked) = UserId::parse(value.trim())
            {
                check_user(Some(bound), &asked)?;
            }
            if let Some(asked) = path_user(parts.uri.path()) {
                // A path naming no valid user is the route's own 400 or 404.
                if let Ok(asked) = UserId::parse(&asked) {
                    check_user(Some(bound), &asked)?;
                }
            }
        }
        Ok(Caller { tenant, user })
    }
}

/// The `{user_id}` of a `/api/v1/scenarios/{scenario_id}/users/{user_id}/…` path,
/// percent-decoded. By position, as the router reads it: a scenario or user named `users` does
/// not shift it.
fn path_user(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "api", "v1", "scenarios", _, "users", user, ..] => {
            Some(percent_encoding::percent_decode_str(user).decode_utf8_lossy().into_owned())
        }
        _ => None,
    }
}

/// A request's tenant, admitted (`Tenancy::admit`) by a layer in front of the handler, and the
/// user its token is bound to; only the server's own layers insert it (a client cannot set a
/// request's extensions).
#[derive(Clone)]
pub struct Admitted(pub TenantId, pub Option<UserId>);

/// `X-User-Id`, required by recommend.
pub struct User(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = header_text(parts, "x-user-id")?
            .ok_or_else(|| ApiError::bad_request(Code::MissingUserId, "the X-User-Id header is required"))?;
        let user =
            UserId::parse(value.trim()).map_err(|e| ApiError::bad_request(Code::InvalidUserId, e.to_string()))?;
        Ok(User(user))
    }
}

/// The request id the middleware settled on (from `X-Request-Id`, or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestId>().cloned().unwrap_or_else(|| RequestId(new_request_id())))
    }
}

pub fn new_request_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::path_user;

    #[test]
    fn the_user_of_a_path_is_read_where_the_router_reads_it() {
        let user = |path: &str| path_user(path);
        assert_eq!(user("/api/v1/scenarios/s/users/u2/profile").as_deref(), Some("u2"));
        assert_eq!(user("/api/v1/scenarios/s/users/u%32/profile").as_deref(), Some("u2"));
        // A scenario named `users`: the user is still the segment after the second `users`.
        assert_eq!(user("/api/v1/scenarios/users/users/u2/profile").as_deref(), Some("u2"));
        assert_eq!(user("/api/v1/scenarios/users/items"), None);
        assert_eq!(user("/api/v1/recommend"), None);
    }
}
