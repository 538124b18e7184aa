//! A/B experiments (SPEC §4.1 `experiments`, §5): create, read, list, replace, delete, start
//! and stop, per tenant and scenario.
//!
//! Rules: 1 to 10 groups with distinct ids; each `traffic_ratio` in (0, 1] and their sum at most
//! 1 (the remainder is a holdout that gets the scenario's own config); each group's `config` is a
//! merge patch of the scenario's config, and the merged config must validate as a scenario config
//! does (errors at `groups[i].config…`); `start_time` before `end_time`. A scenario runs at most one
//! experiment at a time (one layer), and a running experiment cannot be edited or deleted — stop it
//! first. Users are assigned by `Experiment::assign`, a pure function of (tenant, experiment,
//! user).

use polyrec_core::Code;
use std::sync::Arc;

use polyrec_core::timefmt::{format_ms, parse_timestamp};
use polyrec_core::{Error, Experiment, ExperimentGroup, ExperimentStatus, Result, ScenarioId, TenantId, UserId};
use polyrec_engine::Pipeline;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::App;
use crate::app::CompiledScenario;

pub use polyrec_engine::validate::{MAX_EXPERIMENTS_PER_SCENARIO, MAX_GROUPS};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExperiment {
    pub experiment_id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub groups: Vec<ExperimentGroup>,
    /// RFC 3339 or epoch seconds / milliseconds.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceExperiment {
    #[serde(default)]
    pub name: Option<String>,
    pub groups: Vec<ExperimentGroup>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub start_time: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub end_time: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentView {
    pub experiment_id: String,
    pub scenario_id: String,
    pub name: String,
    pub groups: Vec<ExperimentGroup>,
    /// The share of users in no group (served the scenario's own config).
    pub holdout_ratio: f64,
    pub status: ExperimentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Experiment> for ExperimentView {
    fn from(e: Experiment) -> Self {
        let assigned: f64 = e.groups.iter().map(|g| g.traffic_ratio).sum();
        Self {
            experiment_id: e.experiment_id,
            scenario_id: e.scenario_id.to_string(),
            name: e.name,
            holdout_ratio: (1.0 - assigned).max(0.0),
            groups: e.groups,
            status: e.status,
            start_time: e.start_ms.map(format_ms),
            end_time: e.end_ms.map(format_ms),
            version: e.version,
            created_at: format_ms(e.created_ms),
            updated_at: format_ms(e.updated_ms),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentList {
    pub experiments: Vec<ExperimentView>,
}

fn time(value: Option<Value>, field: &str) -> Result<Option<i64>> {
    value
        .filter(|v| !v.is_null())
        .map(|v| parse_timestamp(&v).map_err(|e| Error::invalid(Code::InvalidTime, format!("{field}: {e}"))))
        .transpose()
}

/// Checks groups, ratios, each group's merged config, and the times.
fn check(scenario: &CompiledScenario, groups: &[ExperimentGroup], start: Option<i64>, end: Option<i64>) -> Result<()> {
    polyrec_engine::validate::check_experiment(&scenario.scenario.config, groups, start, end)
}

/// A group's config: the scenario's with the group's patch merged in, validated whole.
pub fn group_config(scenario: &CompiledScenario, group: &ExperimentGroup) -> Result<polyrec_core::ScenarioConfig> {
    polyrec_engine::validate::group_config(&scenario.scenario.config, group)
}

async fn load(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<Experiment> {
    app.scenario(tenant, scenario).await?;
    app.stores
        .documents
        .get_experiment(tenant, scenario, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("experiment {id:?}")))
}

pub async fn create(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    body: CreateExperiment,
) -> Result<ExperimentView> {
    polyrec_core::ids::check_id("experiment_id", Code::InvalidExperimentId, &body.experiment_id)?;
    super::scenarios::check_name(body.name.as_deref())?;
    let compiled = app.scenario(tenant, scenario).await?;
    let (start, end) = (time(body.start_time, "start_time")?, time(body.end_time, "end_time")?);
    check(&compiled, &body.groups, start, end)?;
    // The count and the insert are one step per tenant (held to the end).
    let _checked = app.checked_writes.acquire(tenant).await;
    let held = app.stores.documents.list_experiments(tenant, Some(scenario)).await?.len();
    if held >= MAX_EXPERIMENTS_PER_SCENARIO {
        return Err(Error::forbidden(
            Code::QuotaExceeded,
            format!(
                "scenario {scenario} has {held} experiments, the most a scenario may have is \
                 {MAX_EXPERIMENTS_PER_SCENARIO}; delete one that is not running first"
            ),
        ));
    }
    let now = app.now_ms();
    let experiment = Experiment {
        name: body.name.unwrap_or_else(|| body.experiment_id.clone()),
        experiment_id: body.experiment_id,
        scenario_id: scenario.clone(),
        groups: body.groups,
        status: ExperimentStatus::Draft,
        start_ms: start,
        end_ms: end,
        version: 1,
        created_ms: now,
        updated_ms: now,
    };
    app.stores.documents.insert_experiment(tenant, &experiment).await?;
    app.experiments.changed(tenant, scenario);
    Ok(experiment.into())
}

pub async fn get(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<ExperimentView> {
    Ok(load(app, tenant, scenario, id).await?.into())
}

pub async fn list(app: &App, tenant: &TenantId, scenario: &ScenarioId) -> Result<ExperimentList> {
    app.scenario(tenant, scenario).await?;
    let experiments = app.stores.documents.list_experiments(tenant, Some(scenario)).await?;
    Ok(ExperimentList { experiments: experiments.into_iter().map(Into::into).collect() })
}

fn not_running(experiment: &Experiment, what: &str) -> Result<()> {
    if experiment.status == ExperimentStatus::Running {
        return Err(Error::Conflict {
            code: Code::ExperimentRunning,
            message: format!("experiment {:?} is running; stop it before you {what} it", experiment.experiment_id),
        });
    }
    Ok(())
}

pub async fn replace(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    id: &str,
    body: ReplaceExperiment,
) -> Result<ExperimentView> {
    super::scenarios::check_name(body.name.as_deref())?;
    let current = load(app, tenant, scenario, id).await?;
    not_running(&current, "change")?;
    let compiled = app.scenario(tenant, scenario).await?;
    let (start, end) = (time(body.start_time, "start_time")?, time(body.end_time, "end_time")?);
    check(&compiled, &body.groups, start, end)?;
    let next = Experiment {
        name: body.name.unwrap_or_else(|| current.name.clone()),
        groups: body.groups,
        start_ms: start,
        end_ms: end,
        version: current.version + 1,
        updated_ms: app.now_ms(),
        ..current.clone()
    };
    app.stores.documents.replace_experiment(tenant, &next, current.version).await?;
    app.experiments.changed(tenant, scenario);
    Ok(next.into())
}

pub async fn delete(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<()> {
    let current = load(app, tenant, scenario, id).await?;
    not_running(&current, "delete")?;
    app.stores.documents.delete_experiment(tenant, scenario, id).await?;
    app.experiments.changed(tenant, scenario);
    Ok(())
}

/// Starts assigning users (from `start_time` if it is later). Refused while another experiment
/// of the scenario runs, or when the experiment has ended.
pub async fn start(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<ExperimentView> {
    let current = load(app, tenant, scenario, id).await?;
    if current.status == ExperimentStatus::Running {
        return Ok(current.into());
    }
    let now = app.now_ms();
    if current.end_ms.is_some_and(|end| end <= now) {
        return Err(Error::Conflict {
            code: Code::ExperimentEnded,
            message: format!(
                "experiment {id:?} ended at {}; set a later end_time to run it",
                format_ms(current.end_ms.unwrap_or(0))
            ),
        });
    }
    // No other running, and this one started: one step per tenant (held to the end), so two
    // starts at once cannot both find none running.
    let _checked = app.checked_writes.acquire(tenant).await;
    let others = app.stores.documents.list_experiments(tenant, Some(scenario)).await?;
    if let Some(running) = others.iter().find(|e| e.status == ExperimentStatus::Running && e.experiment_id != id) {
        return Err(Error::Conflict {
            code: Code::ExperimentAlreadyRunning,
            message: format!(
                "scenario {scenario} runs experiment {:?} already; a scenario runs one experiment at a time — stop it first",
                running.experiment_id
            ),
        });
    }
    // The groups were validated against the config of their time; the config may have changed.
    let compiled = app.scenario(tenant, scenario).await?;
    check(&compiled, &current.groups, current.start_ms, current.end_ms)?;
    let next = Experiment {
        status: ExperimentStatus::Running,
        version: current.version + 1,
        updated_ms: now,
        ..current.clone()
    };
    app.stores.documents.replace_experiment(tenant, &next, current.version).await?;
    // Another process may have started one of the scenario's experiments at the same instant:
    // a start that finds another running once its own is written gives way (both may; neither
    // then runs, and the client tries again), so two never stay running.
    let others = app.stores.documents.list_experiments(tenant, Some(scenario)).await?;
    if let Some(running) = others.iter().find(|e| e.status == ExperimentStatus::Running && e.experiment_id != id) {
        let back = Experiment { version: next.version + 1, updated_ms: app.now_ms(), ..current.clone() };
        app.stores.documents.replace_experiment(tenant, &back, next.version).await?;
        app.experiments.changed(tenant, scenario);
        return Err(Error::Conflict {
            code: Code::ExperimentAlreadyRunning,
            message: format!(
                "scenario {scenario} started experiment {:?} at the same time; a scenario runs one experiment at a time — stop it first",
                running.experiment_id
            ),
        });
    }
    app.experiments.changed(tenant, scenario);
    Ok(next.into())
}

pub async fn stop(app: &App, tenant: &TenantId, scenario: &ScenarioId, id: &str) -> Result<ExperimentView> {
    let current = load(app, tenant, scenario, id).await?;
    if current.status != ExperimentStatus::Running {
        return Err(Error::Conflict {
            code: Code::ExperimentNotRunning,
            message: format!("experiment {id:?} is {:?}, not running", current.status),
        });
    }
    let next = Experiment {
        status: ExperimentStatus::Stopped,
        version: current.version + 1,
        updated_ms: app.now_ms(),
        ..current.clone()
    };
    app.stores.documents.replace_experiment(tenant, &next, current.version).await?;
    app.experiments.changed(tenant, scenario);
    Ok(next.into())
}

/// A scenario's running experiment with a compiled pipeline per group, for the request path.
pub struct LiveExperiment {
    pub experiment: Experiment,
    /// The scenario version the pipelines were compiled against.
    pub scenario_version: u64,
    pub pipelines: Vec<(String, Arc<Pipeline>)>,
}

impl LiveExperiment {
    pub fn compile(scenario: &CompiledScenario, experiment: Experiment) -> Result<Self> {
        let mut pipelines = Vec::with_capacity(experiment.groups.len());
        for group in &experiment.groups {
            let config = group_config(scenario, group)?;
            let pipeline = Pipeline::compile(&config).map_err(|_| {
                Error::internal(format!(
                    "group {:?} of experiment {:?} does not compile",
                    group.group_id, experiment.experiment_id
                ))
            })?;
            pipelines.push((group.group_id.clone(), Arc::new(pipeline)));
        }
        Ok(Self { experiment, scenario_version: scenario.scenario.version, pipelines })
    }

    /// The user's group and its pipeline at `now_ms`, if the experiment is live and the user is
    /// not in the holdout.
    pub fn assign(&self, tenant: &TenantId, user: &UserId, now_ms: i64) -> Option<(&str, &Arc<Pipeline>)> {
        if !self.experiment.is_live(now_ms) {
            return None;
        }
        let group = self.experiment.assign(tenant, user)?;
        self.pipelines.iter().find(|(id, _)| *id == group.group_id).map(|(id, pipeline)| (id.as_str(), pipeline))
    }
}

/// The longest window a results query may span.
pub const MAX_RESULTS_DAYS: i64 = 366;
/// A sample-ratio mismatch is reported below this p-value (the χ² test's usual strict level:
/// a mismatch means the assignment or the logging is broken, so false alarms must be rare).
pub const SRM_P_VALUE: f64 = 0.001;

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupResult {
    pub group_id: String,
    pub traffic_ratio: f64,
    /// Distinct users with an event in the window.
    pub users: u64,
    pub impressions: u64,
    pub clicks: u64,
    /// clicks / impressions.
    pub ctr: Option<f64>,
    pub orders: u64,
    /// orders / impressions.
    pub conversion_rate: Option<f64>,
    /// Play and view events with a value.
    pub watches: u64,
    /// Their mean value (seconds).
    pub avg_watch_time: Option<f64>,
    /// The sum of order values.
    pub revenue: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupComparison {
    pub group_id: String,
    /// Two-proportion z-test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctr: Option<polyrec_core::stats::Comparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion_rate: Option<polyrec_core::stats::Comparison>,
    /// Welch's t-test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_watch_time: Option<polyrec_core::stats::Comparison>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SampleRatio {
    /// Each group's share of users by its traffic ratio, normalised over the groups.
    pub expected: Vec<f64>,
    pub observed_users: Vec<u64>,
    /// Pearson's χ² p-value; absent with fewer than two groups or no users.
    pub p_value: Option<f64>,
    /// p < 0.001: the split is not what the ratios say — do not trust the lifts.
    pub mismatch: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExperimentResults {
    pub experiment_id: String,
    pub status: ExperimentStatus,
    pub from: String,
    pub to: String,
    /// The group the others are compared with: `control` if there is one, else the first.
    pub control: String,
    pub groups: Vec<GroupResult>,
    pub comparisons: Vec<GroupComparison>,
    pub sample_ratio: SampleRatio,
}

/// Per group totals from the event warehouse over `[from, to]` (default: from the experiment's
/// start or creation to its end or now), each treatment against the control, and the
/// sample-ratio check.
pub async fn results(
    app: &App,
    tenant: &TenantId,
    scenario: &ScenarioId,
    id: &str,
    from: Option<Value>,
    to: Option<Value>,
) -> Result<ExperimentResults> {
    use polyrec_core::stats::{Sample, chi_square, two_proportions, welch};

    // A query of the event warehouse like the analytics ones, on their rate.
    app.charge(tenant, crate::tenancy::Charge::Analytics).await?;
    let experiment = load(app, tenant, scenario, id).await?;
    let now = app.now_ms();
    let (asked_from, asked_to) = (time(from, "from")?, time(to, "to")?);
    if let (Some(from), Some(to)) = (asked_from, asked_to)
        && to < from
    {
        return Err(Error::invalid(Code::InvalidTimeRange, "`to` is before `from`; swap them"));
    }
    let to = asked_to.unwrap_or_else(|| experiment.end_ms.map_or(now, |end| end.min(now)));
    // By default from the start, or the last MAX_RESULTS_DAYS of a longer run; asked for, as asked.
    let from = asked_from.unwrap_or_else(|| {
        let started = experiment.start_ms.unwrap_or(experiment.created_ms);
        started.max(to - MAX_RESULTS_DAYS * polyrec_core::clock::DAY_MS)
    });
    let to = to.max(from);
    if to - from > MAX_RESULTS_DAYS * polyrec_core::clock::DAY_MS {
        return Err(Error::invalid(
            Code::InvalidTimeRange,
            format!("from–to spans more than {MAX_RESULTS_DAYS} days; ask for a shorter window"),
        ));
    }
    let totals = app.stores.warehouse.experiment_totals(tenant, scenario, id, from, to.saturating_add(1)).await?;
    let rate = |x: u64, n: u64| (n > 0).then(|| x as f64 / n as f64);
    let groups: Vec<GroupResult> = experiment
        .groups
        .iter()
        .map(|g| {
            let t = totals.iter().find(|t| t.group == g.group_id).cloned().unwrap_or_default();
            GroupResult {
                group_id: g.group_id.clone(),
                traffic_ratio: g.traffic_ratio,
                users: t.users,
                impressions: t.impressions,
                clicks: t.clicks,
                ctr: rate(t.clicks, t.impressions),
                orders: t.orders,
                conversion_rate: rate(t.orders, t.impressions),
                watches: t.watches,
                avg_watch_time: (t.watches > 0).then(|| t.watch_sum / t.watches as f64),
                revenue: t.revenue,
            }
        })
        .collect();
    let control_index = experiment.groups.iter().position(|g| g.group_id == "control").unwrap_or(0);
    let sample = |group: &str| {
        let t = totals.iter().find(|t| t.group == group).cloned().unwrap_or_default();
        Sample::from_sums(t.watches, t.watch_sum, t.watch_sum_squares)
    };
    let control = &groups[control_index];
    let comparisons = groups
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != control_index)
        .map(|(_, g)| GroupComparison {
            group_id: g.group_id.clone(),
            ctr: two_proportions(control.clicks, control.impressions, g.clicks, g.impressions),
            conversion_rate: two_proportions(control.orders, control.impressions, g.orders, g.impressions),
            avg_watch_time: welch(sample(&control.group_id), sample(&g.group_id)),
        })
        .collect();
    let shares: Vec<f64> = experiment.groups.iter().map(|g| g.traffic_ratio).collect();
    let share_sum: f64 = shares.iter().sum();
    let observed: Vec<u64> = groups.iter().map(|g| g.users).collect();
    let p_value = chi_square(&observed, &shares);
    Ok(ExperimentResults {
        experiment_id: experiment.experiment_id.clone(),
        status: experiment.status,
        from: format_ms(from),
        to: format_ms(to),
        control: control.group_id.clone(),
        sample_ratio: SampleRatio {
            expected: shares.iter().map(|s| s / share_sum).collect(),
            observed_users: observed,
            mismatch: p_value.is_some_and(|p| p < SRM_P_VALUE),
            p_value,
        },
        groups,
        comparisons,
    })
}
