//! The behavior service: checks events and appends them to the event bus. It never writes the
//! document store (SPEC §3.1); the stream jobs carry events on from the bus. An event is
//! acknowledged only after the bus has made it durable.

use polyrec_core::Code;
use std::collections::HashMap;

use polyrec_core::clock::{DAY_MS, MINUTE_MS};
use polyrec_core::limits::{MAX_EVENT_VALUE, check_depth};
use polyrec_core::timefmt::parse_timestamp;
use polyrec_core::{Error, Event, EventType, ItemId, Result, ScenarioId, TenantId, UserId, UserInfo};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::App;
use crate::tenancy::Charge;

pub const MAX_REQUEST_ID_LEN: usize = 128;
pub const MAX_CONTEXT_BYTES: usize = 8 * 1024;
/// Events may be up to this far ahead of the server's clock (client clock skew).
pub const MAX_FUTURE_MS: i64 = 10 * MINUTE_MS;
/// Events older than this are refused (10 years).
pub const MAX_AGE_MS: i64 = 3650 * DAY_MS;

/// One behavior event as sent by a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Your id for this event, to make sending it idempotent: 1–128 letters, digits, `-`, `_`
    /// or `.` (a UUID or ULID fits), unique within the tenant. An event whose `event_id` was
    /// stored in the last 7 days (the bus's retention) is answered `duplicate` and stored,
    /// counted and folded once, however often it is sent or retried.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    pub event_id: Option<String>,
    /// impression, click, view, play, read, learn, like, share, comment, add_cart, order, payment.
    #[schema(value_type = EventType)]
    pub event_type: String,
    pub user_id: String,
    pub item_id: String,
    pub scenario_id: String,
    /// RFC 3339, or epoch seconds/milliseconds; the time of receipt when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub timestamp: Option<Value>,
    /// The `request_id` of the recommend answer this event follows.
    #[serde(default)]
    pub request_id: Option<String>,
    /// e.g. watch seconds for play, price for order; at most 10^12 in magnitude.
    #[serde(default)]
    #[schema(minimum = -1e12, maximum = 1e12)]
    pub value: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// Each an event (`EventInput`), checked on its own: an invalid one is reported in `errors`
    /// with its index and the others are accepted, so the batch takes any JSON values here.
    /// Kept as raw JSON until each event is read: a body of many events then takes about its
    /// own size in memory, not the many times more that a tree of values would.
    #[schema(value_type = Vec<Value>)]
    pub events: Vec<Box<serde_json::value::RawValue>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The id the event is stored under (for a duplicate, the first one's).
    pub event_id: String,
    pub status: Stored,
}

/// What became of an event the service took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// Appended to the bus now.
    Stored,
    /// Its client `event_id` was stored before: not appended again.
    Duplicate,
}

/// One taken event of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResult {
    /// Position of the event in `events`, from 0.
    pub index: usize,
    pub event_id: String,
    pub status: Stored,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventError {
    /// Position of the event in `events`, from 0.
    pub index: usize,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReport {
    /// Events stored now.
    pub accepted: usize,
    pub rejected: usize,
    /// Events whose client `event_id` was stored before (not stored again).
    pub duplicates: usize,
    /// The ids of the accepted events, in order.
    pub event_ids: Vec<String>,
    /// Every event taken (stored now or a duplicate), in order.
    pub results: Vec<EventResult>,
    /// Every event not taken, with why: invalid (4xx codes: fix it) or not stored because the bus
    /// took part of the batch only (`unavailable`: send that event again).
    pub errors: Vec<EventError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventStats {
    /// Events of this tenant on the event bus (everything ever acknowledged, and replays).
    pub events: u64,
    /// Events of this tenant the warehouse holds (lags the bus by the sink's batch).
    pub warehouse_events: u64,
    /// Dead letters this tenant has (of every stream job), kept 7 days.
    pub dead_letters: u64,
}

/// The stream jobs' names, for the `job` filter of the dead letters.
fn check_job(job: &str) -> Result<&'static str> {
    crate::jobs::STREAM_JOBS.iter().copied().find(|name| *name == job).ok_or_else(|| {
        Error::invalid(
            Code::InvalidJob,
            format!("job {job:?} is not a stream job; use one of: {}", crate::jobs::STREAM_JOBS.join(", ")),
        )
    })
}

/// The stream jobs, as the API names them (`jobs::STREAM_JOBS`).
#[derive(ToSchema)]
#[schema(as = StreamJob)]
#[allow(dead_code, non_camel_case_types)] // only its schema is used
pub enum StreamJobName {
    warehouse_sink,
    user_profile_aggregator,
    item_hot_score,
    recommendation_metrics,
}

/// A dead-letter cursor is an id (`{job}/{event_id}`).
pub const MAX_CURSOR_LEN: usize = 256;

/// The most dead letters one page lists, and one replay re-queues.
pub const MAX_DEAD_LETTER_PAGE: usize = 1_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this stream job's: warehouse_sink, user_profile_aggregator, item_hot_score,
    /// recommendation_metrics.
    #[param(value_type = Option<StreamJobName>)]
    pub job: Option<String>,
    /// 1 to 1,000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 256)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    /// In id order (`{job}/{event_id}`: by job, then by event time).
    #[schema(value_type = Vec<Object>)]
    pub dead_letters: Vec<polyrec_core::DeadLetter>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Only this stream job's dead letters (all jobs' when absent).
    #[serde(default)]
    #[schema(value_type = Option<StreamJobName>)]
    pub job: Option<String>,
    /// Only these dead letters (ids from the list); the first `limit` otherwise.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub ids: Option<Vec<String>>,
    /// At most this many, 1 to 1,000 (default 1,000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReport {
    /// Dead letters re-queued: each event is back on the bus for the one job that failed on
    /// it, and its dead letter is gone (it comes back if the job fails on it again).
    pub replayed: usize,
}

