//! Who may call, and how much (SPEC §6): bearer-token verification, tenant information with its
//! status and quota, user information, and the per-tenant rate limits.
//!
//! Tenant and user information come from a [`TenantSource`] / [`UserSource`]: the external gRPC
//! services of SPEC §6.2 when configured (`polyrec_server::external`'s clients, given through [`crate::Remote`]), else the registry of the config
//! file. Remote answers are cached with SPEC §6.3's policy: tenants for an hour, users for 30
//! minutes in an LRU; each call has a deadline and is retried with exponential backoff; when the
//! service is down, the cached answer is served however old it is.
//!
//! Rate limits are token buckets per tenant and kind in this process, on the app's clock: a
//! tenant may spend a second's worth at once, then its rate. (A split deployment with N replicas
//! of a service admits up to N times the rate.)

use polyrec_core::Code;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use polyrec_core::{Error, Quota, Result, TenantId, TenantInfo, TenantStatus, UserId, UserInfo};

use crate::config::{AuthConfig, TenancyConfig, Unreachable};
use crate::internal::InternalKey;

/// Where tenant information comes from.
#[async_trait]
pub trait TenantSource: Send + Sync {
    /// The tenant, or `None` if the source does not know it; `Unavailable` if it cannot answer.
    async fn tenant(&self, tenant: &TenantId) -> Result<Option<TenantInfo>>;
}

/// Where user information comes from.
#[async_trait]
pub trait UserSource: Send + Sync {
    async fn user(&self, tenant: &TenantId, user: &UserId) -> Result<Option<UserInfo>>;
}

/// What a request is charged against its tenant's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charge {
    /// One recommend request.
    Recommend,
    /// This many behavior events.
    Events(usize),
    /// One analytics query.
    Analytics,
}

impl Charge {
    fn kind(self) -> &'static str {
        match self {
            Charge::Recommend => "recommend",
            Charge::Events(_) => "events",
            Charge::Analytics => "analytics",
        }
    }

    /// The scope a request charged this needs of its token.
    pub fn scope(self) -> Scope {
        match self {
            Charge::Recommend => Scope::Recommend,
            Charge::Events(_) => Scope::Events,
            Charge::Analytics => Scope::Read,
        }
    }

    /// The tenant's rate for this kind (0: unlimited) and what this charge costs of it.
    fn rate_and_cost(self, quota: &Quota) -> (f64, f64) {
        match self {
            Charge::Recommend => (quota.recommend_per_second, 1.0),
            Charge::Events(n) => (quota.events_per_second, n as f64),
            Charge::Analytics => (quota.analytics_per_second, 1.0),
        }
    }

    /// The `429` of a tenant over its rate for this kind.
    fn refused(self, tenant: &TenantId, rate: f64, retry_after_seconds: u32) -> Error {
        metrics::counter!("polyrec_rate_limited_total", "kind" => self.kind()).increment(1);
        let what = match self {
            Charge::Recommend => "recommend requests",
            Charge::Events(_) => "events",
            Charge::Analytics => "analytics queries",
        };
        Error::RateLimited {
            code: Code::RateLimited,
            message: format!(
                "tenant {:?} is over its quota of {rate} {what} per second; retry after {retry_after_seconds} s",
                tenant.as_str(),
            ),
            retry_after_seconds,
        }
    }
}

/// What a request on the public edge does, which a bearer token with a `scope` claim must
/// grant (a token without one grants all four).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `POST /api/v1/recommend`.
    Recommend,
    /// `POST /api/v1/behaviors` and `/api/v1/behaviors/batch`.
    Events,
    /// Every other `GET`.
    Read,
    /// Every other request: creating, changing and deleting scenarios, items, experiments and
    /// models, starting jobs, replaying dead letters.
    Write,
}

impl Scope {
    /// The name a token's `scope` claim lists it by.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Recommend => "recommend",
            Scope::Events => "events",
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// The scope an `/api/v1` request with this method and path needs.
    pub fn needed(method: &str, path: &str) -> Self {
        match (method, path.trim_end_matches('/')) {
            ("POST", "/api/v1/recommend") => Scope::Recommend,
            ("POST", "/api/v1/behaviors" | "/api/v1/behaviors/batch") => Scope::Events,
            ("GET" | "HEAD", _) => Scope::Read,
            _ => Scope::Write,
        }
    }
}

