//! The realtime store on Redis, with the key layout of SPEC §4.2 (built by [`crate::keys`]).
//!
//! | key | Redis type | written by |
//! |---|---|---|
//! | `hot:items:{tenant:scenario}` | ZSET, score = hotness, TTL 24 h | hot-score job, through a script (below) |
//! | `exposed:{tenant:scenario}:user` | ZSET, score = time shown (ms) | impressions (metrics job); members older than the TTL are trimmed on write and ignored on read; the latest 2,000 kept |
//! | `metrics:realtime:{tenant:scenario}` | HASH, field `{minute_ms}:{counter}`, TTL 1 h | metrics job |
//! | `hot:items:…:src:{source}`, `metrics:realtime:…:src:{source}` | HASH | each job instance's own contribution (see below) |
//! | `recent:{tenant:scenario}:user` | LIST, newest first, capped | behavior ingestion |
//! | `scenario:config:{tenant:scenario}`, `user:profile:{tenant:scenario}:user` | STRING (JSON), TTL 1 h | the caches of SPEC §5.3 |
//! | `catalog:version:{tenant:scenario}` | STRING (counter) | item writes, so other processes reload their catalog |
//! | `item:stats:{tenant:item}` | HASH `{event_type}_count`, 30 days after the last event | hot-score job; `…:src:{source}` holds the last offset each source added |
//! | `ingest:{tenant}:event_id` | STRING `pending:…` / `stored:…` | ingestion (client event ids) |
//!
//! The braces are Redis Cluster hash tags (see [`crate::keys`]): every script, `MULTI` block,
//! multi-key `DEL` and `SCAN` here touches one slot, so the same code runs on one Redis
//! (`redis://host:port/db`) and on a cluster (`redis+cluster://host:port,host:port,…`).
//!
//! The exposure set is a sorted set scored by the time each item was shown, not a plain SET, so
//! that every exposure expires a day after *it* was shown (a plain SET's TTL would be renewed by
//! every new exposure and keep old ones forever under steady traffic).
//!
//! Stream-job instances that split a scenario's events (one per Kafka partition) each write their
//! own contribution with an absolute value; a Lua script moves the shared key by the difference
//! from the instance's previous contribution, atomically. So instances never overwrite each
//! other, and a replay that writes the same contribution again changes nothing.
//!
//! TTLs are relative: the store computes each from the injected clock (now → expiry) and hands
//! Redis the difference, so a test clock and Redis agree on how long a key lives.

use polyrec_core::Code;
use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use polyrec_core::clock::SharedClock;
use polyrec_core::{Error, Result, ScenarioId, TenantId, UserId};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use crate::{Cached, RealtimeStore, keys};

pub struct RedisRealtime {
    conn: Conn,
    clock: SharedClock,
    /// Prepended to every key; empty in production (see `StorageConfig::redis_key_prefix`).
    prefix: String,
}

fn unavailable(error: redis::RedisError) -> Error {
    Error::unavailable(format!("redis: {error}"))
}

/// A positive TTL in milliseconds for PEXPIRE (Redis rejects 0 and negative values).
fn ttl(ms: i64) -> i64 {
    ms.max(1)
}

/// A connection to one Redis or to a Redis Cluster: both reconnect on their own (the cluster
/// one also follows slots that move), and calls made while a node is down fail with
/// `Unavailable`.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// The scheme of a Redis Cluster URL: `redis+cluster://[user:password@]host:port,host:port,…`.
pub const CLUSTER_SCHEME: &str = "redis+cluster";

/// The seed nodes of a `redis+cluster://` URL, each as a `redis://` URL with the URL's
/// credentials. Clusters have one database: a path other than `/` or `/0` is refused.
fn cluster_nodes(url: &str) -> Result<Vec<String>> {
    let bad = |why: &str| Error::invalid(Code::BadBackendUrl, format!("bad redis cluster url {url:?}: {why}"));
    let rest = url
        .strip_prefix(CLUSTER_SCHEME)
        .and_then(|rest| rest.strip_prefix("://"))
        .ok_or_else(|| bad("it must start with redis+cluster://"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !matches!(path, "" | "0") {
        return Err(bad("a cluster has only database 0"));
    }
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), authority),
    };
    let nodes: Vec<String> =
        hosts.split(',').filter(|host| !host.is_empty()).map(|host| format!("redis://{credentials}{host}/")).collect();
    if nodes.is_empty() {
        return Err(bad("name at least one node, as host:port"));
    }
    Ok(nodes)
}

