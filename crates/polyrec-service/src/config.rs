//! Server configuration: defaults, overridden by a TOML file (`--config`), overridden by flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use polyrec_storage::StorageConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTP listener.
    pub listen: SocketAddr,
    /// Where the embedded stores keep their files.
    pub data_dir: PathBuf,
    /// Largest JSON body accepted, in bytes (bulk NDJSON imports stream and are not capped).
    pub max_body_bytes: usize,
    /// Largest `POST /api/v1/behaviors/batch`, in events.
    pub max_batch_events: usize,
    /// How often the collaborative-filtering job retrains scenarios with new events.
    pub cf_interval_seconds: u64,
    /// How far back collaborative filtering looks, in days of event time.
    pub cf_window_days: u64,
    /// The job queue's lease: a running job whose worker has not renewed it for this long is
    /// claimed again by another worker (or failed after its last attempt).
    pub job_lease_seconds: u64,
    /// How often each scenario's user profiles are recomputed from the warehouse (the SPEC's
    /// offline profile update), in hours; 0 never.
    pub profile_recompute_hours: u64,
    /// How long the event bus keeps events (once every durable job has them).
    pub event_retention_days: u64,
    /// Where each store lives: embedded under `data_dir` unless a URL names a server.
    pub storage: StorageConfig,
    /// Bearer-token verification (off when no key is configured).
    pub auth: AuthConfig,
    /// Where tenant and user information comes from, and the tenant registry.
    pub tenancy: TenancyConfig,
    /// The split deployment: where each service listens and where the others are reached.
    pub services: ServicesConfig,
    /// What keeps one caller from exhausting the process: timeouts, concurrency, training.
    pub limits: LimitsConfig,
}

/// Server protection (both servers, HTTP and gRPC): a request that takes longer than
/// `request_timeout_ms` is answered `503 timeout`; past `max_concurrent_requests` in flight a
/// request is shed at once with `503 overloaded` and `Retry-After: 1` rather than queued, so
/// latency and memory stay bounded under any load; a client that has not sent its headers within
/// `header_read_timeout_ms` is disconnected. Bulk imports stream and have no request timeout, but
/// each piece of one must arrive within `request_timeout_ms` of the last, and they have slots
/// of their own (`max_concurrent_imports`, per tenant `max_concurrent_imports_per_tenant`), so
/// uploads held open cannot take the other requests' slots.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub max_concurrent_requests: usize,
    /// Of those, at most this many of one tenant (by `X-Tenant-Id`); past it the tenant gets
    /// `429 too_many_in_flight`, so one tenant cannot take every slot from the others.
    pub max_concurrent_requests_per_tenant: usize,
    /// Bulk imports (`POST …/items/bulk`) streaming at once in this process, apart from
    /// `max_concurrent_requests` (past it `503 overloaded`) …
    pub max_concurrent_imports: usize,
    /// … and of those, at most this many of one tenant (past it `429 too_many_in_flight`).
    pub max_concurrent_imports_per_tenant: usize,
    /// Training jobs that run at once in this process (others wait, `queued`).
    pub max_concurrent_trainings: usize,
    /// The catalog and index builds and model loads one tenant's item writes, API calls and
    /// requests cause, running at once in this process; more wait their turn, so one tenant cannot take every core. See
    /// [`crate::blocking`].
    pub max_blocking_tasks_per_tenant: usize,
    /// Jobs one tenant may have queued or running at once (all processes); past it a request
    /// for another is refused (`429 too_many_jobs`, `Retry-After`), so one tenant's burst
    /// cannot push every other tenant's jobs back in the shared queue. 0: no cap.
    pub max_unfinished_jobs_per_tenant: usize,
    /// Jobs of one tenant running at once (all processes): the queue claims another tenant's
    /// job before a tenant's next one, so one tenant's queue never holds every training slot.
    /// 0: no cap.
    pub max_running_jobs_per_tenant: usize,
    /// How long a training job's hyperparameter search may take per recall model (the defaults
    /// are always tried; past the budget the remaining candidates are skipped); 0 fits the
    /// defaults without a search.
    pub tuning_budget_seconds: u64,
    /// A request refused for its tenant's rate (`429`) is answered after this long, outside the
    /// request slots (at most [`MAX_HELD_REFUSALS`] at once; past that, at once): a client that
    /// ignores `Retry-After` and asks again at once then gets a few answers a second per
    /// connection instead of thousands, and its refusals stop costing the other tenants CPU.
    pub refusal_delay_ms: u64,
}

/// Refusals held back at once, process-wide (`refusal_delay_ms`).
pub const MAX_HELD_REFUSALS: usize = 4_096;

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 10_000,
            max_concurrent_requests: 1_024,
            max_concurrent_requests_per_tenant: 256,
            max_concurrent_imports: 16,
            max_concurrent_imports_per_tenant: 2,
            max_concurrent_trainings: 2,
            max_blocking_tasks_per_tenant: 1,
            max_unfinished_jobs_per_tenant: 8,
            max_running_jobs_per_tenant: 1,
            tuning_budget_seconds: 120,
            refusal_delay_ms: 250,
        }
    }
}