/// An admitted caller: its tenant's information, and the one user its token is bound to, if
/// it is (`auth.user_claim`).
#[derive(Debug, Clone)]
pub struct Admission {
    pub info: TenantInfo,
    pub user: Option<UserId>,
}

/// Refuses a request for `user` by a caller whose token is bound to another user.
pub fn check_user(bound: Option<&UserId>, user: &UserId) -> Result<()> {
    match bound {
        Some(bound) if bound != user => Err(Error::forbidden(
            Code::UserMismatch,
            format!("this token is bound to user {:?}; it cannot act for user {:?}", bound.as_str(), user.as_str()),
        )),
        _ => Ok(()),
    }
}

/// What a request proves about its caller.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// The public HTTP edge: the `Authorization` header, if any, and what the request does.
    Bearer { authorization: Option<&'a str>, scope: Scope },
    /// An internal gRPC call between the services (SPEC §3.1: internal ports): its
    /// `authorization` metadata (a service token of [`crate::internal`]), the service called and
    /// what the method does.
    Internal { authorization: Option<&'a str>, service: &'a str, access: crate::internal::Access },
}

pub struct Tenancy {
    verifier: Option<Verifier>,
    /// Checks internal calls; without one (no `services.internal_key`) every internal call is
    /// refused.
    internal: Option<InternalKey>,
    tenants: Option<TtlCache<TenantId, Option<TenantInfo>>>,
    tenant_source: Option<Arc<dyn TenantSource>>,
    users: Option<Users>,
    registry: HashMap<TenantId, TenantInfo>,
    config: TenancyConfig,
    /// Bounded: a bucket evicted after the others pushed it out is full again when it returns,
    /// which is what an idle bucket would be anyway.
    buckets: Mutex<lru::LruCache<(TenantId, &'static str), Bucket>>,
}

/// The most tenants whose information, and tenant × kind whose rate-limit buckets, one process
/// keeps: tenant ids are what callers send, so every map keyed by them is bounded.
pub const MAX_TENANTS_KEPT: usize = 100_000;

/// The refusal of an internal call by a process configured without an internal key.
fn no_internal_key() -> Error {
    Error::unauthorized(Code::MissingToken, "this process has no services.internal_key, so it takes no internal call")
}

impl Tenancy {
    /// From the config; the sources are the external services' clients, if configured.
    pub fn new(
        auth: &AuthConfig,
        internal_key: &str,
        config: &TenancyConfig,
        tenant_source: Option<Arc<dyn TenantSource>>,
        user_source: Option<Arc<dyn UserSource>>,
    ) -> anyhow::Result<Self> {
        let mut registry = HashMap::new();
        for (id, entry) in &config.tenants {
            let tenant = TenantId::parse(id).map_err(|e| anyhow::anyhow!("[tenancy.tenants.{id}]: {e}"))?;
            let info = TenantInfo {
                name: if entry.name.is_empty() { id.clone() } else { entry.name.clone() },
                status: entry.status,
                quota: entry.quota.unwrap_or(config.default_quota),
            };
            registry.insert(tenant, info);
        }
        let users_capacity = NonZeroUsize::new(config.user_cache_entries.max(1)).expect("at least one");
        let tenants_capacity = NonZeroUsize::new(MAX_TENANTS_KEPT).expect("at least one");
        let internal = match internal_key {
            "" => None,
            secret => Some(InternalKey::new(secret, &auth.hs256_secret)?),
        };
        Ok(Self {
            verifier: Verifier::new(auth)?,
            internal,
            tenants: tenant_source
                .as_ref()
                .map(|_| TtlCache::new("tenant", config.tenant_ttl_seconds, tenants_capacity)),
            tenant_source,
            users: user_source.map(|source| Users {
                source,
                cache: TtlCache::new("user", config.user_ttl_seconds, users_capacity),
                breakers: Mutex::new(lru::LruCache::new(tenants_capacity)),
                breaker_failures: config.user_breaker_failures.max(1),
                breaker_open: Duration::from_secs(config.user_breaker_open_seconds),
            }),
            registry,
            config: config.clone(),
            buckets: Mutex::new(lru::LruCache::new(tenants_capacity)),
        })
    }

    /// Whether bearer tokens are checked.
    pub fn verifies_tokens(&self) -> bool {
        self.verifier.is_some()
    }