impl RedisRealtime {
    /// Connects to `redis://host:port/db`, or to the cluster of `redis+cluster://host:port,…`
    /// (any of its nodes; the client finds the others and the slot map).
    pub async fn connect(url: &str, clock: SharedClock, prefix: &str) -> Result<Self> {
        if prefix.contains(['{', '}']) {
            return Err(Error::invalid(
                Code::BadBackendUrl,
                format!("redis_key_prefix {prefix:?} holds a brace, which would change the keys' cluster hash tags"),
            ));
        }
        let timeout = std::time::Duration::from_secs(3);
        let conn = if url.starts_with(CLUSTER_SCHEME) {
            let client = redis::cluster::ClusterClientBuilder::new(cluster_nodes(url)?)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(2)
                .build()
                .map_err(|e| Error::invalid(Code::BadBackendUrl, format!("bad redis cluster url {url:?}: {e}")))?;
            Conn::Cluster(client.get_async_connection().await.map_err(unavailable)?)
        } else {
            let client = redis::Client::open(url)
                .map_err(|e| Error::invalid(Code::BadBackendUrl, format!("bad redis url {url:?}: {e}")))?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            Conn::Single(client.get_connection_manager_with_config(config).await.map_err(unavailable)?)
        };
        Ok(Self { conn, clock, prefix: prefix.to_owned() })
    }

    fn key(&self, key: String) -> String {
        if self.prefix.is_empty() { key } else { format!("{}{key}", self.prefix) }
    }

    fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// Deletes every key matching `pattern`, whose hash tag names the slot of every key it
    /// matches (see [`keys::scenario_patterns`]): on a cluster, the SCAN runs on that slot's node.
    async fn delete_matching(&self, pattern: &str) -> Result<()> {
        let mut conn = self.conn();
        let keys = match &mut conn {
            Conn::Single(single) => scan_keys(single, pattern).await?,
            Conn::Cluster(cluster) => {
                let mut node = OneNode { conn: cluster.clone(), route: Route::with_key(pattern, SlotAddr::Master) };
                scan_keys(&mut node, pattern).await?
            }
        };
        for chunk in keys.chunks(1_000) {
            let _: () = conn.del(chunk).await.map_err(unavailable)?;
        }
        Ok(())
    }
}

/// A cluster connection that sends every command to one slot's master (SCAN names no key, so
/// the cluster client would send it to any node).
struct OneNode {
    conn: ClusterConnection,
    route: Route,
}

impl redis::aio::ConnectionLike for OneNode {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(self.route));
        Box::pin(self.conn.route_command(cmd.clone(), routing))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let route = SingleNodeRoutingInfo::SpecificNode(self.route);
        Box::pin(self.conn.route_pipeline(pipeline.clone(), offset, count, route))
    }

    fn get_db(&self) -> i64 {
        0
    }
}

/// Every key matching `pattern`, by SCAN (never KEYS, so a large database is not blocked).
async fn scan_keys(conn: &mut impl redis::aio::ConnectionLike, pattern: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Settles event-id claims (`RealtimeStore::settle_event_ids`): KEYS = the claims, ARGV = [ttl
/// ms, then per key the value it holds while pending and the value to set ("" frees it)]. A key
/// holding anything else (another request's claim) is left alone.
static SETTLE_CLAIMS: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        for i, key in ipairs(KEYS) do
            local held = redis.call('GET', key)
            if held == false or held == ARGV[2 * i] then
                local new = ARGV[2 * i + 1]
                if new == '' then redis.call('DEL', key) else redis.call('SET', key, new, 'PX', ARGV[1]) end
            end
        end
        return #KEYS
        ",
    )
});

/// `put_hot_items` in one atomic step: KEYS = [hot set, this source's contribution], ARGV = [ttl
/// ms, item, score, item, score, …]. The set moves by the difference between the source's new
/// and old contribution; members that sum to zero leave it.
static PUT_HOT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local old = redis.call('HGETALL', KEYS[2])
        local new = {}
        for i = 2, #ARGV, 2 do new[ARGV[i]] = tonumber(ARGV[i + 1]) end
        for i = 1, #old, 2 do
            local member, before = old[i], tonumber(old[i + 1])
            local after = new[member] or 0
            if after ~= before then redis.call('ZINCRBY', KEYS[1], after - before, member) end
            new[member] = nil
        end
        for member, score in pairs(new) do redis.call('ZINCRBY', KEYS[1], score, member) end
        redis.call('DEL', KEYS[2])
        for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '0.000000001')
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
        return 0
        ",
    )
});

