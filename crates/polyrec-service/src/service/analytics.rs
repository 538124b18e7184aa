//! The analytics service (SPEC §3.1) over the event warehouse, embedded or ClickHouse, always
//! within one tenant. Dashboard, trends and distributions read the hourly rollup
//! (`metrics_hourly`), or its cut by device, item category or experiment group
//! (`metrics_hourly_dims`), so their windows are whole hours (`from` rounded down, `to` up); top
//! items read the daily item rollup; funnels read per-user sequences (embedded) or the raw events
//! (ClickHouse's `windowFunnel`).

use polyrec_core::Code;
use std::collections::BTreeMap;

use polyrec_core::clock::{DAY_MS, HOUR_MS};
use polyrec_core::timefmt::{format_ms, parse_timestamp_str};
use polyrec_core::{Error, EventType, Result, ScenarioId, TenantId};
use polyrec_storage::{Dimension, HourlyRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::App;

/// The longest window of any analytics query.
pub const MAX_DAYS: i64 = 366;

/// The most items a top-items query lists.
pub const MAX_TOP_ITEMS: usize = 1_000;

/// The most steps of a funnel.
pub const MAX_FUNNEL_STEPS: usize = 10;

/// The metrics a trend can follow: these, or any event type (its count).
pub const METRICS: &[&str] = &["events", "ctr", "conversion_rate", "avg_watch_time", "revenue"];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// Only this scenario (all the tenant's by default).
    pub scenario_id: Option<String>,
    /// RFC 3339 or epoch seconds / ms; default 24 hours before `to`.
    pub from: Option<String>,
    /// Default now.
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// events, ctr, conversion_rate, avg_watch_time, revenue, or an event type (impression, click, …).
    pub metric: String,
    /// hour (default) or day.
    pub interval: Option<String>,
    /// Only events of this type (for `events`).
    pub event_type: Option<String>,
    /// Only events from this device (`context.device_type`, or `context.device`).
    pub device: Option<String>,
    /// Only events on items of this catalog category.
    pub category: Option<String>,
    /// Only events of users in this experiment; with `group`, of that group. One of `device`,
    /// `category` and `experiment_id` at a time.
    pub experiment_id: Option<String>,
    pub group: Option<String>,
    pub scenario_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DistributionQuery {
    /// event_type, hour_of_day, device, category or group (`{experiment_id}/{group}`).
    pub by: String,
    /// With `by=group`: only this experiment's groups, keyed by group id.
    pub experiment_id: Option<String>,
    pub scenario_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopItemsQuery {
    pub scenario_id: String,
    /// Default click.
    pub event_type: Option<String>,
    /// 1–1000, default 20.
    pub n: Option<usize>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    pub scenario_id: String,
    /// Event types in order, comma-separated; default impression,click,add_cart,order.
    pub steps: Option<String>,
    /// A user's steps must all fall within this many hours of their first step (default 24).
    pub window_hours: Option<f64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub from: String,
    pub to: String,
    pub events: u64,
    /// Events per type.
    pub by_type: BTreeMap<String, u64>,
    pub impressions: u64,
    pub clicks: u64,
    pub orders: u64,
    /// clicks / impressions.
    pub ctr: Option<f64>,
    /// orders / impressions.
    pub conversion_rate: Option<f64>,
    /// The mean value of play and view events (watch time).
    pub avg_watch_time: Option<f64>,
    /// The sum of order values.
    pub revenue: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    pub t: String,
    pub value: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Trend {
    pub metric: String,
    pub interval: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Distribution {
    pub by: String,
    pub buckets: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopItems {
    pub event_type: String,
    pub items: Vec<TopItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopItem {
    pub item_id: String,
    pub events: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Funnel {
    pub steps: Vec<FunnelStep>,
    pub window_hours: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FunnelStep {
    pub event_type: String,
    /// Users who reached this step after all the earlier ones, in order, within the window.
    pub users: u64,
    /// users / the first step's users.
    pub conversion: Option<f64>,
}

/// The window `[from, to)` in ms, checked: not inverted, at most [`MAX_DAYS`].
fn window(app: &App, from: Option<&str>, to: Option<&str>) -> Result<(i64, i64)> {
    let to = to.map(parse_timestamp_str).transpose()?.unwrap_or_else(|| app.now_ms());
    let from = from.map(parse_timestamp_str).transpose()?.unwrap_or(to - DAY_MS);
    if to < from {
        return Err(Error::invalid(Code::InvalidTimeRange, "`to` is before `from`; swap them"));
    }
    if to - from > MAX_DAYS * DAY_MS {
        return Err(Error::invalid(
            Code::InvalidTimeRange,
            format!("the window spans more than {MAX_DAYS} days; ask for a shorter one"),
        ));
    }
    Ok((from, to))
}

fn scenario(raw: Option<&str>) -> Result<Option<ScenarioId>> {
    raw.map(ScenarioId::parse).transpose()
}

fn event_type(raw: &str) -> Result<EventType> {
    EventType::parse(raw).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        Error::invalid(Code::UnknownEventType, format!("event type {raw:?} is not one of: {}", known.join(", ")))
    })
}

async fn hourly(
    app: &App,
    tenant: &TenantId,
    scenario: Option<&ScenarioId>,
    from: i64,
    to: i64,
) -> Result<Vec<HourlyRow>> {
    if let Some(scenario) = scenario {
        app.scenario(tenant, scenario).await?;
    }
    let from_hour = from - from.rem_euclid(HOUR_MS);
    app.stores.warehouse.hourly(tenant, scenario, from_hour, to).await
}

/// The rollup rows cut by `dimension`, as (value, row).
async fn hourly_by(
    app: &App,
    tenant: &TenantId,
    scenario: Option<&ScenarioId>,
    dimension: Dimension,
    from: i64,
    to: i64,
) -> Result<Vec<(String, HourlyRow)>> {
    if let Some(scenario) = scenario {
        app.scenario(tenant, scenario).await?;
    }
    let from_hour = from - from.rem_euclid(HOUR_MS);
    app.stores.warehouse.hourly_by(tenant, scenario, dimension, from_hour, to).await
}

/// A trend's one dimension filter: (dimension, the value kept).
fn trend_filter(query: &TrendQuery) -> Result<Option<(Dimension, String)>> {
    let mut filters = Vec::new();
    if let Some(device) = &query.device {
        filters.push((Dimension::Device, device.clone()));
    }
    if let Some(category) = &query.category {
        filters.push((Dimension::Category, category.clone()));
    }
    match (&query.experiment_id, &query.group) {
        (Some(experiment), Some(group)) => filters.push((Dimension::Group, format!("{experiment}/{group}"))),
        (Some(experiment), None) => filters.push((Dimension::Group, format!("{experiment}/"))),
        (None, Some(_)) => {
            return Err(Error::invalid(Code::InvalidFilter, "`group` needs the `experiment_id` it belongs to"));
        }
        (None, None) => {}
    }
    if filters.len() > 1 {
        return Err(Error::invalid(
            Code::TooManyFilters,
            "a trend is cut by one of device, category and experiment_id at a time; drop the others",
        ));
    }
    Ok(filters.pop())
}

/// Sums of one set of rollup rows.
#[derive(Default)]
struct Sums {
    events: u64,
    by_type: BTreeMap<String, u64>,
    watch: (u64, f64),
    revenue: f64,
}

impl Sums {
    fn add(&mut self, row: &HourlyRow) {
        self.events += row.events;
        *self.by_type.entry(row.event_type.as_str().to_owned()).or_default() += row.events;
        match row.event_type {
            EventType::Play | EventType::View => {
                self.watch.0 += row.events;
                self.watch.1 += row.value_sum;
            }
            EventType::Order => self.revenue += row.value_sum,
            _ => {}
        }
    }

    fn count(&self, kind: EventType) -> u64 {
        self.by_type.get(kind.as_str()).copied().unwrap_or(0)
    }

    fn ratio(&self, kind: EventType) -> Option<f64> {
        let impressions = self.count(EventType::Impression);
        (impressions > 0).then(|| self.count(kind) as f64 / impressions as f64)
    }

    fn metric(&self, metric: &str) -> Option<f64> {
        match metric {
            "events" => Some(self.events as f64),
            "ctr" => self.ratio(EventType::Click),
            "conversion_rate" => self.ratio(EventType::Order),
            "avg_watch_time" => (self.watch.0 > 0).then(|| self.watch.1 / self.watch.0 as f64),
            "revenue" => Some(self.revenue),
            kind => EventType::parse(kind).map(|k| self.count(k) as f64),
        }
    }
}

pub async fn dashboard(app: &App, tenant: &TenantId, query: WindowQuery) -> Result<Dashboard> {
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    let (from, to) = window(app, query.from.as_deref(), query.to.as_deref())?;
    let scenario = scenario(query.scenario_id.as_deref())?;
    let mut sums = Sums::default();
    for row in hourly(app, tenant, scenario.as_ref(), from, to).await? {
        sums.add(&row);
    }
    Ok(Dashboard {
        from: format_ms(from),
        to: format_ms(to),
        events: sums.events,
        impressions: sums.count(EventType::Impression),
        clicks: sums.count(EventType::Click),
        orders: sums.count(EventType::Order),
        ctr: sums.metric("ctr"),
        conversion_rate: sums.metric("conversion_rate"),
        avg_watch_time: sums.metric("avg_watch_time"),
        revenue: sums.revenue,
        by_type: sums.by_type,
    })
}

pub async fn trend(app: &App, tenant: &TenantId, query: TrendQuery) -> Result<Trend> {
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    if !METRICS.contains(&query.metric.as_str()) && EventType::parse(&query.metric).is_none() {
        let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(Error::invalid(
            Code::UnknownMetric,
            format!(
                "metric {:?} is not one of {}, or an event type ({})",
                query.metric,
                METRICS.join(", "),
                types.join(", ")
            ),
        ));
    }
    let step = match query.interval.as_deref().unwrap_or("hour") {
        "hour" => HOUR_MS,
        "day" => DAY_MS,
        other => return Err(Error::invalid(Code::UnknownInterval, format!("interval {other:?} is not hour or day"))),
    };
    let only = query.event_type.as_deref().map(event_type).transpose()?;
    let (from, to) = window(app, query.from.as_deref(), query.to.as_deref())?;
    let scenario = scenario(query.scenario_id.as_deref())?;
    let mut buckets: BTreeMap<i64, Sums> = BTreeMap::new();
    let first = from - from.rem_euclid(step);
    let mut t = first;
    while t < to {
        buckets.insert(t, Sums::default());
        t += step;
    }
    let rows = match trend_filter(&query)? {
        None => hourly(app, tenant, scenario.as_ref(), first, to).await?,
        Some((dimension, wanted)) => {
            // An experiment without a group keeps all its groups (`{experiment}/` prefixes them).
            let keep = |key: &str| if wanted.ends_with('/') { key.starts_with(&wanted) } else { key == wanted };
            let rows = hourly_by(app, tenant, scenario.as_ref(), dimension, first, to).await?;
            rows.into_iter().filter(|(key, _)| keep(key)).map(|(_, row)| row).collect()
        }
    };
    for row in rows {
        if only.is_some_and(|kind| kind != row.event_type) {
            continue;
        }
        buckets.entry(row.hour_ms - row.hour_ms.rem_euclid(step)).or_default().add(&row);
    }
    Ok(Trend {
        metric: query.metric.clone(),
        interval: if step == HOUR_MS { "hour".into() } else { "day".into() },
        points: buckets
            .into_iter()
            .map(|(t, sums)| Point { t: format_ms(t), value: sums.metric(&query.metric) })
            .collect(),
    })
}

pub async fn distribution(app: &App, tenant: &TenantId, query: DistributionQuery) -> Result<Distribution> {
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    let dimension = match query.by.as_str() {
        "event_type" | "hour_of_day" => None,
        other => Some(Dimension::parse(other).ok_or_else(|| {
            Error::invalid(
                Code::UnknownDimension,
                format!("cannot break down by {other:?}; use event_type, hour_of_day, device, category or group"),
            )
        })?),
    };
    if query.experiment_id.is_some() && dimension != Some(Dimension::Group) {
        return Err(Error::invalid(Code::InvalidFilter, "`experiment_id` goes with by=group"));
    }
    let (from, to) = window(app, query.from.as_deref(), query.to.as_deref())?;
    let scenario = scenario(query.scenario_id.as_deref())?;
    let mut buckets: BTreeMap<String, u64> = BTreeMap::new();
    match dimension {
        None => {
            for row in hourly(app, tenant, scenario.as_ref(), from, to).await? {
                let key = if query.by == "hour_of_day" {
                    format!("{:02}", row.hour_ms.rem_euclid(DAY_MS) / HOUR_MS)
                } else {
                    row.event_type.as_str().to_owned()
                };
                *buckets.entry(key).or_default() += row.events;
            }
        }
        Some(dimension) => {
            let prefix = query.experiment_id.as_ref().map(|e| format!("{e}/"));
            for (key, row) in hourly_by(app, tenant, scenario.as_ref(), dimension, from, to).await? {
                let key = match &prefix {
                    Some(prefix) => match key.strip_prefix(prefix.as_str()) {
                        Some(group) => group.to_owned(),
                        None => continue,
                    },
                    None => key,
                };
                *buckets.entry(key).or_default() += row.events;
            }
        }
    }
    Ok(Distribution { by: query.by, buckets })
}

pub async fn top_items(app: &App, tenant: &TenantId, query: TopItemsQuery) -> Result<TopItems> {
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    let scenario_id = ScenarioId::parse(query.scenario_id)?;
    app.scenario(tenant, &scenario_id).await?;
    let kind = event_type(query.event_type.as_deref().unwrap_or("click"))?;
    let n = query.n.unwrap_or(20);
    if !(1..=MAX_TOP_ITEMS).contains(&n) {
        return Err(Error::invalid(Code::InvalidN, format!("n must be between 1 and {MAX_TOP_ITEMS}, got {n}")));
    }
    let (from, to) = window(app, query.from.as_deref(), query.to.as_deref())?;
    let from_day = from - from.rem_euclid(DAY_MS);
    let items = app.stores.warehouse.top_items(tenant, &scenario_id, kind, from_day, to, n).await?;
    Ok(TopItems {
        event_type: kind.as_str().to_owned(),
        items: items.into_iter().map(|(item_id, events)| TopItem { item_id, events }).collect(),
    })
}

/// Users who went through `steps` in order, each step after the previous one and all within
/// `window_hours` of the first step. A user is counted at the deepest step any of their
/// attempts reached (each attempt starts at one of their first-step events).
pub async fn funnel(app: &App, tenant: &TenantId, query: FunnelQuery) -> Result<Funnel> {
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    let scenario_id = ScenarioId::parse(query.scenario_id)?;
    app.scenario(tenant, &scenario_id).await?;
    let steps: Vec<EventType> = query
        .steps
        .as_deref()
        .unwrap_or("impression,click,add_cart,order")
        .split(',')
        .map(|s| event_type(s.trim()))
        .collect::<Result<_>>()?;
    if !(1..=MAX_FUNNEL_STEPS).contains(&steps.len()) {
        return Err(Error::invalid(Code::InvalidSteps, format!("a funnel has 1 to {MAX_FUNNEL_STEPS} steps")));
    }
    let window_hours = query.window_hours.unwrap_or(24.0);
    if !(window_hours.is_finite() && window_hours > 0.0 && window_hours <= 24.0 * MAX_DAYS as f64) {
        return Err(Error::invalid(Code::InvalidWindow, "window_hours must be > 0 and at most a year"));
    }
    let window_ms = (window_hours * HOUR_MS as f64) as i64;
    let (from, to) = window(app, query.from.as_deref(), query.to.as_deref())?;
    let reached = app.stores.warehouse.funnel(tenant, &scenario_id, &steps, window_ms, from..to).await?;
    let first = reached[0];
    Ok(Funnel {
        steps: steps
            .iter()
            .zip(&reached)
            .map(|(kind, users)| FunnelStep {
                event_type: kind.as_str().to_owned(),
                users: *users,
                conversion: (first > 0).then(|| *users as f64 / first as f64),
            })
            .collect(),
        window_hours,
    })
}