    /// The one admission of a request, for both transports: the caller's credential checked
    /// (on the public edge the bearer token, when tokens are checked; on the internal gRPC
    /// ports always the service token, for this tenant), then the tenant known and active
    /// (`403` otherwise).
    pub async fn admit(&self, tenant: &TenantId, credential: Credential<'_>, now_ms: i64) -> Result<Admission> {
        let user = match (credential, &self.verifier, &self.internal) {
            (Credential::Bearer { authorization, scope }, Some(verifier), _) => {
                verifier.verify(authorization, tenant, scope)?
            }
            (Credential::Bearer { .. }, None, _) => None,
            (Credential::Internal { authorization, service, access }, _, Some(key)) => {
                key.verify(authorization, service, tenant, access)?;
                None
            }
            (Credential::Internal { .. }, _, None) => return Err(no_internal_key()),
        };
        let info = self.tenant(tenant, now_ms).await?;
        info.status.admit(tenant.as_str())?;
        Ok(Admission { info, user })
    }

    /// The tenant's information: from the tenant service (cached) or the registry; a tenant
    /// neither knows gets the default quota, or `403 unknown_tenant` when unknown tenants are
    /// not allowed.
    pub async fn tenant(&self, tenant: &TenantId, now_ms: i64) -> Result<TenantInfo> {
        let known = match (&self.tenant_source, &self.tenants) {
            (Some(source), Some(cache)) => {
                let fetched = cache
                    .get_or_fetch(
                        tenant.clone(),
                        now_ms,
                        || {
                            let source = source.clone();
                            let tenant = tenant.clone();
                            async move { source.tenant(&tenant).await }
                        },
                        &self.config,
                    )
                    .await;
                match fetched {
                    Ok(info) => info,
                    Err(error) => {
                        metrics::counter!("polyrec_tenant_service_failures_total").increment(1);
                        tracing::warn!(tenant = %tenant, %error, "tenant service unreachable and nothing cached");
                        match self.config.when_unreachable {
                            Unreachable::Serve => None,
                            Unreachable::Refuse => return Err(error),
                        }
                    }
                }
            }
            _ => self.registry.get(tenant).cloned(),
        };
        match known {
            Some(info) => Ok(info),
            None if self.config.allow_unknown_tenants => Ok(TenantInfo {
                name: tenant.to_string(),
                status: TenantStatus::Active,
                quota: self.config.default_quota,
            }),
            None => Err(Error::forbidden(
                Code::UnknownTenant,
                format!("tenant {:?} is not registered with this service", tenant.as_str()),
            )),
        }
    }

    /// The user's information from the user service (cached), if one is configured and knows
    /// the user. A user service that cannot be reached costs the request at most one deadline
    /// (`tenancy.timeout_ms`, retries inside it), and nothing while its breaker is open: no info.
    pub async fn user(&self, tenant: &TenantId, user: &UserId, now_ms: i64) -> Option<UserInfo> {
        let users = self.users.as_ref()?;
        let key = (tenant.clone(), user.clone());
        if let Some(known) = users.cache.fresh(&key, now_ms) {
            return known;
        }
        let until = tokio::time::Instant::now() + Duration::from_millis(self.config.timeout_ms.max(1));
        let fetched = users.fetch(tenant, user, &self.config, until).await;
        users.settle(key, fetched, now_ms, &self.config)
    }

    /// [`Tenancy::user`] for every distinct user of `wanted` at once (an event batch's): the
    /// cached ones from the cache, the others looked up concurrently, the whole at most one
    /// deadline — a user not answered by then goes without information.
    pub async fn users(
        &self,
        tenant: &TenantId,
        wanted: impl IntoIterator<Item = &UserId>,
        now_ms: i64,
    ) -> HashMap<UserId, UserInfo> {
        use futures::StreamExt;
        let mut found = HashMap::new();
        let Some(users) = self.users.as_ref() else { return found };
        let mut missing = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for user in wanted {
            if !seen.insert(user) {
                continue;
            }
            match users.cache.fresh(&(tenant.clone(), user.clone()), now_ms) {
                Some(Some(info)) => {
                    found.insert(user.clone(), info);
                }
                Some(None) => {}
                None => missing.push(user.clone()),
            }
        }
        // One deadline for the whole batch: a lookup started late has what is left of it.
        let until = tokio::time::Instant::now() + Duration::from_millis(self.config.timeout_ms.max(1));
        let mut lookups = futures::stream::iter(missing)
            .map(|user| async move {
                let fetched = users.fetch(tenant, &user, &self.config, until).await;
                (user, fetched)
            })
            .buffer_unordered(USER_LOOKUPS_AT_ONCE);
        while let Some((user, fetched)) = lookups.next().await {
            if let Some(info) = users.settle((tenant.clone(), user.clone()), fetched, now_ms, &self.config) {
                found.insert(user, info);
            }
        }
        found
    }