/// `put_metrics` in one atomic step: KEYS = [metrics hash, this source's counters], ARGV = [ttl
/// ms, bucket ms, oldest live bucket ms, counter, value, …]. Fields are `{bucket}:{counter}`.
static PUT_METRICS: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local bucket = ARGV[2]
        local prefix = bucket .. ':'
        local new = {}
        for i = 4, #ARGV, 2 do new[prefix .. ARGV[i]] = tonumber(ARGV[i + 1]) end
        local old = redis.call('HGETALL', KEYS[2])
        local oldest = tonumber(ARGV[3])
        for i = 1, #old, 2 do
            local field, before = old[i], tonumber(old[i + 1])
            if string.sub(field, 1, #prefix) == prefix then
                local after = new[field] or 0
                if after ~= before then redis.call('HINCRBYFLOAT', KEYS[1], field, after - before) end
                if new[field] == nil then redis.call('HDEL', KEYS[2], field) end
            else
                local b = tonumber(string.match(field, '^(-?%d+):'))
                if b ~= nil and b <= oldest then redis.call('HDEL', KEYS[2], field) end
            end
        end
        for field, value in pairs(new) do
            local before = tonumber(redis.call('HGET', KEYS[2], field) or 'nil')
            if before == nil then redis.call('HINCRBYFLOAT', KEYS[1], field, value) end
            redis.call('HSET', KEYS[2], field, value)
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
        return 0
        ",
    )
});

/// `add_item_stats` in one atomic step: KEYS = [item stats, this source's last counted offset],
/// ARGV = [ttl ms, offset, field, offset, field, …]. Events at or below the source's offset add
/// nothing; both keys live the TTL from now.
static ADD_ITEM_STATS: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
        local applied = tonumber(redis.call('GET', KEYS[2]) or '0')
        local last = applied
        for i = 2, #ARGV, 2 do
            local offset = tonumber(ARGV[i])
            if offset > applied then
                redis.call('HINCRBY', KEYS[1], ARGV[i + 1], 1)
                if offset > last then last = offset end
            end
        end
        if last > applied then redis.call('SET', KEYS[2], last) end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return 0
        ",
    )
});

/// Splits a metrics field `{bucket_ms}:{counter}`.
fn metric_field(field: &str) -> Option<(i64, &str)> {
    let (bucket, name) = field.split_once(':')?;
    Some((bucket.parse().ok()?, name))
}

#[async_trait]
impl RealtimeStore for RedisRealtime {
    fn is_shared(&self) -> bool {
        true
    }

    async fn cache_get(&self, key: Cached<'_>) -> Result<Option<String>> {
        self.conn().get(self.key(key.key())).await.map_err(unavailable)
    }

    async fn cache_put(&self, key: Cached<'_>, json: &str, ttl_ms: i64, only_if_absent: bool) -> Result<bool> {
        let mut set = redis::cmd("SET");
        set.arg(self.key(key.key())).arg(json).arg("PX").arg(ttl(ttl_ms));
        if only_if_absent {
            set.arg("NX");
        }
        // `OK` when set; nil when NX found the key taken.
        let answer: Option<String> = set.query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(answer.is_some())
    }

    async fn cache_delete(&self, key: Cached<'_>) -> Result<()> {
        let _: () = self.conn().del(self.key(key.key())).await.map_err(unavailable)?;
        Ok(())
    }

    async fn claim_event_ids(
        &self,
        tenant: &TenantId,
        claims: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<Vec<Option<String>>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        // `SET … NX GET` (Redis 7): sets a free key and answers nil, or leaves a held one and
        // answers its value — the claim and the read of who holds it in one atomic step.
        let mut pipe = redis::pipe();
        for (client_id, event_id) in claims {
            pipe.cmd("SET")
                .arg(self.key(keys::ingested(tenant, client_id)))
                .arg(format!("pending:{event_id}"))
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(ttl(ttl_ms));
        }
        pipe.query_async(&mut self.conn()).await.map_err(unavailable)
    }