/// The split deployment (`polyrec serve --service NAME`, SPEC §3.1). Each service's HTTP and
/// gRPC addresses default to the specification's ports; the recommendation service reaches the
/// scenario, item, feature and model services at the `*_url`s (`POLYREC_SCENARIO_SERVICE_URL`,
/// `POLYREC_ITEM_SERVICE_URL`, `POLYREC_FEATURE_SERVICE_URL`, `POLYREC_MODEL_SERVICE_URL`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServicesConfig {
    /// The gRPC listener of a split service; default `127.0.0.1:` the SPEC port (9001–9007),
    /// reachable from this host only: a deployment names the pod or host address it serves on.
    pub grpc_listen: Option<SocketAddr>,
    /// The secret that signs and checks the service tokens of internal calls (`polyrec_service::
    /// internal`); every split service needs it (at least 32 bytes, not `auth.hs256_secret`).
    /// `POLYREC_INTERNAL_KEY` overrides it.
    pub internal_key: String,
    pub scenario_url: String,
    pub item_url: String,
    pub feature_url: String,
    pub model_url: String,
    /// Each call's deadline, in ms.
    pub timeout_ms: u64,
    /// Retries of an idempotent call that failed for want of an answer, with exponential
    /// backoff from `backoff_ms`.
    pub retries: u32,
    pub backoff_ms: u64,
    /// How often (ms) a split recommendation service asks whether another process changed a
    /// scenario's catalog or serving models; 0 asks on every request.
    pub follow_ms: u64,
}

impl Default for ServicesConfig {
    fn default() -> Self {
        Self {
            grpc_listen: None,
            internal_key: String::new(),
            scenario_url: "http://127.0.0.1:9001".to_owned(),
            item_url: "http://127.0.0.1:9002".to_owned(),
            feature_url: "http://127.0.0.1:9005".to_owned(),
            model_url: "http://127.0.0.1:9006".to_owned(),
            timeout_ms: 3_000,
            retries: 2,
            backoff_ms: 50,
            follow_ms: 1_000,
        }
    }
}

/// JWT verification (SPEC §6.1 `Authorization: Bearer …`). With a key configured every
/// `/api/v1` request needs a valid token whose tenant claim equals `X-Tenant-Id`. Environment
/// variables override the file: `POLYREC_JWT_HS256_SECRET`, `POLYREC_JWT_RS256_PUBLIC_KEY_FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The shared secret of HS256 tokens, at least 32 bytes (a shorter one is refused at start);
    /// empty: HS256 tokens are not accepted.
    pub hs256_secret: String,
    /// A PEM file with the RSA public key of RS256 tokens; empty: RS256 tokens are not accepted.
    pub rs256_public_key_file: String,
    /// The claim that names the token's tenant.
    pub tenant_claim: String,
    /// The claim that, when a token has it, binds the token to one user: recommend's
    /// `X-User-Id`, the events it sends and the profile it reads must all be that user's (a
    /// token handed to one user's browser cannot act as another user). Empty (the default):
    /// tokens are not bound to users.
    pub user_claim: String,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
    /// When set, a token's `iss` must be this.
    pub issuer: String,
    /// When set, a token's `aud` must be (or contain) this.
    pub audience: String,
    /// When set, `/metrics` of the services and workers answers only a scrape with
    /// `Authorization: Bearer <this>` (its series name tenants and their numbers); empty: open.
    pub metrics_token: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            hs256_secret: String::new(),
            rs256_public_key_file: String::new(),
            tenant_claim: "tenant_id".to_owned(),
            user_claim: String::new(),
            leeway_seconds: 30,
            issuer: String::new(),
            audience: String::new(),
            metrics_token: String::new(),
        }
    }
}