    /// Checks an internal call's credential before anything of the call is read (a streamed
    /// call's messages): `401` unless it is a valid service token. Which tenant it opens is
    /// checked by [`Tenancy::admit`] once the call names one.
    pub fn authenticate_internal(&self, authorization: Option<&str>, service: &str) -> Result<()> {
        match &self.internal {
            Some(key) => key.authenticate(authorization, service),
            None => Err(no_internal_key()),
        }
    }

    /// Takes `charge` from the tenant's quota, or says when to come back (`429`).
    pub fn charge(&self, tenant: &TenantId, quota: &Quota, charge: Charge, now_ms: i64) -> Result<()> {
        let (rate, cost) = charge.rate_and_cost(quota);
        if rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock();
        let bucket = buckets
            .get_or_insert_mut((tenant.clone(), charge.kind()), || Bucket { tokens: rate.max(1.0), at_ms: now_ms });
        bucket.take(rate, cost, now_ms).map_err(|retry_after| charge.refused(tenant, rate, retry_after))
    }

    /// Refuses (`429`, as [`Tenancy::charge`] would) a tenant whose bucket for `charge` is empty
    /// now, without taking from it: so a tenant far past its quota is refused before its body is
    /// read and parsed, and its flood costs the others almost nothing.
    pub fn refuse_if_empty(&self, tenant: &TenantId, quota: &Quota, charge: Charge, now_ms: i64) -> Result<()> {
        let (rate, _) = charge.rate_and_cost(quota);
        if rate <= 0.0 {
            return Ok(());
        }
        let buckets = self.buckets.lock();
        let Some(bucket) = buckets.peek(&(tenant.clone(), charge.kind())) else { return Ok(()) };
        match bucket.tokens_at(rate, now_ms) {
            tokens if tokens < 1.0 => Err(charge.refused(tenant, rate, ((1.0 - tokens) / rate).ceil().max(1.0) as u32)),
            _ => Ok(()),
        }
    }
}

/// The most user lookups one batch has in flight at once.
const USER_LOOKUPS_AT_ONCE: usize = 32;

/// A circuit breaker (`failsafe`): consecutive failures open it for `user_breaker_open_seconds`;
/// then it is half-open — calls go through, the first failure opens it again and the first
/// success closes it.
type Breaker = failsafe::StateMachine<failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>, ()>;

/// The user service, its cache and a circuit breaker per tenant: a service failing for one
/// tenant's users (its part of the service down, its lookups timing out) opens that tenant's
/// breaker alone, and the other tenants' lookups go on.
struct Users {
    source: Arc<dyn UserSource>,
    cache: TtlCache<(TenantId, UserId), Option<UserInfo>>,
    /// The most recently used tenants' breakers (as many as the tenant cache keeps).
    breakers: Mutex<lru::LruCache<TenantId, Breaker>>,
    breaker_failures: u32,
    breaker_open: Duration,
}

/// A lookup with no answer.
enum Failure {
    /// It failed or timed out on its own deadline, or the open breaker refused it: the user
    /// goes without, remembered for `user_failure_ttl_seconds`.
    Failed,
    /// The batch's one deadline passed before it was made or answered: nothing is said about
    /// the service (not counted by the breaker, not remembered).
    OutOfTime,
}

impl Users {
    /// The tenant's breaker (closed for a tenant not seen recently).
    fn breaker(&self, tenant: &TenantId) -> Breaker {
        let mut breakers = self.breakers.lock();
        if let Some(breaker) = breakers.get(tenant) {
            return breaker.clone();
        }
        let breaker = failsafe::Config::new()
            .failure_policy(failsafe::failure_policy::consecutive_failures(
                self.breaker_failures,
                failsafe::backoff::constant(self.breaker_open),
            ))
            .build();
        breakers.put(tenant.clone(), breaker.clone());
        breaker
    }