    async fn settle_event_ids(
        &self,
        tenant: &TenantId,
        stored: &[(&str, &str)],
        released: &[(&str, &str)],
        ttl_ms: i64,
    ) -> Result<()> {
        if stored.is_empty() && released.is_empty() {
            return Ok(());
        }
        // One script call: a compare-and-set per claim (only a claim still this request's, or
        // gone, is settled).
        let mut invocation = SETTLE_CLAIMS.prepare_invoke();
        invocation.arg(ttl(ttl_ms));
        for (outcome, claims) in [(true, stored), (false, released)] {
            for (client_id, event_id) in claims {
                invocation.key(self.key(keys::ingested(tenant, client_id)));
                invocation.arg(format!("pending:{event_id}"));
                invocation.arg(if outcome { format!("stored:{event_id}") } else { String::new() });
            }
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn add_item_stats(
        &self,
        tenant: &TenantId,
        item: &str,
        source: &str,
        events: &[(u64, String)],
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut invocation = ADD_ITEM_STATS.prepare_invoke();
        invocation
            .key(self.key(keys::item_stats(tenant, item)))
            .key(self.key(keys::item_stats_source(tenant, item, source)))
            .arg(keys::ITEM_STATS_TTL_MS);
        for (offset, field) in events {
            invocation.arg(*offset).arg(field);
        }
        let _: i64 = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn item_stats(&self, tenant: &TenantId, item: &str) -> Result<HashMap<String, u64>> {
        self.conn().hgetall(self.key(keys::item_stats(tenant, item))).await.map_err(unavailable)
    }

    async fn catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64> {
        let version: Option<u64> =
            self.conn().get(self.key(keys::catalog_version(tenant, scenario))).await.map_err(unavailable)?;
        Ok(version.unwrap_or(0))
    }

    async fn bump_catalog_version(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<u64> {
        self.conn().incr(self.key(keys::catalog_version(tenant, scenario)), 1u64).await.map_err(unavailable)
    }

    async fn put_hot_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        items: Vec<(String, f64)>,
        ttl_ms: i64,
    ) -> Result<()> {
        let total = self.key(keys::hot_items(tenant, scenario));
        let partial = self.key(keys::hot_items_source(tenant, scenario, source));
        let mut invocation = PUT_HOT.prepare_invoke();
        invocation.key(total).key(partial).arg(ttl(ttl_ms));
        for (item, score) in &items {
            invocation.arg(item).arg(*score);
        }
        let _: () = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn hot_items(&self, tenant: &TenantId, scenario: &ScenarioId, n: usize) -> Result<Vec<(String, f64)>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let key = self.key(keys::hot_items(tenant, scenario));
        self.conn().zrevrange_withscores(key, 0, n as isize - 1).await.map_err(unavailable)
    }

    async fn add_exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[(String, i64)],
        ttl_ms: i64,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let newest = items.iter().map(|(_, shown)| *shown).max().unwrap_or(now);
        let key = self.key(keys::exposed(tenant, user, scenario));
        let mut pipe = redis::pipe();
        pipe.atomic();
        // GT: an item shown again keeps the later time.
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(&key).arg("GT");
        for (item, shown) in items {
            zadd.arg(*shown).arg(item);
        }
        pipe.add_command(zadd).ignore();
        pipe.cmd("ZREMRANGEBYSCORE").arg(&key).arg("-inf").arg(format!("({}", now - ttl_ms + 1)).ignore();
        // The latest MAX_EXPOSED stay: the lowest ranks (earliest, then the lesser member) go.
        pipe.cmd("ZREMRANGEBYRANK").arg(&key).arg(0).arg(-(crate::MAX_EXPOSED as i64) - 1).ignore();
        // The key lives as long as its newest member; never shorten a longer expiry.
        pipe.cmd("PEXPIRE").arg(&key).arg(ttl(newest + ttl_ms - now)).arg("GT").ignore();
        pipe.cmd("PEXPIRE").arg(&key).arg(ttl(newest + ttl_ms - now)).arg("NX").ignore();
        let _: () = pipe.query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn exposed(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        since_ms: i64,
    ) -> Result<Vec<String>> {
        let key = self.key(keys::exposed(tenant, user, scenario));
        // Bounded even for a set written before the cap: the latest MAX_EXPOSED.
        self.conn()
            .zrevrangebyscore_limit(key, "+inf", since_ms, 0, crate::MAX_EXPOSED as isize)
            .await
            .map_err(unavailable)
    }

    async fn put_metrics(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        source: &str,
        bucket_ms: i64,
        counters: &[(String, f64)],
        ttl_ms: i64,
    ) -> Result<()> {
        let total = self.key(keys::metrics_realtime(tenant, scenario));
        let partial = self.key(keys::metrics_source(tenant, scenario, source));
        let mut invocation = PUT_METRICS.prepare_invoke();
        invocation.key(total).key(partial).arg(ttl(ttl_ms)).arg(bucket_ms).arg(self.clock.now_ms() - ttl_ms);
        for (field, value) in counters {
            invocation.arg(field).arg(*value);
        }
        let _: () = invocation.invoke_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn metrics(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<HashMap<String, f64>> {
        let key = self.key(keys::metrics_realtime(tenant, scenario));
        let mut conn = self.conn();
        let fields: HashMap<String, f64> = conn.hgetall(&key).await.map_err(unavailable)?;
        let mut sums: HashMap<String, f64> = HashMap::new();
        let mut stale = Vec::new();
        for (field, value) in &fields {
            let Some((bucket, name)) = metric_field(field) else { continue };
            if bucket >= since_ms {
                *sums.entry(name.to_owned()).or_default() += value;
            } else {
                stale.push(field.as_str());
            }
        }
        // Buckets before the window are never read again: drop them so the hash stays small.
        if !stale.is_empty() {
            let _: () = conn.hdel(&key, stale).await.map_err(unavailable)?;
        }
        Ok(sums)
    }

    async fn push_recent(
        &self,
        tenant: &TenantId,
        user: &UserId,
        scenario: &ScenarioId,
        items: &[String],
        cap: usize,
        ttl_ms: i64,
    ) -> Result<()> {
        if items.is_empty() || cap == 0 {
            return Ok(());
        }
        let key = self.key(keys::recent(tenant, user, scenario));
        let mut pipe = redis::pipe();
        pipe.atomic();
        for item in items {
            pipe.lrem(&key, 0, item).ignore().lpush(&key, item).ignore();
        }
        pipe.ltrim(&key, 0, cap as isize - 1).ignore().pexpire(&key, ttl(ttl_ms)).ignore();
        let _: () = pipe.query_async(&mut self.conn()).await.map_err(unavailable)?;
        Ok(())
    }

    async fn recent(&self, tenant: &TenantId, user: &UserId, scenario: &ScenarioId, n: usize) -> Result<Vec<String>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        self.conn().lrange(self.key(keys::recent(tenant, user, scenario)), 0, n as isize - 1).await.map_err(unavailable)
    }

    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
        let _: () = self
            .conn()
            .del(&[
                self.key(keys::hot_items(tenant, scenario)),
                self.key(keys::metrics_realtime(tenant, scenario)),
                self.key(keys::scenario_config(tenant, scenario)),
                self.key(keys::catalog_version(tenant, scenario)),
            ])
            .await
            .map_err(unavailable)?;
        for pattern in keys::scenario_patterns(tenant, scenario) {
            self.delete_matching(&self.key(pattern)).await?;
        }
        Ok(())
    }
}

/// Inspection (tests and operators): a client for `url`.
pub fn client(url: &str) -> Result<redis::Client> {
    redis::Client::open(url).map_err(|e| Error::invalid(Code::BadBackendUrl, format!("bad redis url {url:?}: {e}")))
}

/// Inspection: every key matching `pattern`, with its Redis type.
pub async fn scan(client: &redis::Client, pattern: &str) -> Result<Vec<(String, String)>> {
    let mut conn = client.get_multiplexed_async_connection().await.map_err(unavailable)?;
    let keys = scan_keys(&mut conn, pattern).await?;
    let mut typed = Vec::with_capacity(keys.len());
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.map_err(unavailable)?;
        typed.push((key, kind));
    }
    Ok(typed)
}

/// Inspection: the members of a sorted set, set or list, the fields of a hash, or the value of
/// a string.
pub async fn members(client: &redis::Client, key: &str, kind: &str) -> Result<Vec<String>> {
    let mut conn = client.get_multiplexed_async_connection().await.map_err(unavailable)?;
    let members: Vec<String> = match kind {
        "zset" => conn.zrange(key, 0, -1).await,
        "set" => conn.smembers(key).await,
        "list" => conn.lrange(key, 0, -1).await,
        "hash" => conn.hkeys(key).await,
        _ => conn.get::<_, Option<String>>(key).await.map(|v| v.into_iter().collect()),
    }
    .map_err(unavailable)?;
    Ok(members)
}

#[cfg(test)]
mod tests {
    use super::cluster_nodes;

    #[test]
    fn a_cluster_url_names_its_seed_nodes_with_its_credentials() {
        assert_eq!(
            cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2:7001").unwrap(),
            ["redis://10.0.0.1:7000/", "redis://10.0.0.2:7001/"]
        );
        assert_eq!(cluster_nodes("redis+cluster://:s3cret@h:7000/0").unwrap(), ["redis://:s3cret@h:7000/"]);
        for bad in ["redis+cluster://h:7000/3", "redis+cluster://", "redis://h:6379"] {
            assert!(cluster_nodes(bad).is_err(), "{bad}");
        }
    }
}
