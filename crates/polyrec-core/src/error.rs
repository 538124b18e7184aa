//! The one error type of polyrec, grouped by who must act: the caller (bad input, not found,
//! conflict, unauthorized, forbidden, rate limited), the operator (unavailable) or the
//! developers (internal). Each carries a [`Code`], which says its HTTP and gRPC status.

use serde::Serialize;

use crate::code::{Code, Kind};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem at one place of a JSON document, e.g. `config.recall.strategies[1].limit`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or breaks a rule; `code` says which, `message` how to fix it.
    #[error("{message}")]
    InvalidInput { code: Code, message: String },
    /// A document failed validation; every problem is listed with its JSON path.
    #[error("{message}")]
    Validation { code: Code, message: String, errors: Vec<FieldError> },
    /// The thing does not exist for this tenant (another tenant's data is also "not found").
    #[error("{what} not found")]
    NotFound { what: String },
    /// The thing exists already, or was changed concurrently.
    #[error("{message}")]
    Conflict { code: Code, message: String },
    /// The caller did not prove who it is: no token, a forged one or an expired one.
    #[error("{message}")]
    Unauthorized { code: Code, message: String },
    /// The caller is known but may not do this (another tenant's token, a suspended tenant).
    #[error("{message}")]
    Forbidden { code: Code, message: String },
    /// The tenant's quota is used up for now; try again after `retry_after_seconds`.
    #[error("{message}")]
    RateLimited { code: Code, message: String, retry_after_seconds: u32 },
    /// A dependency is down or overloaded; try again later.
    #[error("{message}")]
    Unavailable { code: Code, message: String, retry_after_seconds: u32 },
    /// A bug or a broken invariant; the message is technical.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        Self::InvalidInput { code, message: message.into() }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::Internal(message.to_string())
    }

    pub fn unauthorized(code: Code, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }

    pub fn forbidden(code: Code, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable { code: Code::Unavailable, message: message.into(), retry_after_seconds: 1 }
    }

    /// The error `code` names, with `message`: what a client rebuilds from a remote answer.
    pub fn from_code(code: Code, message: impl Into<String>) -> Self {
        let message = message.into();
        match code.kind() {
            Kind::Invalid => Self::InvalidInput { code, message },
            Kind::NotFound => Self::NotFound { what: message },
            Kind::Conflict => Self::Conflict { code, message },
            Kind::Unauthorized => Self::Unauthorized { code, message },
            Kind::Forbidden => Self::Forbidden { code, message },
            Kind::RateLimited => Self::RateLimited { code, message, retry_after_seconds: 1 },
            Kind::Unavailable => Self::Unavailable { code, message, retry_after_seconds: 1 },
            Kind::Internal => Self::Internal(message),
        }
    }

    /// The stable machine-readable code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidInput { code, .. }
            | Error::Validation { code, .. }
            | Error::Conflict { code, .. }
            | Error::Unauthorized { code, .. }
            | Error::Forbidden { code, .. }
            | Error::RateLimited { code, .. }
            | Error::Unavailable { code, .. } => *code,
            Error::NotFound { .. } => Code::NotFound,
            Error::Internal(_) => Code::Internal,
        }
    }
}