    /// One lookup through the tenant's breaker, with the retries of `config`, all by `until`.
    async fn fetch(
        &self,
        tenant: &TenantId,
        user: &UserId,
        config: &TenancyConfig,
        until: tokio::time::Instant,
    ) -> Result<Option<UserInfo>, Failure> {
        let started = tokio::time::Instant::now();
        if started >= until {
            return Err(Failure::OutOfTime);
        }
        let breaker = self.breaker(tenant);
        if !breaker.is_call_permitted() {
            metrics::counter!("polyrec_user_service_rejected_total").increment(1);
            return Err(Failure::Failed);
        }
        // Its own deadline, unless the batch's ends first.
        let own = started + Duration::from_millis(config.timeout_ms.max(1));
        let policy = Retries::new(config.timeout_ms, config.retries, config.backoff_ms);
        let lookup = with_retries(&policy, || self.source.user(tenant, user));
        let error = match tokio::time::timeout_at(own.min(until), lookup).await {
            Ok(Ok(info)) => {
                breaker.on_success();
                return Ok(info);
            }
            Ok(Err(error)) => error,
            // Cut off by the batch's deadline before it had half of its own: not the service's
            // failure. (The first lookups of a batch have all of theirs.)
            Err(_) if until < own && (until - started) * 2 < own - started => return Err(Failure::OutOfTime),
            Err(_) => Error::unavailable(format!("no answer within {} ms", config.timeout_ms)),
        };
        breaker.on_error();
        metrics::counter!("polyrec_user_service_failures_total").increment(1);
        tracing::warn!(tenant = %tenant, %error, "user service lookup failed");
        Err(Failure::Failed)
    }

    /// Caches a lookup's outcome and says what the request uses: the answer (a miss cached as
    /// long as an answer); on a failure the stale answer if there is one, else nothing — either
    /// remembered for `user_failure_ttl_seconds`, so the user's next events do not ask again; a
    /// lookup the batch's deadline cut off is not remembered.
    fn settle(
        &self,
        key: (TenantId, UserId),
        fetched: Result<Option<UserInfo>, Failure>,
        now_ms: i64,
        config: &TenancyConfig,
    ) -> Option<UserInfo> {
        match fetched {
            Ok(info) => {
                self.cache.put(key, info.clone(), now_ms, self.cache.ttl_ms);
                info
            }
            Err(Failure::OutOfTime) => self.cache.stale(&key).flatten(),
            Err(Failure::Failed) => {
                let stale = self.cache.stale(&key).flatten();
                self.cache.put(key, stale.clone(), now_ms, config.user_failure_ttl_seconds as i64 * 1000);
                stale
            }
        }
    }
}

/// A token bucket: `rate` tokens a second, holding at most a second's worth (at least one).
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    /// The tokens it holds at `now_ms`, refilled at `rate` since it was last taken from.
    fn tokens_at(&self, rate: f64, now_ms: i64) -> f64 {
        let elapsed = (now_ms - self.at_ms).max(0) as f64 / 1000.0;
        (self.tokens + elapsed * rate).min(rate.max(1.0))
    }

    /// Takes `cost` tokens. A cost above the bucket's size passes when the bucket is full and
    /// leaves it in debt, so large batches are admitted at the rate too. `Err` holds the whole
    /// seconds to wait.
    fn take(&mut self, rate: f64, cost: f64, now_ms: i64) -> Result<(), u32> {
        let capacity = rate.max(1.0);
        self.tokens = self.tokens_at(rate, now_ms);
        self.at_ms = self.at_ms.max(now_ms);
        let needed = cost.min(capacity);
        if self.tokens + 1e-9 >= needed {
            self.tokens -= cost;
            Ok(())
        } else {
            Err(((needed - self.tokens) / rate).ceil().max(1.0) as u32)
        }
    }
}

