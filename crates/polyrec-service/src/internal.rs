//! The credential of the internal calls between the split services (ARCHITECTURE.md, "Internal
//! trust"): a short-lived service token — a JWT signed with HS256 by the deployment's internal key
//! (`services.internal_key`, `POLYREC_INTERNAL_KEY`) — naming the one tenant the call acts for.
//!
//! The caller (the recommendation service, acting for the tenant whose public request it serves)
//! mints a token per call, for one service and one [`Access`]; the callee checks its signature,
//! issuer, audience (`polyrec-internal:{service}`: a token for the item service opens no other)
//! and expiry, then that the call's tenant is the token's and that the token grants what the
//! method does: no credential is `UNAUTHENTICATED`; a credential for another tenant, for
//! another service, or a read token on a method that writes is `PERMISSION_DENIED`. The
//! recommendation service only ever mints read tokens. A token is good for [`LIFETIME_SECONDS`], so one that
//! leaks (a log, a captured packet) opens one tenant for a minute, not the deployment for ever.
//!
//! The internal key is not the public edge's `auth.hs256_secret` (the two must differ), and the
//! token's issuer and audience are [`ISSUER`]: a tenant's public token is never an internal one.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use polyrec_core::{Code, Error, Result, TenantId};
use serde::{Deserialize, Serialize};

/// The issuer and audience of every internal token.
pub const ISSUER: &str = "polyrec-internal";
/// How long a minted token is good for.
pub const LIFETIME_SECONDS: u64 = 60;
/// The shortest internal key taken: 256 bits, HS256's own strength.
pub const MIN_KEY_BYTES: usize = 32;
/// The clock skew between two processes that a token's expiry allows for.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    tenant_id: String,
    /// Whether the token may call methods that change data.
    #[serde(default)]
    write: bool,
    iat: u64,
    exp: u64,
}

/// What an internal call does: reads, or changes data (create, replace, delete, import, track,
/// train, activate, roll back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A service token's audience: the one service it opens.
fn audience(service: &str) -> String {
    format!("{ISSUER}:{service}")
}

/// The answer to an internal call without a credential.
pub fn missing() -> Error {
    Error::unauthorized(Code::MissingToken, "internal calls need `authorization: Bearer <service token>`")
}

/// The deployment's internal key: mints and verifies service tokens.
#[derive(Clone)]
pub struct InternalKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalKey(..)")
    }
}

