//! Every stable, machine-readable error code of the API, once: its text (what `ErrorBody.code`
//! and the gRPC `polyrec-code` metadata carry), its HTTP status and its gRPC status code. This is
//! the only place an error code is written; the transports read the status from here.

use serde::{Serialize, Serializer};

/// What kind of error a code is: who must act, and so which [`crate::Error`] variant carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The caller's request is malformed or breaks a rule.
    Invalid,
    NotFound,
    Conflict,
    Unauthorized,
    Forbidden,
    RateLimited,
    Unavailable,
    Internal,
}

/// gRPC status codes (the numbers of `google.rpc.Code`), without a gRPC dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum GrpcCode {
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal, $kind:ident, $http:literal;)*) => {
        /// A stable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order written here.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as the API writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            /// Who must act.
            pub const fn kind(self) -> Kind {
                match self {
                    $(Code::$variant => Kind::$kind,)*
                }
            }

            /// The HTTP status it is answered with.
            pub const fn http_status(self) -> u16 {
                match self {
                    $(Code::$variant => $http,)*
                }
            }
        }
    };
}

codes! {
    // The request's framing: headers, body, query string.
    /// `X-Tenant-Id` is missing.
    MissingTenant = "missing_tenant", Invalid, 400;
    /// `X-User-Id` is missing.
    MissingUserId = "missing_user_id", Invalid, 400;
    /// A header is not visible ASCII.
    InvalidHeader = "invalid_header", Invalid, 400;
    /// `Authorization` is not `Bearer <token>`.
    InvalidAuthorization = "invalid_authorization", Invalid, 400;
    /// The body is not JSON.
    MalformedJson = "malformed_json", Invalid, 400;
    /// The body could not be read.
    UnreadableBody = "unreadable_body", Invalid, 400;
    /// An unknown query parameter, or one of the wrong type.
    InvalidQuery = "invalid_query", Invalid, 400;
    /// A streamed body broke off before its end (bulk import).
    BodyReadFailed = "body_read_failed", Invalid, 422;
    /// The body is larger than `max_body_bytes`.
    BodyTooLarge = "body_too_large", Invalid, 413;
    /// The body is not sent as JSON.
    UnsupportedMediaType = "unsupported_media_type", Invalid, 415;
    /// The route exists, the method does not.
    MethodNotAllowed = "method_not_allowed", Invalid, 405;

    // Ids.
    InvalidTenantId = "invalid_tenant_id", Invalid, 422;
    InvalidScenarioId = "invalid_scenario_id", Invalid, 422;
    InvalidItemId = "invalid_item_id", Invalid, 422;
    InvalidUserId = "invalid_user_id", Invalid, 422;

    // Bodies and parameters that break a rule.
    /// The body does not fit its type (a wrong type, an unknown field).
    InvalidBody = "invalid_body", Invalid, 422;
    /// A gRPC message's JSON field is not JSON.
    InvalidJson = "invalid_json", Invalid, 422;
    /// A scenario config fails validation (with each problem's path).
    InvalidConfig = "invalid_config", Invalid, 422;
    /// An experiment fails validation (with each problem's path).
    InvalidExperiment = "invalid_experiment", Invalid, 422;
    InvalidItem = "invalid_item", Invalid, 422;
    InvalidStatus = "invalid_status", Invalid, 422;
    InvalidEvent = "invalid_event", Invalid, 422;
    InvalidContext = "invalid_context", Invalid, 422;
    InvalidIds = "invalid_ids", Invalid, 422;
    InvalidCount = "invalid_count", Invalid, 422;
    InvalidCursor = "invalid_cursor", Invalid, 422;
    InvalidLimit = "invalid_limit", Invalid, 422;
    InvalidN = "invalid_n", Invalid, 422;
    InvalidFilter = "invalid_filter", Invalid, 422;
    InvalidSteps = "invalid_steps", Invalid, 422;
    InvalidTime = "invalid_time", Invalid, 422;
    InvalidTimestamp = "invalid_timestamp", Invalid, 422;
    InvalidTimeRange = "invalid_time_range", Invalid, 422;
    InvalidWindow = "invalid_window", Invalid, 422;
    InvalidTrigger = "invalid_trigger", Invalid, 422;
    InvalidGroups = "invalid_groups", Invalid, 422;
    /// A bulk import line is over the line limit.
    LineTooLong = "line_too_long", Invalid, 422;
    InvalidExperimentId = "invalid_experiment_id", Invalid, 422;
    InvalidScenarioType = "invalid_scenario_type", Invalid, 422;
    /// A body's `scenario_id` is not the path's.
    ScenarioIdMismatch = "scenario_id_mismatch", Invalid, 422;
    InvalidEventType = "invalid_event_type", Invalid, 422;
    InvalidRequestId = "invalid_request_id", Invalid, 422;
    /// A client `event_id` that is not 1–128 letters, digits, `-`, `_` or `.`.
    InvalidEventId = "invalid_event_id", Invalid, 422;
    InvalidValue = "invalid_value", Invalid, 422;
    InvalidJob = "invalid_job", Invalid, 422;
    BatchTooLarge = "batch_too_large", Invalid, 422;
    TooManyExclusions = "too_many_exclusions", Invalid, 422;
    TooManyFilters = "too_many_filters", Invalid, 422;
    UnknownMetric = "unknown_metric", Invalid, 422;
    UnknownDimension = "unknown_dimension", Invalid, 422;
    InvalidGroupId = "invalid_group_id", Invalid, 422;
    InvalidVectors = "invalid_vectors", Invalid, 422;
    UnknownEventType = "unknown_event_type", Invalid, 422;
    UnknownInterval = "unknown_interval", Invalid, 422;
    UnknownModel = "unknown_model", Invalid, 422;
    /// An event of a batch names a scenario the tenant does not have.
    UnknownScenario = "unknown_scenario", Invalid, 422;
    EmptyImport = "empty_import", Invalid, 422;
    MixedTenants = "mixed_tenants", Invalid, 422;
    DuplicateModel = "duplicate_model", Invalid, 422;
    ModelNotInBuild = "model_not_in_build", Invalid, 422;
    ModelNotTrainable = "model_not_trainable", Invalid, 422;
    /// A storage URL of the config is not one this build reads.
    BadBackendUrl = "bad_backend_url", Invalid, 422;

    NotFound = "not_found", NotFound, 404;

    // The state of what exists.
    ScenarioExists = "scenario_exists", Conflict, 409;
    ItemExists = "item_exists", Conflict, 409;
    ExperimentExists = "experiment_exists", Conflict, 409;
    ModelVersionExists = "model_version_exists", Conflict, 409;
    VersionConflict = "version_conflict", Conflict, 409;
    ScenarioInactive = "scenario_inactive", Conflict, 409;
    ExperimentRunning = "experiment_running", Conflict, 409;
    ExperimentAlreadyRunning = "experiment_already_running", Conflict, 409;
    ExperimentNotRunning = "experiment_not_running", Conflict, 409;
    ExperimentEnded = "experiment_ended", Conflict, 409;
    NoPreviousVersion = "no_previous_version", Conflict, 409;
    ArtifactMissing = "artifact_missing", Conflict, 409;
    NoTrainingData = "no_training_data", Conflict, 409;
    /// A precompute job for a scenario whose result cache is off.
    CacheDisabled = "cache_disabled", Conflict, 409;
    ItemNotInCatalog = "item_not_in_catalog", Conflict, 409;
    /// An event with this client `event_id` is being stored by another request: retry shortly.
    EventInFlight = "event_in_flight", Conflict, 409;

    // Who the caller is and what it may do.
    MissingToken = "missing_token", Unauthorized, 401;
    InvalidToken = "invalid_token", Unauthorized, 401;
    TokenExpired = "token_expired", Unauthorized, 401;
    TenantMismatch = "tenant_mismatch", Forbidden, 403;
    /// An internal service token that only reads, on a method that changes data.
    ReadOnlyToken = "read_only_token", Forbidden, 403;
    /// A bearer token whose `scope` claim does not grant what the request does.
    InsufficientScope = "insufficient_scope", Forbidden, 403;
    /// A bearer token bound to one user (its user claim) used for another user.
    UserMismatch = "user_mismatch", Forbidden, 403;
    UnknownTenant = "unknown_tenant", Forbidden, 403;
    TenantSuspended = "tenant_suspended", Forbidden, 403;
    TenantStatusUnknown = "tenant_status_unknown", Forbidden, 403;
    QuotaExceeded = "quota_exceeded", Forbidden, 403;

    // Load.
    RateLimited = "rate_limited", RateLimited, 429;
    /// The tenant has `max_concurrent_requests_per_tenant` requests in flight.
    TooManyInFlight = "too_many_in_flight", RateLimited, 429;
    /// The tenant has `max_unfinished_jobs_per_tenant` jobs queued or running.
    TooManyJobs = "too_many_jobs", RateLimited, 429;
    Unavailable = "unavailable", Unavailable, 503;
    /// The process has `max_concurrent_requests` in flight.
    Overloaded = "overloaded", Unavailable, 503;
    /// The request took longer than `request_timeout_ms`.
    Timeout = "timeout", Unavailable, 503;

    Internal = "internal", Internal, 500;
}