/// Answers of a remote source, each kept for its own time (`ttl` for an answer, less for a
/// remembered failure), and served stale past it when the source is down.
struct TtlCache<K, V> {
    /// The `cache` label of its hit and miss counts.
    name: &'static str,
    ttl_ms: i64,
    /// The value, when it was put and for how long it is fresh.
    entries: Mutex<lru::LruCache<K, (V, i64, i64)>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> TtlCache<K, V> {
    /// `lru` rather than a TTL cache crate: entries expire on the app's clock (tests move it)
    /// and a stale entry is still served when the source is down.
    fn new(name: &'static str, ttl_seconds: u64, capacity: NonZeroUsize) -> Self {
        Self { name, ttl_ms: ttl_seconds as i64 * 1000, entries: Mutex::new(lru::LruCache::new(capacity)) }
    }

    /// The cached value while fresh (counted as a hit or a miss).
    fn fresh(&self, key: &K, now_ms: i64) -> Option<V> {
        let fresh = self.entries.lock().get(key).filter(|(_, at, ttl)| now_ms - at < *ttl).map(|(v, ..)| v.clone());
        crate::telemetry::cache_lookup(self.name, fresh.is_some());
        fresh
    }

    /// The cached value however old.
    fn stale(&self, key: &K) -> Option<V> {
        self.entries.lock().peek(key).map(|(value, ..)| value.clone())
    }

    fn put(&self, key: K, value: V, now_ms: i64, ttl_ms: i64) {
        self.entries.lock().put(key, (value, now_ms, ttl_ms));
    }

    /// The cached answer while fresh; else a fetch (with the deadline and retries of
    /// `config`), cached; when the fetch fails, the stale answer if there is one.
    async fn get_or_fetch<F, Fut>(&self, key: K, now_ms: i64, fetch: F, config: &TenancyConfig) -> Result<V>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<V>>,
    {
        if let Some(value) = self.fresh(&key, now_ms) {
            return Ok(value);
        }
        let policy = Retries::new(config.timeout_ms, config.retries, config.backoff_ms);
        match with_retries(&policy, fetch).await {
            Ok(value) => {
                self.put(key, value.clone(), now_ms, self.ttl_ms);
                Ok(value)
            }
            Err(error) => self.stale(&key).ok_or(error),
        }
    }
}

/// A deadline per call, and how often and after how long a call that got no answer is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
}

impl Retries {
    pub fn new(timeout_ms: u64, retries: u32, backoff_ms: u64) -> Self {
        Retries {
            timeout: Duration::from_millis(timeout_ms.max(1)),
            retries,
            backoff: Duration::from_millis(backoff_ms),
        }
    }
}

