//! The six gRPC services over the `service::*` functions (the same ones the HTTP routes call).

use polyrec_core::Code;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use polyrec_core::{Error, ItemId, ScenarioId, UserId};
use serde_json::{Map, Value};
use tonic::{Request, Response, Status, Streaming};

use super::proto::*;
use super::{admit, admit_as, authorization, from_json, status, to_json};
use crate::App;
use crate::internal::Access;
use crate::jobs::training;
use crate::service::{analytics, behaviors, items, models, records, scenarios};

/// One handler type serves every service: each process adds only its own.
#[derive(Clone)]
pub struct Handler {
    pub app: Arc<App>,
    /// The service this process serves: the audience its service tokens must name.
    pub service: crate::split::Service,
}

type Answer<T> = Result<Response<T>, Status>;

fn scenario_id(raw: &str) -> Result<ScenarioId, Status> {
    ScenarioId::parse(raw).map_err(status)
}

fn report<T: serde::Serialize>(value: &T) -> Answer<Report> {
    Ok(Response::new(Report { json: to_json(value)? }))
}

fn scenario_message(scenario: &polyrec_core::Scenario) -> Result<Scenario, Status> {
    Ok(Scenario {
        scenario_id: scenario.scenario_id.to_string(),
        scenario_type: scenario.scenario_type.clone(),
        status: to_json(&scenario.status)?.trim_matches('"').to_owned(),
        version: scenario.version,
        json: to_json(scenario)?,
    })
}

#[tonic::async_trait]
impl scenario_service_server::ScenarioService for Handler {
    async fn get_scenario(&self, request: Request<ScenarioRef>) -> Answer<Scenario> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let scenario = records::scenario(&self.app, &tenant, &id).await.map_err(status)?;
        Ok(Response::new(scenario_message(&scenario)?))
    }

    async fn list_scenarios(&self, request: Request<TenantRef>) -> Answer<ScenarioList> {
        let (tenant, _) = admit(&self.app, self.service, Access::Read, request).await?;
        let stored = records::scenarios(&self.app, &tenant).await.map_err(status)?;
        let scenarios = stored.iter().map(scenario_message).collect::<Result<_, _>>()?;
        Ok(Response::new(ScenarioList { scenarios }))
    }

    async fn create_scenario(&self, request: Request<ScenarioBody>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let body = from_json("the scenario", &request.json)?;
        report(&scenarios::create(&self.app, &tenant, body).await.map_err(status)?)
    }

    async fn replace_scenario(&self, request: Request<ScenarioBody>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let body = from_json("the scenario", &request.json)?;
        report(&scenarios::replace(&self.app, &tenant, &id, body).await.map_err(status)?)
    }

    async fn delete_scenario(&self, request: Request<ScenarioRef>) -> Answer<Empty> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        scenarios::delete(&self.app, &tenant, &id).await.map_err(status)?;
        Ok(Response::new(Empty {}))
    }

    async fn list_experiments(&self, request: Request<ScenarioRef>) -> Answer<ExperimentList> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let stored = records::experiments(&self.app, &tenant, &id).await.map_err(status)?;
        let experiments = stored
            .iter()
            .map(|e| {
                Ok(Experiment {
                    experiment_id: e.experiment_id.clone(),
                    status: to_json(&e.status)?.trim_matches('"').to_owned(),
                    json: to_json(e)?,
                })
            })
            .collect::<Result<_, Status>>()?;
        Ok(Response::new(ExperimentList { experiments }))
    }
}

type ItemStream = Pin<Box<dyn Stream<Item = Result<Item, Status>> + Send>>;

#[tonic::async_trait]
impl item_service_server::ItemService for Handler {
    type ScanItemsStream = ItemStream;

