//! The event warehouse on ClickHouse (SPEC §4.3), over its HTTP interface.
//!
//! - `user_behaviors`: every event once, `PARTITION BY (tenant_id, month)`, ordered by
//!   `(tenant_id, scenario_id, timestamp_ms, event_id)` for per-tenant time queries.
//! - `metrics_hourly` and `item_stats_daily`: `SummingMergeTree` tables filled by the
//!   materialized views `metrics_hourly_mv` and `item_stats_daily_mv` on every insert into
//!   `user_behaviors` (the views write `TO` the tables, so the tables can be queried and cleaned
//!   by name). Readers `sum()` them, so rows not merged yet count correctly.
//! - `funnel_events`: the five columns a funnel reads (the event type as its place in
//!   `EventType::ALL`), filled by a view named by how many event types it knows
//!   (`funnel_events_mv_12`), ordered by tenant, scenario, day, user and time: a funnel groups by
//!   user, and reading each user's events together and in time order (`windowFunnel` sorts
//!   nothing) is what brought the 10 M-event funnel under a second (docs/benchmarks.md). A
//!   database made before the table existed is copied into it (`create_funnel_table`); a
//!   duplicate row there changes no funnel, which asks only whether a step was reached.
//!
//! The SQL keeps to what both the ClickHouse 18.16 server of Debian and current ClickHouse accept
//! (DESIGN §7): no DateTime64, no TTL clause, no window functions, no Map, no query parameters.
//! Times are stored as epoch milliseconds (`Int64`) and bucketed with integer division, so the
//! hour and day buckets are UTC and equal the embedded warehouse's to the millisecond.
//!
//! **Exactly once.** A batch is inserted as one block (atomic in ClickHouse), after a lookup of
//! which of its event ids are stored already; a replayed batch therefore inserts nothing and the
//! views count nothing twice. An insert that got no answer (the client's `timeout_ms`, default
//! 30 s, passed; the reply was lost) runs under a `query_id`, and the sink waits until the server
//! no longer runs it before the retry's lookup, so a slow insert is not inserted again beside
//! itself. Two sinks inserting the same event at once would need two members
//! holding one partition at once, which the consumer group's eager rebalance rules out: a member
//! gives its partitions up only from its poll, after the batch in hand is stored; what a sink
//! holds for a revoked partition is dropped, as are the records of a batch fetched across the
//! rebalance for a partition no longer held (`jobs::runner::still_held`): the new member reads
//! them from the committed offset. A dead member's partitions move only after its session times
//! out. The gaps left: a sink retrying a batch through a warehouse outage longer than the group's
//! `max.poll.interval.ms` (an hour) is dropped from the group while it still holds the batch; an
//! insert request held up in the network (not at the server) past the timeout and the retry can
//! both land — ClickHouse 18.16 has no insert deduplication outside replicated tables.
//! (`ReplacingMergeTree` would collapse duplicate raw rows on merge; the rollups would not.)

use polyrec_core::Code;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use polyrec_core::{Error, EventType, Result, ScenarioId, TenantId};

use crate::{BehaviorRow, BusRecord, Dimension, GroupTotals, HourlyRow, Interaction, Warehouse};

#[derive(Clone)]
pub struct ClickHouseWarehouse {
    http: reqwest::Client,
    /// `http://host:port/` of the server.
    base: String,
    database: String,
}

/// ClickHouse's error codes for a server that is overloaded, out of resources or cut off —
/// worth a retry — as opposed to a statement or data it refuses: timeouts (159, 209), network
/// (210), memory (241), read-only table (242), too many parts (252) or queries (202),
/// ZooKeeper / Keeper (225, 999), "cannot schedule task" (439).
fn is_transient(message: &str) -> bool {
    const CODES: [u32; 10] = [159, 202, 209, 210, 225, 241, 242, 252, 439, 999];
    message
        .split("Code: ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|code| code.parse::<u32>().ok())
        .is_some_and(|code| CODES.contains(&code))
}

/// How long a statement that still runs is waited for: an insert that got no answer, before its
/// retry looks it up; the copy into `funnel_events`, before a scenario is dropped.
const QUERY_WAIT: Duration = Duration::from_secs(300);

fn unavailable(error: impl std::fmt::Display) -> Error {
    Error::unavailable(format!("clickhouse: {error}"))
}

/// A string literal in ClickHouse SQL.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The columns an insert writes, in the order of each RowBinary row.
const INSERT_COLUMNS: &str = "tenant_id, scenario_id, event_id, user_id, item_id, event_type, timestamp_ms, \
    received_ms, value, request_id, experiment_id, context, bus_offset, device, item_category, exp_group";

/// Rows in ClickHouse's RowBinary format: each value in its column's binary layout, one after the
/// other, with nothing to escape here or to parse in the server (the sink sent JSONEachRow
/// before). Written here because the inserts need four layouts (String,
/// Int64, UInt64 and Nullable); the `clickhouse` crate would bring its own HTTP client and
/// row derive for them.
#[derive(Default)]
struct RowBinary(Vec<u8>);

impl RowBinary {
    /// A String: its length in bytes as an unsigned LEB128 varint, then the bytes.
    fn string(&mut self, value: &str) {
        let mut n = value.len() as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                break;
            }
            self.0.push(byte | 0x80);
        }
        self.0.extend_from_slice(value.as_bytes());
    }

    fn int64(&mut self, value: i64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn uint64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// A Nullable: one byte, 1 for NULL, else 0 and the value.
    fn nullable<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        match value {
            None => self.0.push(1),
            Some(value) => {
                self.0.push(0);
                write(self, value);
            }
        }
    }
}

