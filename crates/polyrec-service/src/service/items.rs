//! The item service: items of a scenario with free `metadata`, single and bulk writes. Writes go
//! to the document store first and then into the loaded catalog, so the next recommend call
//! sees them.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use polyrec_core::Code;
use polyrec_core::timefmt::format_ms;
use polyrec_core::{Error, Item, ItemId, ItemStatus, Result, ScenarioId, TenantId};
use polyrec_storage::{ItemFilter, Upserted};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{merge_patch, parse_body};
use crate::App;

pub use polyrec_core::item::{ItemInput, MAX_EMBEDDING_DIM, MAX_EMBEDDING_VALUE, MAX_METADATA_BYTES, check_item};
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
pub const BULK_BATCH: usize = 1_000;
/// A bulk answer lists at most this many rejections (it counts them all).
pub const MAX_REPORTED_ERRORS: usize = 1_000;
pub const MAX_PAGE: usize = 1_000;

/// A partial update: `metadata` is merged (JSON merge patch: `null` removes a field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPatch {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
    /// A vector replaces the embedding; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<f32>>)]
    pub embedding: Option<Option<Vec<f32>>>,
    #[serde(default)]
    pub status: Option<ItemStatus>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView {
    pub item_id: String,
    pub scenario_id: String,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    pub status: ItemStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Item> for ItemView {
    fn from(item: Item) -> Self {
        Self {
            item_id: item.item_id.to_string(),
            scenario_id: item.scenario_id.to_string(),
            metadata: item.metadata,
            embedding: item.embedding,
            status: item.status,
            created_at: format_ms(item.created_ms),
            updated_at: format_ms(item.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemPage {
    pub items: Vec<ItemView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    pub category: Option<String>,
    /// active or inactive.
    pub status: Option<String>,
    /// RFC 3339 or epoch seconds/milliseconds.
    pub updated_since: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineError {
    /// 1-based line number in the upload.
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BulkReport {
    pub created: u64,
    pub updated: u64,
    pub rejected: u64,
    /// The first rejections, with line number and reason.
    pub errors: Vec<LineError>,
    /// True when there were more rejections than `errors` lists.
    pub errors_truncated: bool,
}

/// The scenario must exist for this tenant before items go into it.
async fn require_scenario(app: &App, tenant: &TenantId, scenario: &ScenarioId) -> Result<()> {
    app.scenario(tenant, scenario).await.map(|_| ())
}

pub async fn create(app: &App, tenant: &TenantId, scenario: &ScenarioId, body: ItemInput) -> Result<ItemView> {
    require_scenario(app, tenant, scenario).await?;
    let item = body.into_item(scenario, app.now_ms())?;
    let quota = app.tenancy.tenant(tenant, app.now_ms()).await?.quota;
    // The count and the write are one step per tenant (held to the end), so creates at once
    // cannot all pass one count. (Processes writing one tenant's items at the same instant may
    // pass the quota by a batch each.)
    let _counted = app.checked_writes.acquire_if(quota.max_items > 0, tenant).await;
    if quota.max_items > 0 && app.catalogs.census(tenant, scenario, []).await?.0 >= quota.max_items {
        return Err(Error::forbidden(
            Code::QuotaExceeded,
            format!("this tenant may have {} items in a scenario and has them all", quota.max_items),
        ));
    }
    app.stores.documents.insert_item(tenant, &item).await?;
    app.catalogs.upsert(tenant, scenario, std::slice::from_ref(&item)).await;
    Ok(item.into())
}

async fn store_one(app: &App, tenant: &TenantId, scenario: &ScenarioId, item: Item) -> Result<ItemView> {
    let stored = store(app, tenant, scenario, vec![item]).await?;
    stored.into_iter().next().map(|(item, _)| item.into()).ok_or_else(|| Error::internal("upsert returned nothing"))
}

/// Writes items to the document store, then into the loaded catalog.
async fn store(app: &App, tenant: &TenantId, scenario: &ScenarioId, items: Vec<Item>) -> Result<Vec<(Item, Upserted)>> {
    let stored = app.stores.documents.upsert_items(tenant, items).await?;
    let written: Vec<Item> = stored.iter().map(|(item, _)| item.clone()).collect();
    app.catalogs.upsert(tenant, scenario, &written).await;
    Ok(stored)
}

pub async fn get(app: &App, tenant: &TenantId, scenario: &ScenarioId, item: &ItemId) -> Result<ItemView> {
    let found = app.stores.documents.get_item(tenant, scenario, item).await?;
    found.map(Into::into).ok_or_else(|| Error::not_found(format!("item {:?}", item.as_str())))
}

pub async fn patch(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &ItemId, body: Value) -> Result<ItemView> {
    let body: ItemPatch = parse_body(body)?;
    // The read, the merge and the write are one step per tenant (held to the end): patches at
    // once each merged into the same read and the last write won, losing the others' fields;
    // and a delete between the read and the write was undone by it.
    let _checked = app.checked_writes.acquire(tenant).await;
    let mut item = app
        .stores
        .documents
        .get_item(tenant, scenario, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("item {:?}", id.as_str())))?;
    if let Some(patch) = body.metadata {
        if !patch.is_object() {
            return Err(Error::invalid(Code::InvalidBody, "metadata must be an object (a JSON merge patch)"));
        }
        let mut metadata = Value::Object(std::mem::take(&mut item.metadata));
        merge_patch(&mut metadata, &patch);
        item.metadata = match metadata {
            Value::Object(map) => map,
            _ => Map::new(),
        };
    }
    if let Some(embedding) = body.embedding {
        item.embedding = embedding;
    }
    if let Some(status) = body.status {
        item.status = status;
    }
    item.updated_ms = app.now_ms();
    item.publish_memo = Default::default();
    check_item(&item)?;
    store_one(app, tenant, scenario, item).await
}

pub async fn delete(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &ItemId) -> Result<()> {
    // Not between a patch's read and its write (see `patch`).
    let _checked = app.checked_writes.acquire(tenant).await;
    if !app.stores.documents.delete_item(tenant, scenario, id).await? {
        return Err(Error::not_found(format!("item {:?}", id.as_str())));
    }
    app.catalogs.remove(tenant, scenario, id.as_str()).await;
    Ok(())
}

pub async fn list(app: &App, tenant: &TenantId, scenario: &ScenarioId, query: ItemQuery) -> Result<ItemPage> {
    require_scenario(app, tenant, scenario).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid(Code::InvalidLimit, format!("limit must be between 1 and {MAX_PAGE}, got {limit}")));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(ItemStatus::parse(text).ok_or_else(|| {
            Error::invalid(Code::InvalidStatus, format!("status must be active or inactive, got {text:?}"))
        })?),
    };
    let updated_since_ms =
        query.updated_since.as_deref().map(polyrec_core::timefmt::parse_timestamp_str).transpose()?;
    let filter = ItemFilter { category: query.category, status, updated_since_ms, cursor: query.cursor, limit };
    let items = app.stores.documents.list_items(tenant, scenario, &filter).await?;
    let next_cursor = (items.len() == limit).then(|| items.last().map(|i| i.item_id.to_string())).flatten();
    Ok(ItemPage { items: items.into_iter().map(Into::into).collect(), next_cursor })
}

/// Imports NDJSON items from a byte stream, one item per line, in batches of [`BULK_BATCH`]:
/// memory stays bounded whatever the upload's size, and a bad line is reported and skipped
/// without stopping the good ones.
pub async fn bulk_import<S, E>(app: &App, tenant: &TenantId, scenario: &ScenarioId, body: S) -> Result<BulkReport>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    require_scenario(app, tenant, scenario).await?;
    let mut report = BulkReport::default();
    let mut batch: Vec<(u64, Item)> = Vec::with_capacity(BULK_BATCH);
    let mut pending = Vec::new();
    // How much of `pending` is known to hold no newline.
    let mut scanned = 0;
    let mut line_number = 0u64;
    let mut skipping_long_line = false;
    // The last line whose batch is committed.
    let mut committed_line = 0u64;
    let mut body = body;
    let mut finished = false;
    // An upload has no deadline as a whole, but each piece must come within one.
    let idle = std::time::Duration::from_millis(app.config.limits.request_timeout_ms.max(1));
    while !finished {
        let Ok(next) = tokio::time::timeout(idle, body.next()).await else {
            if let Err(error) = flush(app, tenant, scenario, &mut batch, &mut report).await {
                return Err(partial(&report, committed_line, error));
            }
            return Err(Error::invalid(
                Code::BodyReadFailed,
                format!(
                    "the upload sent nothing for {} ms after line {line_number} (request_timeout_ms); lines \
                     before it were imported, send the rest again",
                    idle.as_millis()
                ),
            ));
        };
        match next {
            Some(Ok(chunk)) => pending.extend_from_slice(&chunk),
            Some(Err(error)) => {
                // The connection broke: what was committed stays; say where it stopped.
                if let Err(error) = flush(app, tenant, scenario, &mut batch, &mut report).await {
                    return Err(partial(&report, committed_line, error));
                }
                return Err(Error::invalid(
                    Code::BodyReadFailed,
                    format!("the upload broke off after line {line_number} ({error}); lines before it were imported"),
                ));
            }
            None => {
                finished = true;
                if !pending.is_empty() && !pending.ends_with(b"\n") {
                    pending.push(b'\n');
                }
            }
        }
        let mut start = 0;
        // The partial line left from the last chunk has no newline: only what arrived since is
        // searched, so a long line sent in small chunks costs linear time, not quadratic.
        while let Some(newline) = pending[start.max(scanned)..].iter().position(|&b| b == b'\n') {
            let end = start.max(scanned) + newline;
            let line = &pending[start..end];
            start = end + 1;
            line_number += 1;
            if std::mem::take(&mut skipping_long_line) {
                continue;
            }
            handle_line(scenario, line, line_number, app.now_ms(), &mut batch, &mut report);
            if batch.len() >= BULK_BATCH {
                match flush(app, tenant, scenario, &mut batch, &mut report).await {
                    Ok(()) => committed_line = line_number,
                    Err(error) => return Err(partial(&report, committed_line, error)),
                }
            }
        }
        pending.drain(..start);
        scanned = pending.len();
        if pending.len() > MAX_LINE_BYTES && !skipping_long_line {
            line_number += 1;
            reject(&mut report, line_number, None, Code::LineTooLong, format!("a line is over {MAX_LINE_BYTES} bytes"));
            pending.clear();
            scanned = 0;
            skipping_long_line = true;
            // The rest of this line is dropped as it arrives; its newline ends the skip.
            line_number -= 1;
        } else if skipping_long_line {
            pending.clear();
            scanned = 0;
        }
    }
    if let Err(error) = flush(app, tenant, scenario, &mut batch, &mut report).await {
        return Err(partial(&report, committed_line, error));
    }
    tracing::info!(
        tenant = %tenant, scenario = %scenario,
        created = report.created, updated = report.updated, rejected = report.rejected,
        "bulk item import finished"
    );
    Ok(report)
}

/// A storage failure part-way through an import: what was committed stays, and the error says
/// how far it got so the client can resume after it.
fn partial(report: &BulkReport, committed_line: u64, error: Error) -> Error {
    let done = format!(
        "lines 1 to {committed_line} were imported ({} created, {} updated); resume after line {committed_line}",
        report.created, report.updated
    );
    match error {
        Error::Unavailable { code, message, retry_after_seconds } => {
            Error::Unavailable { code, message: format!("{message}; {done}"), retry_after_seconds }
        }
        other => Error::unavailable(format!("the import stopped: {other}; {done}")),
    }
}

fn handle_line(
    scenario: &ScenarioId,
    line: &[u8],
    number: u64,
    now: i64,
    batch: &mut Vec<(u64, Item)>,
    report: &mut BulkReport,
) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return reject(report, number, None, Code::MalformedJson, "the line is not UTF-8".to_owned());
    };
    let input: ItemInput = match polyrec_core::limits::from_json_str(text) {
        Ok(input) => input,
        Err(error) => {
            let code = if error.is_data() { Code::InvalidItem } else { Code::MalformedJson };
            return reject(report, number, None, code, error.to_string());
        }
    };
    let item_id = input.item_id.clone();
    match input.into_item(scenario, now) {
        Ok(item) => batch.push((number, item)),
        Err(error) => reject(report, number, Some(item_id), error.code(), error.to_string()),
    }
}

fn reject(report: &mut BulkReport, line: u64, item_id: Option<String>, code: Code, message: String) {
    report.rejected += 1;
    if report.errors.len() < MAX_REPORTED_ERRORS {
        report.errors.push(LineError { line, item_id, code: code.as_str().to_owned(), message });
    } else {
        report.errors_truncated = true;
    }
}

async fn flush(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    batch: &mut Vec<(u64, Item)>,
    report: &mut BulkReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut lines = std::mem::take(batch);
    // The tenant's item quota: new items past it are rejected line by line; updates pass.
    let quota = app.tenancy.tenant(tenant, app.now_ms()).await?.quota;
    let _counted = app.checked_writes.acquire_if(quota.max_items > 0, tenant).await;
    if quota.max_items > 0 {
        let (mut count, held) =
            app.catalogs.census(tenant, scenario, lines.iter().map(|(_, i)| i.item_id.as_str())).await?;
        let mut held = held.into_iter();
        let mut new = std::collections::HashSet::new();
        lines.retain(|(line, item)| {
            let id = item.item_id.as_str();
            // `held` answers for the lines in order, one each.
            if held.next().unwrap_or(false) || new.contains(id) {
                return true;
            }
            if count >= quota.max_items {
                let message = format!("this tenant may have {} items in a scenario", quota.max_items);
                reject(report, *line, Some(id.to_owned()), Code::QuotaExceeded, message);
                return false;
            }
            count += 1;
            new.insert(id.to_owned());
            true
        });
    }
    let items = lines.into_iter().map(|(_, item)| item).collect();
    for (_, outcome) in store(app, tenant, scenario, items).await? {
        match outcome {
            Upserted::Created => report.created += 1,
            Upserted::Updated => report.updated += 1,
        }
    }
    Ok(())
}