impl InternalKey {
    /// The key from its secret; refused when shorter than [`MIN_KEY_BYTES`] or equal to the
    /// public edge's HS256 secret (`public_secret`), which would let a tenant's token in.
    pub fn new(secret: &str, public_secret: &str) -> anyhow::Result<Self> {
        if secret.len() < MIN_KEY_BYTES {
            anyhow::bail!(
                "services.internal_key (POLYREC_INTERNAL_KEY) must be at least {MIN_KEY_BYTES} bytes, not {}; \
                 make one with `openssl rand -hex 32`",
                secret.len()
            );
        }
        if secret == public_secret {
            anyhow::bail!(
                "services.internal_key must differ from auth.hs256_secret: a tenant holding a public token \
                 would otherwise sign internal ones"
            );
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        })
    }

    /// A token for calls to `service` made for `tenant` with `access`, good for
    /// [`LIFETIME_SECONDS`] from now.
    pub fn mint(&self, tenant: &TenantId, service: &str, access: Access) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: audience(service),
            tenant_id: tenant.to_string(),
            write: access == Access::Write,
            iat: now,
            exp: now + LIFETIME_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of a serializable claim set cannot fail")
    }

    /// Checks the `authorization` metadata of an internal call to `service` (`Bearer <token>`)
    /// made for `tenant` with `access`: `401` without a valid token for this service, `403` with
    /// one for another tenant or one that only reads on a method that writes.
    pub fn verify(&self, authorization: Option<&str>, service: &str, tenant: &TenantId, access: Access) -> Result<()> {
        let claims = self.claims(authorization, service)?;
        if claims.tenant_id != tenant.as_str() {
            return Err(Error::forbidden(
                Code::TenantMismatch,
                format!("the service token is for tenant {:?}, not {:?}", claims.tenant_id, tenant.as_str()),
            ));
        }
        if access == Access::Write && !claims.write {
            return Err(Error::forbidden(
                Code::ReadOnlyToken,
                "the service token only reads; this method changes data",
            ));
        }
        Ok(())
    }

    /// Checks that `authorization` is a valid token for `service`, whatever it opens.
    pub fn authenticate(&self, authorization: Option<&str>, service: &str) -> Result<()> {
        self.claims(authorization, service).map(|_| ())
    }

    fn claims(&self, authorization: Option<&str>, service: &str) -> Result<Claims> {
        let invalid = |message: String| Error::unauthorized(Code::InvalidToken, message);
        let header = authorization.ok_or_else(missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the authorization metadata must be `Bearer <service token>`".to_owned()))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience(service)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map(|data| data.claims).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Error::unauthorized(Code::TokenExpired, "the service token has expired")
            }
            jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                invalid(format!("the service token is not for the {service} service"))
            }
            _ => invalid(format!("the service token is not valid: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    fn bearer(token: String) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn a_minted_token_opens_its_tenant_service_and_access_and_nothing_else() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let read = bearer(key.mint(&tenant("acme"), "item", Access::Read));
        let code = |auth: Option<&str>, service, who, access| {
            key.verify(auth, service, &tenant(who), access).err().map(|e| e.code())
        };
        assert_eq!(code(Some(&read), "item", "acme", Access::Read), None);
        assert_eq!(code(Some(&read), "item", "victim", Access::Read), Some(Code::TenantMismatch));
        assert_eq!(code(Some(&read), "item", "acme", Access::Write), Some(Code::ReadOnlyToken), "read only");
        assert_eq!(code(Some(&read), "scenario", "acme", Access::Read), Some(Code::InvalidToken), "another service");
        let write = bearer(key.mint(&tenant("acme"), "item", Access::Write));
        assert_eq!(code(Some(&write), "item", "acme", Access::Write), None);
        assert_eq!(code(None, "item", "acme", Access::Read), Some(Code::MissingToken));
        assert_eq!(code(Some("Basic x"), "item", "acme", Access::Read), Some(Code::InvalidToken));
    }

    #[test]
    fn another_key_or_an_edge_token_is_not_an_internal_credential() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let other = InternalKey::new("ffffffffffffffffffffffffffffffff", "").unwrap();
        let forged = bearer(other.mint(&tenant("acme"), "item", Access::Write));
        let refused = key.verify(Some(&forged), "item", &tenant("acme"), Access::Read).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidToken);
        // Signed with the internal key but not issued as an internal token (a public token's claims).
        let edge = serde_json::json!({"tenant_id": "acme", "exp": jsonwebtoken::get_current_timestamp() + 60});
        let edge =
            jsonwebtoken::encode(&Header::default(), &edge, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
        let refused = key.verify(Some(&bearer(edge)), "item", &tenant("acme"), Access::Read).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidToken);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let past = jsonwebtoken::get_current_timestamp() - LIFETIME_SECONDS - LEEWAY_SECONDS - 1;
        let claims = Claims {
            iss: ISSUER.into(),
            aud: audience("item"),
            tenant_id: "acme".into(),
            write: true,
            iat: past,
            exp: past + 1,
        };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &key.encoding).unwrap();
        let refused = key.verify(Some(&bearer(token)), "item", &tenant("acme"), Access::Read).unwrap_err();
        assert_eq!(refused.code(), Code::TokenExpired);
    }

    #[test]
    fn a_short_key_or_the_public_secret_is_refused() {
        assert!(InternalKey::new("short", "").unwrap_err().to_string().contains("openssl rand"));
        assert!(InternalKey::new(SECRET, SECRET).unwrap_err().to_string().contains("differ"));
    }
}