impl ClickHouseWarehouse {
    /// Connects to `clickhouse://host:port/database` or `http://host:port/?database=NAME`
    /// (ClickHouse's HTTP port; database `polyrec` when none is named), creating the database,
    /// the tables and the views that are missing.
    pub async fn connect(url: &str) -> Result<Self> {
        let bad =
            |e: &dyn std::fmt::Display| Error::invalid(Code::BadBackendUrl, format!("bad clickhouse url {url:?}: {e}"));
        let mut parsed = reqwest::Url::parse(url).map_err(|e| bad(&e))?;
        let mut database = parsed.query_pairs().find(|(k, _)| k == "database").map(|(_, v)| v.into_owned());
        // How long a statement may go unanswered (`?timeout_ms=`, default 30 s).
        let timeout_ms = match parsed.query_pairs().find(|(k, _)| k == "timeout_ms") {
            Some((_, v)) => v.parse::<u64>().map_err(|e| bad(&format!("timeout_ms {v:?}: {e}")))?.max(1),
            None => 30_000,
        };
        if parsed.scheme() == "clickhouse" {
            let path = parsed.path().trim_matches('/');
            if !path.is_empty() {
                database = Some(path.to_owned());
            }
            let host = parsed.host_str().ok_or_else(|| bad(&"no host"))?.to_owned();
            let port = parsed.port().unwrap_or(8123);
            parsed = reqwest::Url::parse(&format!("http://{host}:{port}/")).map_err(|e| bad(&e))?;
        }
        let database = database.unwrap_or_else(|| "polyrec".to_owned());
        if database.is_empty() || !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::invalid(
                Code::BadBackendUrl,
                format!("clickhouse database name {database:?}: use letters, digits and _"),
            ));
        }
        let mut base = parsed.clone();
        base.set_query(None);
        base.set_path("/");
        // ClickHouse closes a keep-alive connection after `keep_alive_timeout` idle seconds (3 by
        // default); a pooled connection handed out just as the server closes it fails the request
        // ("error sending request"), a known race with every HTTP client whose idle timeout is
        // longer (reqwest's is 90 s). Idle connections are dropped here before the server does.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .map_err(unavailable)?;
        let warehouse = Self { http, base: base.to_string(), database };
        warehouse.create_schema().await?;
        Ok(warehouse)
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs a statement; the body of the answer is returned (TabSeparated unless the statement
    /// names a format).
    pub async fn execute(&self, sql: &str, body: Option<Vec<u8>>) -> Result<String> {
        self.execute_as(sql, body, None).await
    }

    /// [`ClickHouseWarehouse::execute`] under a `query_id` the server knows the statement by.
    async fn execute_as(&self, sql: &str, body: Option<Vec<u8>>, query_id: Option<&str>) -> Result<String> {
        let (query, body) = match body {
            // With a body, the statement travels in the URL and the data in the body.
            Some(data) => (Some(sql), data),
            None => (None, sql.as_bytes().to_vec()),
        };
        let mut request = self.http.post(&self.base).query(&[("database", self.database.as_str())]);
        if let Some(query) = query {
            request = request.query(&[("query", query)]);
        }
        if let Some(query_id) = query_id {
            request = request.query(&[("query_id", query_id)]);
        }
        self.answer(request.body(body)).await
    }

    /// Sends a request and returns the body of the answer, or the error it says.
    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<String> {
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let text = response.text().await.map_err(unavailable)?;
        if !status.is_success() {
            let message = text.trim();
            // A syntax, schema or data error is ours, not the server's absence; an overloaded
            // or unreachable server is (the stream jobs retry the one and isolate the other).
            return Err(if status.is_server_error() && (!message.contains("Code:") || is_transient(message)) {
                unavailable(format!("{status}: {message}"))
            } else {
                Error::internal(format!("clickhouse: {message}"))
            });
        }
        Ok(text)
    }

    async fn create_schema(&self) -> Result<()> {
        // The database first, from the default one.
        let create_db = format!("CREATE DATABASE IF NOT EXISTS {}", self.database);
        let response = self.http.post(&self.base).body(create_db).send().await.map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(unavailable(response.text().await.unwrap_or_default()));
        }
        for statement in SCHEMA {
            self.execute(statement, None).await?;
        }
        self.create_funnel_table().await
    }

    /// `funnel_events` and the view that fills it (see the module's notes). Every state a crash
    /// or another process can leave is taken up again: a table made here starts with a marker
    /// (`funnel_events_copying`) that goes only once the events stored before it are copied in,
    /// and a start that finds the marker copies again; views for fewer event types (an older
    /// version's) are dropped once this version's exists, made first so that no insert between
    /// the two is missed; a view for more types (a newer version's, during a rolling upgrade) is
    /// left alone, and that version drops this one's. What can be left is duplicate rows, which
    /// change no funnel (it asks only whether a step was reached): from two processes that both
    /// found the table missing, or a copy the server finished after its process died.
    async fn create_funnel_table(&self) -> Result<()> {
        let listed = self
            .execute(
                &format!(
                    "SELECT name FROM system.tables WHERE database = {} AND startsWith(name, 'funnel_events')",
                    quote(&self.database)
                ),
                None,
            )
            .await?;
        let names: std::collections::HashSet<&str> = listed.lines().collect();
        let views: Vec<usize> =
            names.iter().filter_map(|name| name.strip_prefix(FUNNEL_VIEW_PREFIX)?.parse().ok()).collect();
        let types = EventType::ALL.len();
        let table_missing = !names.contains("funnel_events");
        if table_missing {
            self.execute(&format!("CREATE TABLE IF NOT EXISTS {FUNNEL_COPYING} (pending UInt8) ENGINE = Log"), None)
                .await?;
            self.execute(&format!("CREATE TABLE IF NOT EXISTS funnel_events ({FUNNEL_COLUMNS}) {FUNNEL_ENGINE}"), None)
                .await?;
        }
        if views.iter().all(|&v| v <= types) {
            let view = format!("{FUNNEL_VIEW_PREFIX}{types}");
            let sql = format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO funnel_events AS {}", funnel_copy());
            self.execute(&sql, None).await?;
            for old in views.iter().filter(|&&v| v < types) {
                self.execute(&format!("DROP TABLE IF EXISTS {FUNNEL_VIEW_PREFIX}{old}"), None).await?;
            }
        }
        if table_missing || names.contains(FUNNEL_COPYING) {
            // A long copy goes on in the background; a short one (a new database) ends here.
            let copy = tokio::spawn(self.clone().copy_into_funnel_table());
            let _ = tokio::time::timeout(FUNNEL_COPY_WAIT, copy).await;
        }
        Ok(())
    }

    /// Copies the events stored before `funnel_events` existed into it, then drops the marker.
    /// Under one query id per database ([`funnel_copy_id`]), so that two processes do not copy
    /// at once (ClickHouse refuses the second) and `drop_scenario` can wait for it.
    async fn copy_into_funnel_table(self) {
        let query_id = funnel_copy_id(&self.database);
        let request = self
            .http
            .post(&self.base)
            .query(&[("database", self.database.as_str()), ("query_id", query_id.as_str())])
            .timeout(FUNNEL_COPY_TIMEOUT)
            .body(format!("INSERT INTO funnel_events {}", funnel_copy()));
        let copied = match self.answer(request).await {
            Ok(_) => self.execute(&format!("DROP TABLE IF EXISTS {FUNNEL_COPYING}"), None).await,
            Err(error) => Err(error),
        };
        if let Err(error) = copied {
            tracing::warn!(%error, database = %self.database, "copying the stored events into funnel_events did not finish; the next start copies again");
        }
    }

    /// Waits until the statement `query_id` no longer runs on the server: polls
    /// `system.processes` until it is absent `absent_polls` times in a row (more than once for a
    /// statement that may still be on its way in), up to [`QUERY_WAIT`]. A server that cannot be
    /// asked is left to the caller's next statement, which fails the same way until it answers.
    async fn wait_for_query(&self, query_id: &str, absent_polls: usize) {
        let sql = format!("SELECT count() FROM system.processes WHERE query_id = {}", quote(query_id));
        let started = std::time::Instant::now();
        let mut absent = 0;
        loop {
            match self.execute(&sql, None).await.map(|count| count.trim() == "0") {
                Ok(true) => absent += 1,
                Ok(false) => absent = 0,
                Err(error) => {
                    tracing::warn!(query_id, %error, "could not ask clickhouse whether a statement still runs");
                    return;
                }
            }
            if absent >= absent_polls {
                return;
            }
            if started.elapsed() >= QUERY_WAIT {
                tracing::warn!(query_id, "a statement still runs after {QUERY_WAIT:?}; going on anyway");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The event ids of `records` that are stored already.
    async fn stored_ids(&self, records: &[BusRecord]) -> Result<std::collections::HashSet<String>> {
        // Per (tenant, scenario): the event time range lets the primary key prune the lookup.
        let mut groups: BTreeMap<(&str, &str), (i64, i64, Vec<&str>)> = BTreeMap::new();
        for record in records {
            let e = &record.event;
            let group = groups.entry((e.tenant_id.as_str(), e.scenario_id.as_str())).or_insert((
                i64::MAX,
                i64::MIN,
                Vec::new(),
            ));
            group.0 = group.0.min(e.timestamp_ms);
            group.1 = group.1.max(e.timestamp_ms);
            group.2.push(&e.event_id);
        }
        let mut stored = std::collections::HashSet::new();
        for ((tenant, scenario), (from, to, ids)) in groups {
            // The ids travel as an external table in RowBinary, not as literals of an IN list,
            // which the server parses one by one: on 10 M stored rows, 4,000 literals took
            // 0.24 s, 10,000 ids as a table 0.05 s; with the literals, the lookups held the sink
            // to about 40,000 events/s (docs/benchmarks.md).
            let mut table = RowBinary::default();
            for id in &ids {
                table.string(id);
            }
            let sql = format!(
                "SELECT event_id FROM user_behaviors WHERE tenant_id = {} AND scenario_id = {} \
                 AND timestamp_ms >= {from} AND timestamp_ms <= {to} AND event_id IN batch_ids FORMAT TabSeparated",
                quote(tenant),
                quote(scenario)
            );
            let form = reqwest::multipart::Form::new()
                .part("batch_ids", reqwest::multipart::Part::bytes(table.0).file_name("batch_ids"));
            let request = self.http.post(&self.base).multipart(form).query(&[
                ("database", self.database.as_str()),
                ("query", &sql),
                ("batch_ids_structure", "event_id String"),
                ("batch_ids_format", "RowBinary"),
            ]);
            // Event ids are letters, digits, '-', '_' and '.' (checked at ingestion): nothing
            // TabSeparated escapes.
            let found = self.answer(request).await?;
            stored.extend(found.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
        Ok(stored)
    }

    /// Waits until the deletes (mutations) queued on this database are applied.
    async fn wait_for_mutations(&self) -> Result<()> {
        for _ in 0..600 {
            let pending = self
                .execute(
                    &format!(
                        "SELECT count() FROM system.mutations WHERE database = {} AND is_done = 0",
                        quote(&self.database)
                    ),
                    None,
                )
                .await?;
            if pending.trim() == "0" {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(unavailable("deletes did not finish within 60 s"))
    }
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS user_behaviors (
        tenant_id     String,
        scenario_id   String,
        event_id      String,
        user_id       String,
        item_id       String,
        event_type    String,
        timestamp_ms  Int64,
        received_ms   Int64,
        value         Nullable(Float64),
        request_id    Nullable(String),
        experiment_id String,
        context       String,
        bus_offset    UInt64,
        device        String DEFAULT '',
        item_category String DEFAULT '',
        exp_group     String DEFAULT ''
    ) ENGINE = ReplacingMergeTree()
    PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(timestamp_ms, 1000))))
    ORDER BY (tenant_id, scenario_id, timestamp_ms, event_id)",
    "CREATE TABLE IF NOT EXISTS metrics_hourly (
        tenant_id   String,
        scenario_id String,
        hour_ms     Int64,
        event_type  String,
        events      UInt64,
        value_sum   Float64
    ) ENGINE = SummingMergeTree()
    PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(hour_ms, 1000))))
    ORDER BY (tenant_id, scenario_id, hour_ms, event_type)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_hourly_mv TO metrics_hourly AS
    SELECT tenant_id, scenario_id, intDiv(timestamp_ms, 3600000) * 3600000 AS hour_ms, event_type,
           count() AS events, sum(ifNull(value, 0)) AS value_sum
    FROM user_behaviors GROUP BY tenant_id, scenario_id, hour_ms, event_type",
    "CREATE TABLE IF NOT EXISTS item_stats_daily (
        tenant_id   String,
        scenario_id String,
        item_id     String,
        day_ms      Int64,
        event_type  String,
        events      UInt64
    ) ENGINE = SummingMergeTree()
    PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(day_ms, 1000))))
    ORDER BY (tenant_id, scenario_id, item_id, day_ms, event_type)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS item_stats_daily_mv TO item_stats_daily AS
    SELECT tenant_id, scenario_id, item_id, intDiv(timestamp_ms, 86400000) * 86400000 AS day_ms, event_type,
           count() AS events
    FROM user_behaviors GROUP BY tenant_id, scenario_id, item_id, day_ms, event_type",
    "CREATE TABLE IF NOT EXISTS metrics_hourly_dims (
        tenant_id   String,
        scenario_id String,
        dimension   String,
        hour_ms     Int64,
        dim_value   String,
        event_type  String,
        events      UInt64,
        value_sum   Float64
    ) ENGINE = SummingMergeTree()
    PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(hour_ms, 1000))))
    ORDER BY (tenant_id, dimension, scenario_id, hour_ms, dim_value, event_type)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_hourly_dims_mv TO metrics_hourly_dims AS
    SELECT tenant_id, scenario_id, dim.1 AS dimension, intDiv(timestamp_ms, 3600000) * 3600000 AS hour_ms,
           dim.2 AS dim_value, event_type, count() AS events, sum(ifNull(value, 0)) AS value_sum
    FROM user_behaviors
    ARRAY JOIN [('device', device), ('category', item_category), ('group', exp_group)] AS dim
    WHERE dim.2 != ''
    GROUP BY tenant_id, scenario_id, dimension, hour_ms, dim_value, event_type",
];