impl Code {
    /// The code `text` names, if any.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|code| code.as_str() == text)
    }

    /// The gRPC status code it is answered with.
    pub const fn grpc(self) -> GrpcCode {
        match self {
            Code::Timeout => GrpcCode::DeadlineExceeded,
            Code::MethodNotAllowed => GrpcCode::Unimplemented,
            _ => match self.kind() {
                Kind::Invalid => GrpcCode::InvalidArgument,
                Kind::NotFound => GrpcCode::NotFound,
                Kind::Conflict => GrpcCode::FailedPrecondition,
                Kind::Unauthorized => GrpcCode::Unauthenticated,
                Kind::Forbidden => GrpcCode::PermissionDenied,
                Kind::RateLimited => GrpcCode::ResourceExhausted,
                Kind::Unavailable => GrpcCode::Unavailable,
                Kind::Internal => GrpcCode::Internal,
            },
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the text a client sees (what tests of the wire contract assert).
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<Code> for String {
    fn from(code: Code) -> String {
        code.as_str().to_owned()
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_once_in_snake_case_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
        assert_eq!(Code::parse("no_such_code"), None);
    }

    #[test]
    fn each_kind_answers_its_status_class() {
        for code in Code::ALL {
            let status = code.http_status();
            let expected = match code.kind() {
                Kind::Invalid => (400..500).contains(&status) && ![401, 403, 404, 409, 429].contains(&status),
                Kind::NotFound => status == 404,
                Kind::Conflict => status == 409,
                Kind::Unauthorized => status == 401,
                Kind::Forbidden => status == 403,
                Kind::RateLimited => status == 429,
                Kind::Unavailable => status == 503,
                Kind::Internal => status == 500,
            };
            assert!(expected, "{code}: {status} does not fit {:?}", code.kind());
        }
    }
}