    async fn get_item(&self, request: Request<ItemRef>) -> Answer<Item> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let item_id = ItemId::parse(request.item_id).map_err(status)?;
        let item = records::item(&self.app, &tenant, &id, &item_id).await.map_err(status)?;
        Ok(Response::new(Item { item_id: item.item_id.to_string(), json: to_json(&item)? }))
    }

    async fn scan_items(&self, request: Request<ScenarioRef>) -> Answer<Self::ScanItemsStream> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let stored = records::items(&self.app, &tenant, &id).await.map_err(status)?;
        let stream = futures::stream::iter(stored).map(|item| {
            let json = to_json(&item)?;
            Ok(Item { item_id: item.item_id.to_string(), json })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn import_items(&self, request: Request<Streaming<ImportItem>>) -> Answer<Report> {
        let authorization = authorization(&request);
        // Before a message is read: a caller without a credential holds no stream open.
        self.app.tenancy.authenticate_internal(authorization.as_deref(), self.service.name()).map_err(status)?;
        let mut stream = request.into_inner();
        // The first message names the tenant and scenario of the whole import.
        let Some(first) = stream.next().await.transpose()? else {
            return Err(status(Error::invalid(Code::EmptyImport, "the import stream has no item")));
        };
        let tenant =
            admit_as(&self.app, self.service, Access::Write, authorization.as_deref(), &first.tenant_id).await?;
        let id = scenario_id(&first.scenario_id)?;
        let lines = futures::stream::once(async move { Ok::<_, Status>(first) })
            .chain(stream)
            .map(|message| message.map(|m| Bytes::from(m.json + "\n")));
        report(&items::bulk_import(&self.app, &tenant, &id, Box::pin(lines)).await.map_err(status)?)
    }

    async fn delete_item(&self, request: Request<ItemRef>) -> Answer<Empty> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let item_id = ItemId::parse(request.item_id).map_err(status)?;
        items::delete(&self.app, &tenant, &id, &item_id).await.map_err(status)?;
        Ok(Response::new(Empty {}))
    }
}

fn stored_text(status: behaviors::Stored) -> String {
    match status {
        behaviors::Stored::Stored => "stored",
        behaviors::Stored::Duplicate => "duplicate",
    }
    .to_owned()
}

fn batch_report(report: behaviors::BatchReport, first_index: usize) -> BatchReport {
    BatchReport {
        accepted: report.accepted as u64,
        rejected: report.rejected as u64,
        duplicates: report.duplicates as u64,
        results: report
            .results
            .into_iter()
            .map(|r| EventResult {
                index: (first_index + r.index) as u64,
                event_id: r.event_id,
                status: stored_text(r.status),
            })
            .collect(),
        event_ids: report.event_ids,
        errors: report
            .errors
            .into_iter()
            .map(|e| EventError { index: (first_index + e.index) as u64, code: e.code, message: e.message })
            .collect(),
    }
}

fn event_values(events: &[String], first_index: usize) -> Result<Vec<Box<serde_json::value::RawValue>>, Status> {
    events
        .iter()
        .enumerate()
        .map(|(i, json)| {
            serde_json::value::RawValue::from_string(json.clone()).map_err(|e| {
                status(Error::invalid(Code::InvalidJson, format!("event {} is not JSON: {e}", first_index + i)))
            })
        })
        .collect()
}