const DAY_MS: i64 = 86_400_000;

/// `event_type` is the type's place in `EventType::ALL`, from 1 (see [`event_type_code`]): a
/// byte to compare instead of a string, and, unlike an `Enum8`, a cast that cannot fail — a view
/// made before a type existed stores 0 for it until this version's view replaces it.
const FUNNEL_COLUMNS: &str =
    "tenant_id String, scenario_id String, user_id String, timestamp_ms Int64, event_type UInt8";

/// Day buckets in the key prune a funnel's window; within a day, a user's events lie together.
const FUNNEL_ENGINE: &str = "ENGINE = MergeTree() \
    PARTITION BY (tenant_id, toYYYYMM(toDateTime(intDiv(timestamp_ms, 1000)))) \
    ORDER BY (tenant_id, scenario_id, intDiv(timestamp_ms, 86400000), user_id, timestamp_ms)";

/// The views that fill `funnel_events` are named by how many event types they know.
const FUNNEL_VIEW_PREFIX: &str = "funnel_events_mv_";

/// Present while the events stored before `funnel_events` existed are not all copied into it.
const FUNNEL_COPYING: &str = "funnel_events_copying";

/// How long `connect` waits for that copy before leaving it to the background, and how long the
/// copy may take.
const FUNNEL_COPY_WAIT: Duration = Duration::from_secs(5);
const FUNNEL_COPY_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// The query id of the copy into `funnel_events`, one per database.
fn funnel_copy_id(database: &str) -> String {
    format!("polyrec-funnel-copy-{database}")
}