fn page_limit(limit: Option<usize>, default: usize) -> Result<usize> {
    match limit.unwrap_or(default) {
        n @ 1..=MAX_DEAD_LETTER_PAGE => Ok(n),
        n => Err(Error::invalid(Code::InvalidLimit, format!("limit must be 1 to {MAX_DEAD_LETTER_PAGE}, got {n}"))),
    }
}

/// A page of the tenant's dead letters.
pub async fn dead_letters(app: &App, tenant: &TenantId, query: DeadLetterQuery) -> Result<DeadLetterPage> {
    let job = query.job.as_deref().map(check_job).transpose()?;
    let limit = page_limit(query.limit, 100)?;
    if query.cursor.as_ref().is_some_and(|cursor| cursor.len() > MAX_CURSOR_LEN) {
        return Err(Error::invalid(Code::InvalidCursor, format!("cursor is at most {MAX_CURSOR_LEN} characters")));
    }
    let letters = app.stores.documents.list_dead_letters(tenant, job, query.cursor.as_deref(), limit).await?;
    let next_cursor = (letters.len() == limit).then(|| letters.last().map(|l| l.id.clone())).flatten();
    Ok(DeadLetterPage { dead_letters: letters, next_cursor })
}

/// Re-queues dead letters after a fix: each event goes back on the bus marked for the job that
/// failed on it (the others applied it already and skip it), then its dead letter is removed.
/// The events are charged to the tenant's event rate like new ones.
/// A crash between the two leaves the letter, and a second replay re-queues it again; the
/// warehouse skips an event id it has, the other jobs may count it twice.
pub async fn replay(app: &App, tenant: &TenantId, request: ReplayRequest) -> Result<ReplayReport> {
    let job = request.job.as_deref().map(check_job).transpose()?;
    let limit = page_limit(request.limit, MAX_DEAD_LETTER_PAGE)?;
    let letters = match &request.ids {
        Some(ids) => {
            if ids.len() > MAX_DEAD_LETTER_PAGE {
                return Err(Error::invalid(Code::InvalidIds, format!("at most {MAX_DEAD_LETTER_PAGE} ids per replay")));
            }
            // Looked up by id: however many letters the tenant has, a replay reads only these.
            let mut letters = app.stores.documents.get_dead_letters(tenant, ids).await?;
            letters.retain(|letter| job.is_none_or(|job| letter.job == job));
            letters.truncate(limit);
            letters
        }
        None => app.stores.documents.list_dead_letters(tenant, job, None, limit).await?,
    };
    if letters.is_empty() {
        return Ok(ReplayReport { replayed: 0 });
    }
    // Events back on the bus cost the jobs what new ones do: on the tenant's event rate.
    app.charge(tenant, Charge::Events(letters.len())).await?;
    let events: Vec<Event> = letters
        .iter()
        .map(|letter| {
            let mut event = letter.event.clone();
            event.replay_for = Some(letter.job.clone());
            event
        })
        .collect();
    app.stores.bus.append(events).await?;
    let ids: Vec<String> = letters.iter().map(|l| l.id.clone()).collect();
    app.stores.documents.delete_dead_letters(tenant, &ids).await?;
    metrics::counter!("polyrec_dead_letters_replayed_total").increment(ids.len() as u64);
    Ok(ReplayReport { replayed: ids.len() })
}