/// Tenant and user information (SPEC §6.2, §6.3): from the external gRPC services when their
/// URLs are set (`POLYREC_TENANT_SERVICE_URL`, `POLYREC_USER_SERVICE_URL`), else from the
/// `tenants` registry below.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenancyConfig {
    /// `http://host:port` of the TenantService; empty: the registry plays its part.
    pub tenant_service: String,
    /// `http://host:port` of the UserService; empty: no user information.
    pub user_service: String,
    /// Each call's deadline, in ms (SPEC §6.3: 3–5 s).
    pub timeout_ms: u64,
    /// Retries of a failed call, with exponential backoff from `backoff_ms` (SPEC §6.3: 1–2).
    pub retries: u32,
    pub backoff_ms: u64,
    /// How long tenant information is cached, in seconds (SPEC: 1 h).
    pub tenant_ttl_seconds: u64,
    /// How long user information is cached, in seconds (SPEC: 30 min), and how many users at
    /// most (least recently used go first).
    pub user_ttl_seconds: u64,
    pub user_cache_entries: usize,
    /// How long a user lookup that failed (or was refused by the open breaker) is remembered:
    /// the user goes without information meanwhile, and the service is not asked again.
    pub user_failure_ttl_seconds: u64,
    /// The user service's circuit breaker: this many lookups failing in a row open it, and for
    /// `user_breaker_open_seconds` no lookup is made (requests and events go without user
    /// information); then lookups are tried again, and the first failure opens it again.
    pub user_breaker_failures: u32,
    pub user_breaker_open_seconds: u64,
    /// Whether tenants the registry (or the tenant service) does not know are served, with
    /// `default_quota`. Off: they get `403 unknown_tenant`.
    pub allow_unknown_tenants: bool,
    /// When the tenant service cannot be reached and nothing is cached: `serve` with
    /// `default_quota` (the default), or `refuse` with `503`.
    pub when_unreachable: Unreachable,
    /// The quota of tenants that have none of their own.
    pub default_quota: polyrec_core::Quota,
    /// The tenant registry: `[tenancy.tenants.<id>]` with `name`, `status`, `quota`.
    pub tenants: std::collections::BTreeMap<String, TenantEntry>,
}

/// One tenant of the registry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantEntry {
    pub name: String,
    /// `active` or `suspended`.
    pub status: polyrec_core::TenantStatus,
    /// The tenant's own quota; `default_quota` when absent.
    pub quota: Option<polyrec_core::Quota>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unreachable {
    Serve,
    Refuse,
}

impl Default for TenancyConfig {
    fn default() -> Self {
        Self {
            tenant_service: String::new(),
            user_service: String::new(),
            timeout_ms: 3_000,
            retries: 2,
            backoff_ms: 100,
            tenant_ttl_seconds: 3_600,
            user_ttl_seconds: 1_800,
            user_cache_entries: 100_000,
            user_failure_ttl_seconds: 30,
            user_breaker_failures: 5,
            user_breaker_open_seconds: 30,
            allow_unknown_tenants: true,
            when_unreachable: Unreachable::Serve,
            default_quota: polyrec_core::Quota::default(),
            tenants: Default::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8000)),
            data_dir: PathBuf::from("./data"),
            max_body_bytes: 16 * 1024 * 1024,
            max_batch_events: 10_000,
            cf_interval_seconds: 30,
            cf_window_days: 90,
            job_lease_seconds: 60,
            profile_recompute_hours: 24,
            event_retention_days: 7,
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            tenancy: TenancyConfig::default(),
            services: ServicesConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Applies every `POLYREC_*` environment variable of the config that is set.
    pub fn apply_env(&mut self) {
        self.storage.apply_env();
        for (var, field) in [
            ("POLYREC_JWT_HS256_SECRET", &mut self.auth.hs256_secret),
            ("POLYREC_JWT_RS256_PUBLIC_KEY_FILE", &mut self.auth.rs256_public_key_file),
            ("POLYREC_JWT_ISSUER", &mut self.auth.issuer),
            ("POLYREC_JWT_AUDIENCE", &mut self.auth.audience),
            ("POLYREC_METRICS_TOKEN", &mut self.auth.metrics_token),
            ("POLYREC_TENANT_SERVICE_URL", &mut self.tenancy.tenant_service),
            ("POLYREC_USER_SERVICE_URL", &mut self.tenancy.user_service),
            ("POLYREC_SCENARIO_SERVICE_URL", &mut self.services.scenario_url),
            ("POLYREC_ITEM_SERVICE_URL", &mut self.services.item_url),
            ("POLYREC_FEATURE_SERVICE_URL", &mut self.services.feature_url),
            ("POLYREC_MODEL_SERVICE_URL", &mut self.services.model_url),
            ("POLYREC_INTERNAL_KEY", &mut self.services.internal_key),
        ] {
            if let Ok(value) = std::env::var(var) {
                *field = value;
            }
        }
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_unknown_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("polyrec.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\ncf_interval_seconds = 5\n").unwrap();
        let config = ServerConfig::from_file(&path).unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
        assert_eq!(config.cf_interval_seconds, 5);
        assert_eq!(config.max_batch_events, ServerConfig::default().max_batch_events);

        std::fs::write(&path, "listen_addr = \"127.0.0.1:9000\"\n").unwrap();
        let error = ServerConfig::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("listen_addr"), "{error}");
    }

    #[test]
    fn durability_is_process_unless_fsync_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("polyrec.toml");
        assert_eq!(ServerConfig::default().storage.durability, polyrec_storage::Durability::Process);
        std::fs::write(&path, "[storage]\ndurability = \"fsync\"\n").unwrap();
        assert_eq!(ServerConfig::from_file(&path).unwrap().storage.durability, polyrec_storage::Durability::Fsync);
        std::fs::write(&path, "[storage]\ndurability = \"always\"\n").unwrap();
        let error = ServerConfig::from_file(&path).unwrap_err().to_string();
        assert!(error.contains("process") && error.contains("fsync"), "{error}");
    }
}