#[tonic::async_trait]
impl behavior_service_server::BehaviorService for Handler {
    async fn track(&self, request: Request<Event>) -> Answer<Accepted> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let input = from_json("the event", &request.json)?;
        let accepted = behaviors::track(&self.app, &tenant, input, None).await.map_err(status)?;
        Ok(Response::new(Accepted { event_id: accepted.event_id, status: stored_text(accepted.status) }))
    }

    async fn track_batch(&self, request: Request<EventBatch>) -> Answer<BatchReport> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let events = event_values(&request.events, 0)?;
        let report =
            behaviors::track_batch(&self.app, &tenant, behaviors::EventBatch { events }, None).await.map_err(status)?;
        Ok(Response::new(batch_report(report, 0)))
    }

    async fn track_stream(&self, request: Request<Streaming<Event>>) -> Answer<BatchReport> {
        let authorization = authorization(&request);
        self.app.tenancy.authenticate_internal(authorization.as_deref(), self.service.name()).map_err(status)?;
        let mut stream = request.into_inner();
        let batch_size = self.app.config.max_batch_events.clamp(1, 1_000);
        let mut total = BatchReport::default();
        let mut tenant: Option<(String, polyrec_core::TenantId)> = None;
        let mut pending: Vec<String> = Vec::with_capacity(batch_size);
        let mut first_index = 0;
        loop {
            // Whatever is waiting is appended before the next read, so a slow sender's events
            // are not held back; a full batch is appended at once.
            let next = if pending.is_empty() {
                stream.next().await
            } else {
                match futures::FutureExt::now_or_never(stream.next()) {
                    Some(next) => next,
                    None => {
                        self.append(&tenant, &mut pending, &mut first_index, &mut total).await?;
                        continue;
                    }
                }
            };
            match next.transpose()? {
                Some(event) => {
                    match &tenant {
                        None => {
                            let admitted = admit_as(
                                &self.app,
                                self.service,
                                Access::Write,
                                authorization.as_deref(),
                                &event.tenant_id,
                            )
                            .await?;
                            tenant = Some((event.tenant_id.clone(), admitted));
                        }
                        Some((raw, _)) if *raw != event.tenant_id => {
                            return Err(status(Error::invalid(
                                Code::MixedTenants,
                                format!("event {}: a stream carries one tenant's events", first_index + pending.len()),
                            )));
                        }
                        Some(_) => {}
                    }
                    pending.push(event.json);
                    if pending.len() >= batch_size {
                        self.append(&tenant, &mut pending, &mut first_index, &mut total).await?;
                    }
                }
                None => {
                    self.append(&tenant, &mut pending, &mut first_index, &mut total).await?;
                    return Ok(Response::new(total));
                }
            }
        }
    }
}

impl Handler {
    /// Appends the pending events of a stream as one batch and adds its report to `total`.
    async fn append(
        &self,
        tenant: &Option<(String, polyrec_core::TenantId)>,
        pending: &mut Vec<String>,
        first_index: &mut usize,
        total: &mut BatchReport,
    ) -> Result<(), Status> {
        let Some((_, tenant)) = tenant else { return Ok(()) };
        if pending.is_empty() {
            return Ok(());
        }
        let events = event_values(pending, *first_index)?;
        let n = events.len();
        let report =
            behaviors::track_batch(&self.app, tenant, behaviors::EventBatch { events }, None).await.map_err(status)?;
        let report = batch_report(report, *first_index);
        total.accepted += report.accepted;
        total.rejected += report.rejected;
        total.duplicates += report.duplicates;
        total.results.extend(report.results);
        total.event_ids.extend(report.event_ids);
        total.errors.extend(report.errors);
        *first_index += n;
        pending.clear();
        Ok(())
    }
}

#[tonic::async_trait]
impl feature_service_server::FeatureService for Handler {
    async fn get_user_profile(&self, request: Request<UserRef>) -> Answer<UserProfile> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let user = UserId::parse(request.user_id).map_err(status)?;
        let profile = self.app.profiles.get(&tenant, &user, &id).await.map_err(status)?;
        Ok(Response::new(match profile {
            Some(profile) => UserProfile { found: true, json: to_json(&*profile)? },
            None => UserProfile { found: false, json: String::new() },
        }))
    }
}