/// The code `funnel_events` stores for an event type.
fn event_type_code(event_type: EventType) -> usize {
    EventType::ALL.iter().position(|&t| t == event_type).map_or(0, |i| i + 1)
}

/// The rows of `user_behaviors` as `funnel_events` holds them (the view's query and the copy's).
fn funnel_copy() -> String {
    let names: Vec<String> = EventType::ALL.iter().map(|t| quote(t.as_str())).collect();
    format!(
        "SELECT tenant_id, scenario_id, user_id, timestamp_ms, toUInt8(indexOf([{}], event_type)) AS event_type \
         FROM user_behaviors",
        names.join(", ")
    )
}

/// The interest weight of each event type as a ClickHouse expression, from the one definition
/// in `EventType::interest_weight`.
fn weight_expr() -> String {
    let names: Vec<String> = EventType::ALL.iter().map(|t| quote(t.as_str())).collect();
    let weights: Vec<String> = EventType::ALL.iter().map(|t| format!("{:?}", t.interest_weight())).collect();
    format!("transform(event_type, [{}], [{}], 0.)", names.join(","), weights.join(","))
}

#[async_trait]
impl Warehouse for ClickHouseWarehouse {
    async fn insert(&self, records: &[BusRecord]) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let stored = self.stored_ids(records).await?;
        let mut body = RowBinary::default();
        let mut seen = std::collections::HashSet::new();
        let mut inserted = 0;
        for record in records {
            let e = &record.event;
            if stored.contains(&e.event_id) || !seen.insert(e.event_id.as_str()) {
                continue;
            }
            body.string(e.tenant_id.as_str());
            body.string(e.scenario_id.as_str());
            body.string(&e.event_id);
            body.string(e.user_id.as_str());
            body.string(e.item_id.as_str());
            body.string(e.event_type.as_str());
            body.int64(e.timestamp_ms);
            body.int64(e.received_ms);
            // Validated finite at ingestion; a NaN would be stored as NULL, as JSON did.
            body.nullable(e.value.filter(|v| v.is_finite()), |b, v| b.0.extend_from_slice(&v.to_le_bytes()));
            body.nullable(e.request_id.as_deref(), RowBinary::string);
            body.string(e.experiment_id().unwrap_or(""));
            let context =
                e.context.as_ref().map(|c| serde_json::Value::Object(c.clone()).to_string()).unwrap_or_default();
            body.string(&context);
            body.uint64(record.offset);
            for dimension in [Dimension::Device, Dimension::Category, Dimension::Group] {
                body.string(&dimension.of(e).unwrap_or_default());
            }
            inserted += 1;
        }
        if inserted > 0 {
            let query_id = format!("polyrec-insert-{}", uuid::Uuid::now_v7());
            let sql = format!("INSERT INTO user_behaviors ({INSERT_COLUMNS}) FORMAT RowBinary");
            if let Err(error) = self.execute_as(&sql, Some(body.0), Some(&query_id)).await {
                // No answer is not "not inserted": the server may still be inserting the block
                // (a slow insert past the client's timeout, a reply lost on the way). The retry
                // looks up which events are stored, so it must not run before this insert has
                // ended; it is waited for here (one block is atomic: all or none).
                if matches!(error, Error::Unavailable { .. }) {
                    self.wait_for_query(&query_id, 3).await;
                }
                return Err(error);
            }
        }
        Ok(inserted)
    }

    async fn count(&self, tenant: &TenantId, scenario: Option<&ScenarioId>) -> Result<u64> {
        let mut sql = format!("SELECT sum(events) FROM metrics_hourly WHERE tenant_id = {}", quote(tenant.as_str()));
        if let Some(scenario) = scenario {
            let _ = write!(sql, " AND scenario_id = {}", quote(scenario.as_str()));
        }
        let text = self.execute(&sql, None).await?;
        text.trim().parse().map_err(|e| Error::internal(format!("clickhouse count {text:?}: {e}")))
    }

    async fn interactions(&self, tenant: &TenantId, scenario: &ScenarioId, since_ms: i64) -> Result<Vec<Interaction>> {
        let sql = format!(
            "SELECT user_id, item_id, sum({}) AS w, max(timestamp_ms) FROM user_behaviors
             WHERE tenant_id = {} AND scenario_id = {} AND timestamp_ms >= {since_ms} AND event_type != 'impression'
             GROUP BY user_id, item_id FORMAT TabSeparated",
            weight_expr(),
            quote(tenant.as_str()),
            quote(scenario.as_str())
        );
        let text = self.execute(&sql, None).await?;
        crate::blocking(move || parse_interactions(&text)).await?
    }

    async fn behaviors(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        since_ms: i64,
        types: &[EventType],
        limit: usize,
    ) -> Result<Vec<BehaviorRow>> {
        let types: Vec<String> = types.iter().map(|t| quote(t.as_str())).collect();
        // The latest `limit`, returned oldest first. JSONEachRow: contexts are free text.
        let sql = format!(
            "SELECT user_id, item_id, event_type, timestamp_ms, value, request_id, context FROM (
                 SELECT user_id, item_id, event_type, timestamp_ms, value, request_id, context, event_id
                 FROM user_behaviors
                 WHERE tenant_id = {} AND scenario_id = {} AND timestamp_ms >= {since_ms} AND event_type IN ({})
                 ORDER BY timestamp_ms DESC, event_id DESC LIMIT {limit}
             ) ORDER BY timestamp_ms, event_id FORMAT JSONEachRow",
            quote(tenant.as_str()),
            quote(scenario.as_str()),
            types.join(", ")
        );
        let text = self.execute(&sql, None).await?;
        crate::blocking(move || parse_behaviors(&text)).await?
    }

    async fn funnel(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        steps: &[EventType],
        window_ms: i64,
        span: std::ops::Range<i64>,
    ) -> Result<Vec<u64>> {
        let (since_ms, until_ms) = (span.start, span.end);
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let conditions: Vec<String> = steps.iter().map(|&s| format!("event_type = {}", event_type_code(s))).collect();
        let mut kinds: Vec<usize> = steps.iter().map(|&s| event_type_code(s)).collect();
        kinds.sort();
        kinds.dedup();
        let kinds: Vec<String> = kinds.iter().map(usize::to_string).collect();
        // Milliseconds since the span's start, as the embedded warehouse counts them, when the
        // span fits windowFunnel's UInt32 clock (49 days); whole seconds beyond.
        let (clock, window) = if until_ms - since_ms <= i64::from(u32::MAX) {
            (format!("toUInt32(timestamp_ms - {since_ms})"), window_ms.max(1))
        } else {
            (format!("toUInt32(intDiv(timestamp_ms - {since_ms}, 1000))"), (window_ms / 1000).max(1))
        };
        let sql = format!(
            "SELECT level, count() FROM (
                 SELECT user_id, windowFunnel({window})({clock}, {}) AS level
                 FROM funnel_events
                 WHERE tenant_id = {} AND scenario_id = {}
                   AND intDiv(timestamp_ms, {DAY_MS}) >= {} AND intDiv(timestamp_ms, {DAY_MS}) <= {}
                   AND timestamp_ms >= {since_ms} AND timestamp_ms < {until_ms}
                   AND event_type IN ({})
                 GROUP BY user_id
             ) GROUP BY level FORMAT TabSeparated",
            conditions.join(", "),
            quote(tenant.as_str()),
            quote(scenario.as_str()),
            // Truncating division, as ClickHouse's intDiv: both are monotonic, so no event of
            // the span lies outside these days.
            since_ms / DAY_MS,
            until_ms / DAY_MS,
            kinds.join(", ")
        );
        let text = self.execute(&sql, None).await?;
        let mut reached = vec![0u64; steps.len()];
        for line in text.lines().filter(|l| !l.is_empty()) {
            let bad = || Error::internal(format!("clickhouse funnel row {line:?}"));
            let (level, users) = line.split_once('\t').ok_or_else(bad)?;
            let (level, users): (usize, u64) = (level.parse().map_err(|_| bad())?, users.parse().map_err(|_| bad())?);
            crate::count_depth(&mut reached, level, users);
        }
        Ok(reached)
    }

    async fn experiment_totals(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        experiment: &str,
        since_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<GroupTotals>> {
        // The context is stored as compact JSON, which visitParam* reads.
        let sql = format!(
            "SELECT visitParamExtractString(context, 'group') AS g, uniqExact(user_id),
                    countIf(event_type = 'impression'), countIf(event_type = 'click'), countIf(event_type = 'order'),
                    countIf(event_type IN ('play', 'view') AND isNotNull(value)),
                    sumIf(ifNull(value, 0), event_type IN ('play', 'view')),
                    sumIf(ifNull(value, 0) * ifNull(value, 0), event_type IN ('play', 'view')),
                    sumIf(ifNull(value, 0), event_type = 'order')
             FROM user_behaviors
             WHERE tenant_id = {} AND scenario_id = {} AND timestamp_ms >= {since_ms} AND timestamp_ms < {until_ms}
               AND experiment_id = {}
             GROUP BY g HAVING g != '' ORDER BY g FORMAT TabSeparated",
            quote(tenant.as_str()),
            quote(scenario.as_str()),
            quote(experiment)
        );
        let text = self.execute(&sql, None).await?;
        text.lines()
            .filter(|line| !line.is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let bad = || Error::internal(format!("clickhouse experiment totals row {line:?}"));
                if fields.len() != 9 {
                    return Err(bad());
                }
                let count = |i: usize| fields[i].parse::<u64>().map_err(|_| bad());
                let sum = |i: usize| fields[i].parse::<f64>().map_err(|_| bad());
                Ok(GroupTotals {
                    group: fields[0].to_owned(),
                    users: count(1)?,
                    impressions: count(2)?,
                    clicks: count(3)?,
                    orders: count(4)?,
                    watches: count(5)?,
                    watch_sum: sum(6)?,
                    watch_sum_squares: sum(7)?,
                    revenue: sum(8)?,
                })
            })
            .collect()
    }

    async fn hourly(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<HourlyRow>> {
        let scenario_filter = scenario.map_or(String::new(), |s| format!(" AND scenario_id = {}", quote(s.as_str())));
        // SummingMergeTree merges in the background: rows of one key are summed here.
        let sql = format!(
            "SELECT hour_ms, scenario_id, event_type, sum(events), sum(value_sum) FROM metrics_hourly
             WHERE tenant_id = {}{scenario_filter} AND hour_ms >= {from_ms} AND hour_ms < {to_ms}
             GROUP BY hour_ms, scenario_id, event_type ORDER BY hour_ms, scenario_id, event_type FORMAT TabSeparated",
            quote(tenant.as_str()),
        );
        let text = self.execute(&sql, None).await?;
        text.lines()
            .filter(|line| !line.is_empty())
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let bad = || Error::internal(format!("clickhouse hourly row {line:?}"));
                if fields.len() != 5 {
                    return Err(bad());
                }
                Ok(HourlyRow {
                    hour_ms: fields[0].parse().map_err(|_| bad())?,
                    scenario_id: fields[1].to_owned(),
                    event_type: EventType::parse(fields[2]).ok_or_else(bad)?,
                    events: fields[3].parse().map_err(|_| bad())?,
                    value_sum: fields[4].parse().map_err(|_| bad())?,
                })
            })
            .collect()
    }

    async fn hourly_by(
        &self,
        tenant: &TenantId,
        scenario: Option<&ScenarioId>,
        dimension: Dimension,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, HourlyRow)>> {
        let scenario_filter = scenario.map_or(String::new(), |s| format!(" AND scenario_id = {}", quote(s.as_str())));
        // Values are free text: JSONEachRow escapes them.
        let sql = format!(
            "SELECT dim_value, hour_ms, scenario_id, event_type, sum(events) AS events, sum(value_sum) AS value_sum
             FROM metrics_hourly_dims
             WHERE tenant_id = {} AND dimension = {}{scenario_filter} AND hour_ms >= {from_ms} AND hour_ms < {to_ms}
             GROUP BY hour_ms, scenario_id, dim_value, event_type
             ORDER BY hour_ms, scenario_id, dim_value, event_type FORMAT JSONEachRow",
            quote(tenant.as_str()),
            quote(dimension.as_str()),
        );
        let text = self.execute(&sql, None).await?;
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let bad = || Error::internal(format!("clickhouse dimension row {line:?}"));
                let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).map_err(|_| bad())?;
                let text = |key: &str| row.get(key).and_then(|v| v.as_str()).ok_or_else(bad);
                // 64-bit integers come quoted.
                let number = |key: &str| match row.get(key) {
                    Some(serde_json::Value::String(s)) => s.parse::<f64>().ok(),
                    Some(value) => value.as_f64(),
                    None => None,
                };
                let hour_ms: i64 = text("hour_ms")?.parse().map_err(|_| bad())?;
                Ok((
                    text("dim_value")?.to_owned(),
                    HourlyRow {
                        hour_ms,
                        scenario_id: text("scenario_id")?.to_owned(),
                        event_type: EventType::parse(text("event_type")?).ok_or_else(bad)?,
                        events: number("events").ok_or_else(bad)? as u64,
                        value_sum: number("value_sum").ok_or_else(bad)?,
                    },
                ))
            })
            .collect()
    }

    async fn top_items(
        &self,
        tenant: &TenantId,
        scenario: &ScenarioId,
        event_type: EventType,
        from_ms: i64,
        to_ms: i64,
        n: usize,
    ) -> Result<Vec<(String, u64)>> {
        let sql = format!(
            "SELECT item_id, sum(events) AS n FROM item_stats_daily
             WHERE tenant_id = {} AND scenario_id = {} AND event_type = {} AND day_ms >= {from_ms} AND day_ms < {to_ms}
             GROUP BY item_id ORDER BY n DESC, item_id LIMIT {n} FORMAT TabSeparated",
            quote(tenant.as_str()),
            quote(scenario.as_str()),
            quote(event_type.as_str()),
        );
        let text = self.execute(&sql, None).await?;
        text.lines()
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (item, count) =
                    line.split_once('\t').ok_or_else(|| Error::internal(format!("top item row {line:?}")))?;
                Ok((item.to_owned(), count.parse().map_err(|_| Error::internal(format!("top item row {line:?}")))?))
            })
            .collect()
    }

    async fn drop_scenario(&self, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
        // A copy into funnel_events still running would bring the scenario's rows back.
        self.wait_for_query(&funnel_copy_id(&self.database), 1).await;
        for table in ["user_behaviors", "metrics_hourly", "item_stats_daily", "metrics_hourly_dims", "funnel_events"] {
            self.execute(
                &format!(
                    "ALTER TABLE {table} DELETE WHERE tenant_id = {} AND scenario_id = {}",
                    quote(tenant.as_str()),
                    quote(scenario.as_str())
                ),
                None,
            )
            .await?;
        }
        self.wait_for_mutations().await
    }
}