/// The longest client `event_id`.
pub const MAX_EVENT_ID_LEN: usize = 128;
/// How long a client `event_id` is held while its event is being appended: a process that dies
/// in between leaves the claim to expire, and the client's retry is taken then.
const PENDING_CLAIM_MS: i64 = 30_000;
/// How long a stored client `event_id` is remembered: the bus's retention (SPEC §3.3).
const STORED_CLAIM_MS: i64 = 7 * DAY_MS;

fn check_event_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > MAX_EVENT_ID_LEN
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::invalid(
            Code::InvalidEventId,
            format!("event_id must be 1 to {MAX_EVENT_ID_LEN} letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

/// An event ready to append, with the client's id for it.
struct Incoming {
    event: Event,
    client_id: Option<String>,
}

/// What became of one event handed to [`append_once`].
enum Outcome {
    Taken(String, Stored),
    Refused(Error),
}

/// Appends events so that a client `event_id` is stored once: each is claimed in the realtime
/// store first (`RealtimeStore::claim_event_ids`, atomic), one held already is a duplicate (or,
/// while another request is still appending it, `event_in_flight`), and the claims are settled
/// after the append — stored, or freed for a retry when the bus did not take the event. Events
/// without a client id are appended as they are. `Err` when nothing could be appended.
async fn append_once(app: &App, tenant: &TenantId, incoming: Vec<Incoming>) -> Result<Vec<Outcome>> {
    let realtime = &app.stores.realtime;
    // A client id sent twice in one batch: the first copy is claimed, the others follow it.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let mut copy_of: Vec<Option<usize>> = vec![None; incoming.len()];
    let mut claims: Vec<(usize, (&str, &str))> = Vec::new();
    for (index, entry) in incoming.iter().enumerate() {
        let Some(client) = entry.client_id.as_deref() else { continue };
        match first_of.get(client) {
            Some(&first) => copy_of[index] = Some(first),
            None => {
                first_of.insert(client, index);
                claims.push((index, (client, entry.event.event_id.as_str())));
            }
        }
    }
    let mut holder: Vec<Option<String>> = vec![None; incoming.len()];
    if !claims.is_empty() {
        let pairs: Vec<(&str, &str)> = claims.iter().map(|(_, pair)| *pair).collect();
        let held = realtime.claim_event_ids(tenant, &pairs, PENDING_CLAIM_MS).await?;
        for ((index, _), held) in claims.iter().zip(held) {
            holder[*index] = held;
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(incoming.len());
    let mut appending = Vec::new();
    for (index, held) in holder.into_iter().enumerate() {
        outcomes.push(match held {
            Some(held) => Some(match held.split_once(':') {
                Some(("stored", first)) => Outcome::Taken(first.to_owned(), Stored::Duplicate),
                _ => Outcome::Refused(in_flight()),
            }),
            None => {
                if copy_of[index].is_none() {
                    appending.push(index);
                }
                None
            }
        });
    }
    let events: Vec<Event> = appending.iter().map(|&i| incoming[i].event.clone()).collect();
    // A failed append frees its ids for a retry only when it certainly stored nothing (the
    // embedded bus's transaction); a send Kafka did not acknowledge may still have been
    // written, so its ids stay pending until the claim expires (`event_in_flight` meanwhile).
    let certain = app.stores.bus.failures_store_nothing();
    let appended = match app.stores.bus.append_each(events).await {
        Ok(appended) => appended,
        Err(error) => {
            if certain {
                let claimed: Vec<(&str, &str)> = appending
                    .iter()
                    .filter_map(|&i| incoming[i].client_id.as_deref().map(|c| (c, incoming[i].event.event_id.as_str())))
                    .collect();
                if let Err(release) = realtime.settle_event_ids(tenant, &[], &claimed, STORED_CLAIM_MS).await {
                    tracing::warn!(%release, "could not free event_id claims; they expire on their own");
                }
            }
            return Err(error);
        }
    };
    let (mut stored, mut released) = (Vec::new(), Vec::new());
    for (&index, result) in appending.iter().zip(appended) {
        let entry = &incoming[index];
        outcomes[index] = Some(match result {
            Ok(_) => {
                if let Some(client) = &entry.client_id {
                    stored.push((client.as_str(), entry.event.event_id.as_str()));
                }
                Outcome::Taken(entry.event.event_id.clone(), Stored::Stored)
            }
            Err(error) => {
                if certain && let Some(client) = &entry.client_id {
                    released.push((client.as_str(), entry.event.event_id.as_str()));
                }
                Outcome::Refused(error)
            }
        });
    }
    // The events are durable on the bus whatever happens here: a claim left pending expires
    // (PENDING_CLAIM_MS), after which a retry would be stored again — logged, not refused.
    if let Err(error) = realtime.settle_event_ids(tenant, &stored, &released, STORED_CLAIM_MS).await {
        tracing::warn!(%error, "could not settle event_id claims");
    }
    for (index, first) in copy_of.into_iter().enumerate().filter_map(|(index, first)| Some((index, first?))) {
        outcomes[index] = Some(match &outcomes[first] {
            Some(Outcome::Taken(event_id, _)) => Outcome::Taken(event_id.clone(), Stored::Duplicate),
            _ => Outcome::Refused(in_flight()),
        });
    }
    let duplicates = outcomes.iter().filter(|o| matches!(o, Some(Outcome::Taken(_, Stored::Duplicate)))).count();
    metrics::counter!("polyrec_events_duplicate_total").increment(duplicates as u64);
    Ok(outcomes.into_iter().map(|o| o.expect("every event has an outcome")).collect())
}

fn in_flight() -> Error {
    Error::Conflict {
        code: Code::EventInFlight,
        message: "an event with this event_id is being stored by another request; retry in a few seconds".to_owned(),
    }
}

/// Checks one event and stamps it with an id and the receipt time.
async fn to_event(
    app: &App,
    tenant: &TenantId,
    mut input: EventInput,
    known: &mut HashMap<String, Option<u64>>,
) -> Result<Incoming> {
    let client_id = input.event_id.take();
    if let Some(id) = &client_id {
        check_event_id(id)?;
    }
    let event_type = EventType::parse(&input.event_type).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        Error::invalid(
            Code::InvalidEventType,
            format!("event_type {:?} is not one of: {}", input.event_type, known.join(", ")),
        )
    })?;
    let scenario_id = ScenarioId::parse(input.scenario_id)?;
    // The scenario's incarnation, or None if it does not exist.
    let incarnation = match known.get(scenario_id.as_str()) {
        Some(incarnation) => *incarnation,
        None => {
            let incarnation = app.scenarios.incarnation(tenant, &scenario_id).await?;
            known.insert(scenario_id.to_string(), incarnation);
            incarnation
        }
    };
    let Some(scenario_incarnation) = incarnation else {
        // 404 for one event, like every other reference to a scenario; a batch reports it per event.
        return Err(Error::not_found(format!("scenario {:?}", scenario_id.as_str())));
    };
    let now = app.now_ms();
    let timestamp_ms = match &input.timestamp {
        None | Some(Value::Null) => now,
        Some(value) => parse_timestamp(value).map_err(|m| Error::invalid(Code::InvalidTimestamp, m))?,
    };
    if timestamp_ms > now + MAX_FUTURE_MS {
        return Err(Error::invalid(
            Code::InvalidTimestamp,
            "timestamp is more than 10 minutes in the future; send the time the behavior happened",
        ));
    }
    if timestamp_ms < now - MAX_AGE_MS {
        return Err(Error::invalid(Code::InvalidTimestamp, "timestamp is more than 10 years old"));
    }
    if let Some(request_id) = &input.request_id
        && (request_id.is_empty() || request_id.len() > MAX_REQUEST_ID_LEN)
    {
        return Err(Error::invalid(
            Code::InvalidRequestId,
            format!("request_id must be 1 to {MAX_REQUEST_ID_LEN} characters"),
        ));
    }
    if let Some(value) = input.value
        && !(value.is_finite() && value.abs() <= MAX_EVENT_VALUE)
    {
        return Err(Error::invalid(
            Code::InvalidValue,
            format!("value must be a finite number from -{MAX_EVENT_VALUE:e} to {MAX_EVENT_VALUE:e}, got {value}"),
        ));
    }
    if let Some(context) = &input.context {
        check_context(context)?;
    }
    let event = Event {
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.clone(),
        scenario_id,
        user_id: UserId::parse(input.user_id)?,
        item_id: ItemId::parse(input.item_id)?,
        event_type,
        timestamp_ms,
        received_ms: now,
        scenario_incarnation,
        request_id: input.request_id,
        value: input.value,
        context: input.context,
        replay_for: None,
    };
    Ok(Incoming { event, client_id })
}

/// Stamps an event with the user service's fields of its user (`age`, `gender`, `location`,
/// where the context has none), and with the experiment and group its user is in
/// (`context.experiment_id`, `context.group`), so the metrics per group count it.
/// The assignment is recomputed, not looked up: it is a pure function of (tenant, experiment,
/// user), so it is the group the user's answers came from. The experiment fields are the
/// server's wherever they name one of the scenario's experiments: an event of the running one's
/// is stamped with its user's group at the event's time, whatever group it claims; one naming
/// another of the scenario's experiments gets that one's group if the event falls within its
/// start and end times (a draft's never), and loses the fields otherwise — so no caller can count
/// an event in a group its user is not in. A context naming no experiment of the scenario (a label of the tenant's own
/// A/B tooling) is left as sent; one naming none is stamped from the running experiment.
async fn stamp(
    app: &App,
    tenant: &TenantId,
    event: &mut Event,
    user: Option<&UserInfo>,
    read: &mut HashMap<String, std::sync::Arc<crate::app::ScenarioExperiments>>,
) -> Result<()> {
    // The user service's fields, so the rankers train on what they are served with.
    if let Some(info) = user {
        crate::tenancy::fill_user_fields(event.context.get_or_insert_with(Map::new), info);
    }
    let experiments = match read.get(event.scenario_id.as_str()) {
        Some(experiments) => experiments.clone(),
        None => {
            let compiled = app.scenario(tenant, &event.scenario_id).await?;
            let experiments = app.experiments.all(tenant, &compiled).await?;
            read.insert(event.scenario_id.to_string(), experiments.clone());
            experiments
        }
    };
    let live = experiments.live.as_ref().map(|live| &live.experiment);
    let experiment = match event.experiment_id() {
        None => live,
        Some(named) if live.is_some_and(|live| live.experiment_id == named) => live,
        Some(named) => match experiments.others.get(named) {
            Some(other) => Some(other),
            None => return Ok(()),
        },
    };
    let Some(experiment) = experiment else { return Ok(()) };
    let at = event.timestamp_ms;
    let within = experiment.start_ms.is_none_or(|start| at >= start) && experiment.end_ms.is_none_or(|end| at < end);
    // Running, or stopped: a group only for an event within its times (a draft never ran).
    let ran = experiment.status != polyrec_core::ExperimentStatus::Draft;
    let group = (ran && within).then(|| experiment.assign(tenant, &event.user_id)).flatten();
    let context = event.context.get_or_insert_with(Map::new);
    match group {
        Some(group) => {
            context.insert("experiment_id".into(), Value::String(experiment.experiment_id.clone()));
            context.insert("group".into(), Value::String(group.group_id.clone()));
        }
        None => {
            context.remove("experiment_id");
            context.remove("group");
        }
    }
    Ok(())
}

/// Checks a `context` a tenant sent, an event's or a recommend request's: at most
/// [`MAX_CONTEXT_BYTES`] as JSON, nested at most 8 deep, no key with a NUL (`invalid_context`).
pub fn check_context(context: &Map<String, Value>) -> Result<()> {
    check_depth("context", context).map_err(|message| Error::invalid(Code::InvalidContext, message))?;
    let size = polyrec_core::limits::json_len(context);
    if size > MAX_CONTEXT_BYTES {
        return Err(Error::invalid(
            Code::InvalidContext,
            format!("context is {size} bytes; the limit is {MAX_CONTEXT_BYTES}"),
        ));
    }
    Ok(())
}

/// Takes one event. `bound`: the user the caller's token is bound to, if it is; an event of
/// another user is refused (`403 user_mismatch`).
pub async fn track(app: &App, tenant: &TenantId, input: EventInput, bound: Option<&UserId>) -> Result<Accepted> {
    app.charge(tenant, Charge::Events(1)).await?;
    let mut incoming = to_event(app, tenant, input, &mut HashMap::new()).await?;
    crate::tenancy::check_user(bound, &incoming.event.user_id)?;
    let user = app.tenancy.user(tenant, &incoming.event.user_id, app.now_ms()).await;
    stamp(app, tenant, &mut incoming.event, user.as_ref(), &mut HashMap::new()).await?;
    let outcome = append_once(app, tenant, vec![incoming]).await?.pop().expect("one outcome per event");
    match outcome {
        Outcome::Taken(event_id, status) => {
            if status == Stored::Stored {
                metrics::counter!("polyrec_events_accepted_total").increment(1);
                metrics::counter!("polyrec_tenant_events_total", "tenant" => crate::telemetry::tenant_label(tenant))
                    .increment(1);
            }
            Ok(Accepted { event_id, status })
        }
        Outcome::Refused(error) => Err(error),
    }
}

/// Checks every event on its own: the valid ones are appended (in one durable write), the
/// invalid ones are answered with their index and reason. With `bound` (the user the caller's
/// token is bound to), an event of another user is one of those (`user_mismatch`).
pub async fn track_batch(
    app: &App,
    tenant: &TenantId,
    batch: EventBatch,
    bound: Option<&UserId>,
) -> Result<BatchReport> {
    if batch.events.len() > app.config.max_batch_events {
        return Err(Error::invalid(
            Code::BatchTooLarge,
            format!(
                "a batch holds at most {} events, got {}; split it",
                app.config.max_batch_events,
                batch.events.len()
            ),
        ));
    }
    app.charge(tenant, Charge::Events(batch.events.len())).await?;
    let mut known = HashMap::new();
    let mut experiments = HashMap::new();
    let mut incoming = Vec::with_capacity(batch.events.len());
    let mut indexes = Vec::with_capacity(batch.events.len());
    let mut errors = Vec::new();
    for (index, raw) in batch.events.into_iter().enumerate() {
        let input = match polyrec_core::limits::from_json_str::<EventInput>(raw.get()) {
            Ok(input) => input,
            Err(error) => {
                errors.push(EventError { index, code: Code::InvalidEvent.into(), message: error.to_string() });
                continue;
            }
        };
        match to_event(app, tenant, input, &mut known).await {
            Ok(event) => match crate::tenancy::check_user(bound, &event.event.user_id) {
                Ok(()) => {
                    incoming.push(event);
                    indexes.push(index);
                }
                Err(error) => errors.push(EventError { index, code: error.code().into(), message: error.to_string() }),
            },
            Err(Error::InvalidInput { code, message }) => errors.push(EventError { index, code: code.into(), message }),
            Err(Error::NotFound { what }) => errors.push(EventError {
                index,
                code: Code::UnknownScenario.into(),
                message: format!("{what} does not exist for this tenant; create it first"),
            }),
            Err(other) => return Err(other),
        }
    }
    // The batch's distinct users looked up at once (at most one deadline for all), then each
    // event stamped.
    let users = app.tenancy.users(tenant, incoming.iter().map(|i| &i.event.user_id), app.now_ms()).await;
    for entry in &mut incoming {
        let user = users.get(&entry.event.user_id);
        stamp(app, tenant, &mut entry.event, user, &mut experiments).await?;
    }
    let outcomes = append_once(app, tenant, incoming).await?;
    let mut report = BatchReport {
        accepted: 0,
        rejected: 0,
        duplicates: 0,
        event_ids: Vec::new(),
        results: Vec::with_capacity(outcomes.len()),
        errors,
    };
    for (index, outcome) in indexes.into_iter().zip(outcomes) {
        match outcome {
            Outcome::Taken(event_id, status) => {
                match status {
                    Stored::Stored => {
                        report.accepted += 1;
                        report.event_ids.push(event_id.clone());
                    }
                    Stored::Duplicate => report.duplicates += 1,
                }
                report.results.push(EventResult { index, event_id, status });
            }
            Outcome::Refused(error) => {
                report.errors.push(EventError { index, code: error.code().into(), message: error.to_string() })
            }
        }
    }
    report.errors.sort_by_key(|e| e.index);
    report.rejected = report.errors.len();
    metrics::counter!("polyrec_events_accepted_total").increment(report.accepted as u64);
    metrics::counter!("polyrec_events_rejected_total").increment(report.rejected as u64);
    metrics::counter!("polyrec_tenant_events_total", "tenant" => crate::telemetry::tenant_label(tenant))
        .increment(report.accepted as u64);
    Ok(report)
}

pub async fn stats(app: &App, tenant: &TenantId) -> Result<EventStats> {
    Ok(EventStats {
        events: app.stores.bus.count(tenant).await?,
        warehouse_events: app.stores.warehouse.count(tenant, None).await?,
        dead_letters: app.stores.documents.count_dead_letters(tenant).await?,
    })
}