#[tonic::async_trait]
impl model_service_server::ModelService for Handler {
    async fn score(&self, request: Request<ScoreRequest>) -> Answer<ScoreReply> {
        let app = &self.app;
        let (tenant, request) = admit(app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let user = UserId::parse(request.user_id).map_err(status)?;
        app.follow_models(&tenant, &id).await;
        let models = app.models.current(&tenant, &id);
        let pinned = Some(request.pinned_version.as_str()).filter(|p| !p.is_empty());
        let ranker = models.as_ref().and_then(|m| m.ranker.as_ref()).filter(|r| {
            r.name == request.model && pinned.is_none_or(|pin| polyrec_core::model::same_version(pin, &r.version))
        });
        let Some(ranker) = ranker else {
            return Ok(Response::new(ScoreReply { scored: false, version: String::new(), scores: Vec::new() }));
        };
        let context: Map<String, Value> = if request.context_json.is_empty() {
            Map::new()
        } else {
            from_json("context_json", &request.context_json)?
        };
        let (catalog, profile) =
            tokio::try_join!(app.catalogs.get(&tenant, &id), app.profiles.get(&tenant, &user, &id)).map_err(status)?;
        let items = request
            .item_ids
            .iter()
            .map(|item| {
                catalog.get(item).map(|item| &**item).ok_or_else(|| {
                    status(Error::Conflict {
                        code: Code::ItemNotInCatalog,
                        message: format!("item {item:?} is not in the model service's catalog (yet)"),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scores = polyrec_engine::rank::learned::score_items(
            ranker,
            items.into_iter(),
            profile.as_deref(),
            &context,
            request.now_ms,
        )
        .map_err(status)?;
        Ok(Response::new(ScoreReply { scored: true, version: ranker.version.clone(), scores }))
    }

    async fn list_models(&self, request: Request<ModelQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let name = Some(request.model_name.as_str()).filter(|n| !n.is_empty());
        report(&models::list(&self.app, &tenant, &id, name).await.map_err(status)?)
    }

    async fn train(&self, request: Request<TrainRequest>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let trigger = training::caller_trigger(Some(&request.trigger)).map_err(status)?;
        report(&training::submit(&self.app, &tenant, &id, request.models, trigger).await.map_err(status)?)
    }

    async fn get_job(&self, request: Request<JobRef>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&training::get(&self.app, &tenant, &request.job_id).await.map_err(status)?)
    }

    async fn activate(&self, request: Request<ModelRef>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        let view = models::activate(&self.app, &tenant, &id, &request.model_name, &request.model_version)
            .await
            .map_err(status)?;
        report(&view)
    }

    async fn rollback(&self, request: Request<ModelRef>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Write, request).await?;
        let id = scenario_id(&request.scenario_id)?;
        report(&models::rollback(&self.app, &tenant, &id, &request.model_name).await.map_err(status)?)
    }
}

/// An analytics query's parameters as the HTTP route's query type (parsed as a query string is,
/// so numbers and optional fields read the same as over HTTP).
fn query<T: serde::de::DeserializeOwned>(params: &std::collections::HashMap<String, String>) -> Result<T, Status> {
    let invalid = |e: &dyn std::fmt::Display| status(Error::invalid(Code::InvalidQuery, e.to_string()));
    let sorted: BTreeMap<&String, &String> = params.iter().collect();
    let encoded = serde_urlencoded::to_string(sorted).map_err(|e| invalid(&e))?;
    serde_urlencoded::from_str(&encoded).map_err(|e| invalid(&e))
}

#[tonic::async_trait]
impl analytics_service_server::AnalyticsService for Handler {
    async fn dashboard(&self, request: Request<AnalyticsQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&analytics::dashboard(&self.app, &tenant, query(&request.params)?).await.map_err(status)?)
    }

    async fn trends(&self, request: Request<AnalyticsQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&analytics::trend(&self.app, &tenant, query(&request.params)?).await.map_err(status)?)
    }

    async fn distributions(&self, request: Request<AnalyticsQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&analytics::distribution(&self.app, &tenant, query(&request.params)?).await.map_err(status)?)
    }

    async fn top_items(&self, request: Request<AnalyticsQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&analytics::top_items(&self.app, &tenant, query(&request.params)?).await.map_err(status)?)
    }

    async fn funnel(&self, request: Request<AnalyticsQuery>) -> Answer<Report> {
        let (tenant, request) = admit(&self.app, self.service, Access::Read, request).await?;
        report(&analytics::funnel(&self.app, &tenant, query(&request.params)?).await.map_err(status)?)
    }
}