/// `interactions`' TabSeparated answer.
fn parse_interactions(text: &str) -> Result<Vec<Interaction>> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            // Ids are plain (`[A-Za-z0-9_.@-]`), so TabSeparated needs no unescaping.
            let mut fields = line.split('\t');
            let mut next = || fields.next().ok_or_else(|| Error::internal(format!("short row {line:?}")));
            let (user_id, item_id, weight, last) = (next()?, next()?, next()?, next()?);
            Ok(Interaction {
                user_id: user_id.to_owned(),
                item_id: item_id.to_owned(),
                weight: weight.parse().map_err(|e| Error::internal(format!("weight {weight:?}: {e}")))?,
                last_ms: last.parse().map_err(|e| Error::internal(format!("time {last:?}: {e}")))?,
            })
        })
        .collect()
}

/// `behaviors`' JSONEachRow answer.
fn parse_behaviors(text: &str) -> Result<Vec<BehaviorRow>> {
    let corrupt = |what: &str, line: &str| Error::internal(format!("clickhouse behavior row, {what}: {line:?}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let row: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).map_err(|_| corrupt("not JSON", line))?;
            let text = |key: &str| row.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            // 64-bit integers come quoted by default.
            let timestamp_ms = match row.get("timestamp_ms") {
                Some(serde_json::Value::String(s)) => s.parse().ok(),
                Some(value) => value.as_i64(),
                None => None,
            }
            .ok_or_else(|| corrupt("timestamp", line))?;
            let event_type =
                text("event_type").and_then(|t| EventType::parse(&t)).ok_or_else(|| corrupt("type", line))?;
            Ok(BehaviorRow {
                user_id: text("user_id").ok_or_else(|| corrupt("user", line))?,
                item_id: text("item_id").ok_or_else(|| corrupt("item", line))?,
                event_type,
                timestamp_ms,
                value: row.get("value").and_then(|v| v.as_f64()),
                request_id: text("request_id"),
                context: crate::parse_context(text("context").as_deref())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `funnel_events` keeps these codes on disk: a type moved in `EventType::ALL` would turn
    /// the stored rows into another type.
    #[test]
    fn the_funnel_codes_of_the_event_types_do_not_change() {
        let codes: Vec<(&str, usize)> = EventType::ALL.iter().map(|&t| (t.as_str(), event_type_code(t))).collect();
        assert_eq!(
            codes,
            [
                ("impression", 1),
                ("click", 2),
                ("view", 3),
                ("play", 4),
                ("read", 5),
                ("learn", 6),
                ("like", 7),
                ("share", 8),
                ("comment", 9),
                ("add_cart", 10),
                ("order", 11),
                ("payment", 12),
            ]
        );
    }
}