/// Calls `fetch` with the policy's deadline, retrying failures that may pass (unavailable,
/// timed out) with exponential backoff (`backon`: the policy's first wait, doubled each time, up
/// to `retries` retries). The external tenant and user services and polyrec's own gRPC services
/// are called through it.
pub async fn with_retries<V, F, Fut>(policy: &Retries, mut fetch: F) -> Result<V>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<V>>,
{
    use backon::{ExponentialBuilder, Retryable};
    let deadline = policy.timeout;
    let attempt = || {
        let call = fetch();
        async move {
            tokio::time::timeout(deadline, call)
                .await
                .unwrap_or_else(|_| Err(Error::unavailable(format!("no answer within {} ms", deadline.as_millis()))))
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(policy.backoff)
        .with_factor(2.0)
        .without_max_delay()
        .with_max_times(policy.retries as usize);
    attempt.retry(backoff).sleep(tokio::time::sleep).when(|error| matches!(error, Error::Unavailable { .. })).await
}

/// The user service's profile fields that requests and events carry (in their `context`), for
/// `location_match` and for ranking features of those names.
pub const USER_FIELDS: [&str; 3] = ["age", "gender", "location"];

/// Puts the user's [`USER_FIELDS`] into a request's or event's context, where it has none of
/// its own.
pub fn fill_user_fields(context: &mut serde_json::Map<String, serde_json::Value>, info: &UserInfo) {
    for field in USER_FIELDS {
        if let Some(value) = info.profile.get(field)
            && !context.contains_key(field)
        {
            context.insert(field.to_owned(), serde_json::Value::String(value.clone()));
        }
    }
}

/// Checks `Authorization: Bearer <JWT>` with the configured keys.
/// The shortest `auth.hs256_secret` the server starts with.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

struct Verifier {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    tenant_claim: String,
    user_claim: String,
    leeway_seconds: u64,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Verifier {
    fn new(config: &AuthConfig) -> anyhow::Result<Option<Self>> {
        let secret = &config.hs256_secret;
        // RFC 7518 §3.2: an HS256 key is at least the hash's 256 bits. One token is enough to
        // search a short secret offline, and the secret found signs any tenant's tokens.
        if !secret.is_empty() && secret.len() < MIN_HS256_SECRET_BYTES {
            anyhow::bail!(
                "auth.hs256_secret (POLYREC_JWT_HS256_SECRET) must be at least {MIN_HS256_SECRET_BYTES} bytes, not {}: \
                 a shorter one can be found from a single token; make one with `openssl rand -base64 48`",
                secret.len()
            );
        }
        let hs256 = (!secret.is_empty()).then(|| DecodingKey::from_secret(secret.as_bytes()));
        let rs256 = match config.rs256_public_key_file.as_str() {
            "" => None,
            path => {
                let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("auth.rs256_public_key_file {path}: {e}"))?;
                Some(
                    DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                        anyhow::anyhow!("auth.rs256_public_key_file {path}: not an RSA public key: {e}")
                    })?,
                )
            }
        };
        if hs256.is_none() && rs256.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            hs256,
            rs256,
            tenant_claim: config.tenant_claim.clone(),
            user_claim: config.user_claim.clone(),
            leeway_seconds: config.leeway_seconds,
            issuer: (!config.issuer.is_empty()).then(|| config.issuer.clone()),
            audience: (!config.audience.is_empty()).then(|| config.audience.clone()),
        }))
    }

    /// Checks the token for `tenant` and `scope`; returns the user it is bound to, if any.
    fn verify(&self, authorization: Option<&str>, tenant: &TenantId, scope: Scope) -> Result<Option<UserId>> {
        let invalid = |message: String| Error::unauthorized(Code::InvalidToken, message);
        let header = authorization.ok_or_else(|| {
            Error::unauthorized(Code::MissingToken, "this service needs `Authorization: Bearer <token>`")
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the Authorization header must be `Bearer <token>`".to_owned()))?;
        let algorithm = jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("not a JWT: {e}")))?.alg;
        // The key follows from the algorithm, and each key takes only its own: no confusion.
        let key = match algorithm {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            _ => None,
        }
        .ok_or_else(|| invalid(format!("tokens signed with {algorithm:?} are not accepted here")))?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway_seconds;
        // `nbf` when present; `iss` and `aud` required and checked when configured.
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::unauthorized(Code::TokenExpired, "the token has expired; get a new one")
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    invalid("the token's signature is wrong".to_owned())
                }
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    invalid("the token is not valid yet (its `nbf` is in the future)".to_owned())
                }
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    invalid("the token's `iss` is not the issuer this service trusts".to_owned())
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    invalid("the token's `aud` does not name this service".to_owned())
                }
                _ => invalid(format!("the token is not valid: {e}")),
            })?
            .claims;
        let claimed = claims
            .get(&self.tenant_claim)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| invalid(format!("the token has no `{}` claim naming its tenant", self.tenant_claim)))?;
        if claimed != tenant.as_str() {
            return Err(Error::forbidden(
                Code::TenantMismatch,
                format!("the token is for tenant {claimed:?}, not X-Tenant-Id {:?}", tenant.as_str()),
            ));
        }
        let user = match self.user_claim.as_str() {
            "" => None,
            claim => claims.get(claim),
        };
        let user = match user {
            None => None,
            Some(serde_json::Value::String(user)) => Some(
                UserId::parse(user)
                    .map_err(|e| invalid(format!("the token's `{}` claim is not a user id: {e}", self.user_claim)))?,
            ),
            Some(_) => return Err(invalid(format!("the token's `{}` claim must be a string", self.user_claim))),
        };
        // RFC 9068 §2.2.3: `scope`, space-separated; or `scp` (a string or a list of strings),
        // as some identity providers write them. Neither grants every scope (the tokens issued
        // before scopes existed keep working), except to a token bound to a user: that one is
        // for the user's device, and may recommend and send events only.
        let malformed = || {
            invalid(
                "the token's `scope` must be a string of space-separated scopes (recommend, events, read, write), \
                     or its `scp` a string or a list of strings"
                    .to_owned(),
            )
        };
        let granted: Vec<&str> = match (claims.get("scope"), claims.get("scp")) {
            (Some(serde_json::Value::String(granted)), _) | (None, Some(serde_json::Value::String(granted))) => {
                granted.split_ascii_whitespace().collect()
            }
            (None, Some(serde_json::Value::Array(granted))) => {
                granted.iter().map(serde_json::Value::as_str).collect::<Option<_>>().ok_or_else(malformed)?
            }
            (None, None) if user.is_none() => return Ok(None),
            (None, None) => vec![Scope::Recommend.name(), Scope::Events.name()],
            _ => return Err(malformed()),
        };
        if granted.contains(&scope.name()) {
            return Ok(user);
        }
        let shown: String = granted.join(" ").chars().take(200).collect();
        Err(Error::forbidden(
            Code::InsufficientScope,
            format!(
                "the token's scope {shown:?} does not grant `{}`, which this request needs; use a token whose scope lists it",
                scope.name()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The retry policy as the services rely on it: unavailable and timed-out calls are retried
    /// after the backoff, doubled each time, up to `retries` times; other errors are final at once.
    #[tokio::test(start_paused = true)]
    async fn calls_are_retried_with_doubling_waits_and_only_when_they_may_pass() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let policy = Retries::new(1_000, 3, 100);
        // backon doubles in f32 seconds (200 ms is 200.000003) and the timer rounds up to whole
        // milliseconds: a few past the exact waits, never before them.
        let about = |elapsed: Duration, ms: u64| {
            let exact = Duration::from_millis(ms);
            elapsed >= exact && elapsed < exact + Duration::from_millis(5)
        };
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let answer = with_retries(&policy, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(Error::unavailable("down")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(about(started.elapsed(), 100 + 200), "waits of 100 then 200 ms: {:?}", started.elapsed());

        calls.store(0, Ordering::SeqCst);
        let refused: Result<()> = with_retries(&policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::invalid(Code::InvalidBody, "no"))
        })
        .await;
        assert!(matches!(refused, Err(Error::InvalidInput { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a refusal is not retried");

        calls.store(0, Ordering::SeqCst);
        let started = tokio::time::Instant::now();
        let silent: Result<()> = with_retries(&policy, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().await
        })
        .await;
        let error = silent.unwrap_err();
        assert!(error.to_string().contains("no answer within 1000 ms"), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 4, "the first call and three retries");
        assert!(about(started.elapsed(), 4 * 1_000 + 100 + 200 + 400), "{:?}", started.elapsed());
    }

    #[test]
    fn a_short_hs256_secret_is_refused_at_start() {
        let auth = |secret: &str| AuthConfig { hs256_secret: secret.to_owned(), ..AuthConfig::default() };
        let error = Verifier::new(&auth("changeme")).err().expect("an 8-byte secret is refused").to_string();
        assert!(error.contains("at least 32 bytes, not 8"), "{error}");
        assert!(Verifier::new(&auth(&"k".repeat(MIN_HS256_SECRET_BYTES))).unwrap().is_some());
        assert!(Verifier::new(&auth("")).unwrap().is_none(), "empty: HS256 off");
    }

    #[test]
    fn a_bucket_admits_a_seconds_worth_then_its_rate() {
        let mut bucket = Bucket { tokens: 5.0, at_ms: 0 };
        for _ in 0..5 {
            assert_eq!(bucket.take(5.0, 1.0, 0), Ok(()));
        }
        assert_eq!(bucket.take(5.0, 1.0, 0), Err(1), "empty: wait");
        assert_eq!(bucket.take(5.0, 1.0, 199), Err(1), "0.995 of a token after 199 ms");
        assert_eq!(bucket.take(5.0, 1.0, 200), Ok(()), "one token after 200 ms");
        assert_eq!(bucket.take(5.0, 1.0, 10_000), Ok(()), "refilled, never above a second's worth");
        assert!(bucket.tokens <= 4.0 + 1e-9);
    }

    #[test]
    fn a_batch_larger_than_the_bucket_passes_once_full_and_leaves_a_debt() {
        let mut bucket = Bucket { tokens: 100.0, at_ms: 0 };
        assert_eq!(bucket.take(100.0, 500.0, 0), Ok(()), "a full bucket takes a 500-event batch");
        assert_eq!(bucket.take(100.0, 1.0, 1_000), Err(4), "and is in debt for 4 more seconds");
        assert_eq!(bucket.take(100.0, 500.0, 4_000), Err(1), "the debt is paid, the bucket still empty");
        assert_eq!(bucket.take(100.0, 500.0, 5_000), Ok(()), "full again");
    }
}
