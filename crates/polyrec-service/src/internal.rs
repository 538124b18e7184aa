//! The credential of the internal calls between the split services (ARCHITECTURE.md, "Internal
//! trust"): a short-lived service token — a JWT signed with HS256 by the deployment's internal key
//! (`services.internal_key`, `POLYREC_INTERNAL_KEY`) — naming the one tenant the call acts for.
//!
//! The caller (the recommendation service, acting for the tenant whose public request it serves)
//! mints a token per call; the callee checks its signature, issuer, audience and expiry, then
//! that the call's tenant is the token's: no credential is `UNAUTHENTICATED`, a credential for
//! another tenant `PERMISSION_DENIED`. A token is good for [`LIFETIME_SECONDS`], so one that
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
    iat: u64,
    exp: u64,
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

    /// A token for calls made for `tenant`, good for [`LIFETIME_SECONDS`] from now.
    pub fn mint(&self, tenant: &TenantId) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: ISSUER.to_owned(),
            tenant_id: tenant.to_string(),
            iat: now,
            exp: now + LIFETIME_SECONDS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of a serializable claim set cannot fail")
    }

    /// Checks the `authorization` metadata of an internal call (`Bearer <token>`) made for
    /// `tenant`: `401` without a valid token, `403` with one for another tenant.
    pub fn verify(&self, authorization: Option<&str>, tenant: &TenantId) -> Result<()> {
        let claimed = self.tenant_of(authorization)?;
        if claimed != tenant.as_str() {
            return Err(Error::forbidden(
                Code::TenantMismatch,
                format!("the service token is for tenant {claimed:?}, not {:?}", tenant.as_str()),
            ));
        }
        Ok(())
    }

    /// The tenant a valid service token is for (`401` when there is none or it is not valid).
    pub fn tenant_of(&self, authorization: Option<&str>) -> Result<String> {
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
        validation.set_audience(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::unauthorized(Code::TokenExpired, "the service token has expired")
                }
                _ => invalid(format!("the service token is not valid: {e}")),
            })?
            .claims;
        Ok(claims.tenant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn tenant(id: &str) -> TenantId {
        TenantId::parse(id).unwrap()
    }

    #[test]
    fn a_minted_token_opens_its_tenant_and_no_other() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let token = format!("Bearer {}", key.mint(&tenant("acme")));
        assert!(key.verify(Some(&token), &tenant("acme")).is_ok());
        assert_eq!(key.verify(Some(&token), &tenant("victim")).unwrap_err().code(), Code::TenantMismatch);
        assert_eq!(key.verify(None, &tenant("acme")).unwrap_err().code(), Code::MissingToken);
        assert_eq!(key.verify(Some("Basic x"), &tenant("acme")).unwrap_err().code(), Code::InvalidToken);
    }

    #[test]
    fn another_key_or_an_edge_token_is_not_an_internal_credential() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let other = InternalKey::new("ffffffffffffffffffffffffffffffff", "").unwrap();
        let forged = format!("Bearer {}", other.mint(&tenant("acme")));
        assert_eq!(key.verify(Some(&forged), &tenant("acme")).unwrap_err().code(), Code::InvalidToken);
        // Signed with the internal key but not issued as an internal token (a public token's claims).
        let edge = serde_json::json!({"tenant_id": "acme", "exp": jsonwebtoken::get_current_timestamp() + 60});
        let edge =
            jsonwebtoken::encode(&Header::default(), &edge, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
        assert_eq!(
            key.verify(Some(&format!("Bearer {edge}")), &tenant("acme")).unwrap_err().code(),
            Code::InvalidToken
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let key = InternalKey::new(SECRET, "").unwrap();
        let past = jsonwebtoken::get_current_timestamp() - LIFETIME_SECONDS - LEEWAY_SECONDS - 1;
        let claims =
            Claims { iss: ISSUER.into(), aud: ISSUER.into(), tenant_id: "acme".into(), iat: past, exp: past + 1 };
        let token = jsonwebtoken::encode(&Header::default(), &claims, &key.encoding).unwrap();
        assert_eq!(
            key.verify(Some(&format!("Bearer {token}")), &tenant("acme")).unwrap_err().code(),
            Code::TokenExpired
        );
    }

    #[test]
    fn a_short_key_or_the_public_secret_is_refused() {
        assert!(InternalKey::new("short", "").unwrap_err().to_string().contains("openssl rand"));
        assert!(InternalKey::new(SECRET, SECRET).unwrap_err().to_string().contains("differ"));
    }
}
