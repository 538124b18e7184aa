//! What `/openapi.json` says beyond the handlers' own annotations, so the document matches the
//! server: every status a route can answer (the error statuses every `/api/v1` route shares, with
//! the [`ErrorBody`](super::error::ErrorBody) schema), and the pattern and length of every id in
//! a path or header. Applied once to the whole document (`http::openapi`).

use polyrec_core::EventType;
use polyrec_core::item::{MAX_EMBEDDING_DIM, MAX_EMBEDDING_VALUE};
use serde_json::{Value, json};
use utoipa::Modify;

use crate::service::analytics::{MAX_DAYS, MAX_FUNNEL_STEPS, MAX_TOP_ITEMS, METRICS};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// An id of a tenant, scenario, item, user, experiment, model or job: 1–128 of
/// `A-Z a-z 0-9 _ - . @`, and not only dots (`polyrec_core::ids::check_id`).
pub const ID_PATTERN: &str = "^[A-Za-z0-9_.@-]*[A-Za-z0-9_@-][A-Za-z0-9_.@-]*$";

/// The statuses every `/api/v1` route may answer besides its own, and why.
const API_ERRORS: [(&str, &str); 8] = [
    ("400", "a missing or malformed header or query parameter"),
    ("401", "no bearer token, or a forged or expired one (when tokens are checked)"),
    ("403", "another tenant's token, a suspended tenant, or a quota"),
    ("404", "not found for this tenant"),
    ("422", "the request breaks a rule; `code` says which, `errors` where"),
    ("429", "the tenant is over its rate; see Retry-After"),
    ("500", "a bug; logged with the request id"),
    ("503", "overloaded, past the request timeout, or a store is unavailable; see Retry-After"),
];

/// And those of a route that takes a body.
const BODY_ERRORS: [(&str, &str); 2] =
    [("413", "the body is over max_body_bytes"), ("415", "the body is not sent as application/json")];

pub struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
        document_shapes(openapi);
        // Ids inside bodies: every string property named `*_id` of a schema.
        if let Some(components) = openapi.components.as_mut() {
            for schema in components.schemas.values_mut() {
                let RefOr::T(Schema::Object(object)) = schema else { continue };
                for (name, property) in object.properties.iter_mut() {
                    let is_string = matches!(property, RefOr::T(Schema::Object(p))
                        if matches!(p.schema_type, SchemaType::Type(Type::String)));
                    if name.ends_with("_id") && is_string {
                        *property = RefOr::T(id_schema());
                    }
                }
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1");
            for operation in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                if api {
                    document_errors(operation);
                }
                for parameter in operation.parameters.iter_mut().flatten() {
                    let is_id = parameter.name.ends_with("_id")
                        || parameter.name == "X-Tenant-Id"
                        || parameter.name == "X-User-Id";
                    let in_path_or_header =
                        matches!(parameter.parameter_in, ParameterIn::Path | ParameterIn::Header | ParameterIn::Query);
                    if is_id && in_path_or_header {
                        parameter.schema = Some(RefOr::T(id_schema()));
                    }
                }
            }
        }
    }
}

/// The names, bounds and formats the handlers' derives cannot say, written into the document
/// as JSON (utoipa's builders for `anyOf`, `enum` and bounds on a property of a derived schema
/// would take many times the lines). Each is the check the server makes; the tests below hold
/// the two together where a list or a bound lives in code.
fn document_shapes(openapi: &mut OpenApi) {
    let Ok(mut doc) = serde_json::to_value(&*openapi) else { return };
    amend(&mut doc);
    match serde_json::from_value(doc) {
        Ok(amended) => *openapi = amended,
        Err(e) => tracing::error!(error = %e, "the amended API document does not parse; serving it unamended"),
    }
}

fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Value {
    Value::from(names.into_iter().collect::<Vec<_>>())
}

/// RFC 3339, or epoch seconds or milliseconds as digits (`polyrec_core::timefmt`).
fn time_text() -> Value {
    json!({"anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": "^[0-9]{1,14}(\\.[0-9]{1,9})?$"},
    ]})
}

/// A time in a body: RFC 3339, or epoch seconds or milliseconds as a number; `null` for none.
fn time_value() -> Value {
    json!({"anyOf": [
        {"type": "null"},
        {"type": "string", "format": "date-time"},
        {"type": "number", "minimum": 0, "exclusiveMaximum": 1e14},
    ]})
}

fn schemas_of(doc: &mut Value) -> &mut serde_json::Map<String, Value> {
    doc["components"]["schemas"].as_object_mut().expect("the document has component schemas")
}

fn amend(doc: &mut Value) {
    use polyrec_engine::registry::{RECALL, RERANK};
    use polyrec_engine::validate::{
        MAX_FEATURE_WEIGHT, MAX_GROUPS, MAX_RECALL_LIMIT, MAX_RECALL_STRATEGIES, MAX_RERANK_RULES, MAX_TIMEOUT_MS,
    };

    let event_types = names(EventType::ALL.iter().map(|t| t.as_str()));
    let schemas = &mut doc["components"]["schemas"];
    let mut set = |schema: &str, property: &str, amended: Value| {
        let target = &mut schemas[schema]["properties"][property];
        let description = target.get("description").cloned();
        *target = amended;
        if let (Some(description), Some(object)) = (description, target.as_object_mut()) {
            object.entry("description").or_insert(description);
        }
    };
    // Every error code the API can answer, from the one list of them.
    let codes = json!({"type": "string", "enum": names(polyrec_core::Code::ALL.iter().map(|c| c.as_str()))});
    for schema in ["ErrorBody", "EventError", "LineError"] {
        set(schema, "code", codes.clone());
    }
    let max_type = crate::service::scenarios::MAX_SCENARIO_TYPE_LEN;
    let scenario_type = json!({"type": "string", "pattern": format!("^[a-z0-9_]{{1,{max_type}}}$")});
    set("CreateScenario", "scenario_type", scenario_type.clone());
    set("ReplaceScenario", "scenario_type", scenario_type.clone());
    set("PatchScenario", "scenario_type", json!({"anyOf": [{"type": "null"}, scenario_type]}));
    let name = json!({"type": ["string", "null"], "maxLength": crate::service::scenarios::MAX_NAME_CHARS});
    for schema in ["CreateScenario", "ReplaceScenario", "PatchScenario", "CreateExperiment", "ReplaceExperiment"] {
        set(schema, "name", name.clone());
    }
    set(
        "RecallConfig",
        "strategies",
        json!({"type": "array", "minItems": 1, "maxItems": MAX_RECALL_STRATEGIES,
               "items": {"$ref": "#/components/schemas/RecallStrategySpec"}}),
    );
    set("RecallStrategySpec", "name", json!({"type": "string", "enum": names(RECALL.iter().map(|e| e.name))}));
    set("RecallStrategySpec", "weight", json!({"type": "number", "minimum": 0.0, "maximum": 1.0}));
    set("RecallStrategySpec", "limit", json!({"type": "integer", "minimum": 1, "maximum": MAX_RECALL_LIMIT}));
    set(
        "RecallStrategySpec",
        "timeout_ms",
        json!({"type": ["integer", "null"], "minimum": 1, "maximum": MAX_TIMEOUT_MS}),
    );
    let built = polyrec_engine::rank::learned::in_this_build;
    let rank_models = polyrec_engine::registry::rank_models();
    let rankers = names(rank_models.iter().map(|(name, _)| *name).filter(|name| built(name)));
    set("RankConfig", "model", json!({"type": "string", "enum": rankers}));
    set("RankConfig", "version", json!({"type": ["string", "null"], "pattern": "\\S"}));
    let mut objectives: Vec<Value> = polyrec_engine::rank::learned::OBJECTIVES.iter().map(|&o| o.into()).collect();
    objectives.push(Value::Null);
    set("RankConfig", "objective", json!({"type": ["string", "null"], "enum": objectives}));
    set(
        "RerankConfig",
        "rules",
        json!({"type": "array", "maxItems": MAX_RERANK_RULES,
               "items": {"$ref": "#/components/schemas/RerankRuleSpec"}}),
    );
    set("RerankRuleSpec", "name", json!({"type": "string", "enum": names(RERANK.iter().map(|e| e.name))}));
    set("RerankRuleSpec", "weight", json!({"type": "number", "minimum": 0.0, "maximum": 1.0}));
    for side in ["item_features", "user_features"] {
        set(
            "FeaturesConfig",
            side,
            json!({"type": "array", "maxItems": 64, "items": {"$ref": "#/components/schemas/FeatureSpec"}}),
        );
    }
    set("FeatureSpec", "name", json!({"type": "string", "pattern": "\\S"}));
    set("FeatureSpec", "weight", json!({"type": "number", "minimum": 0.0, "maximum": MAX_FEATURE_WEIGHT}));
    for schema in ["CreateExperiment", "ReplaceExperiment"] {
        set(
            schema,
            "groups",
            json!({"type": "array", "minItems": 1, "maxItems": MAX_GROUPS,
                   "items": {"$ref": "#/components/schemas/ExperimentGroup"}}),
        );
        set(schema, "start_time", time_value());
        set(schema, "end_time", time_value());
    }
    set("ExperimentGroup", "traffic_ratio", json!({"type": "number", "exclusiveMinimum": 0.0, "maximum": 1.0}));
    set("EventInput", "timestamp", time_value());
    set(
        "UserProfile",
        "applied_windows",
        json!({"type": "object", "propertyNames": {"type": "string", "pattern": "^-?[0-9]{1,19}$"},
               "additionalProperties": {"type": "integer", "minimum": 0}}),
    );
    set("PatchScenario", "config", json!({"type": ["object", "null"]}));
    set("ItemPatch", "metadata", json!({"type": ["object", "null"]}));
    set(
        "EventInput",
        "request_id",
        json!({"type": ["string", "null"], "minLength": 1, "maxLength": crate::service::behaviors::MAX_REQUEST_ID_LEN}),
    );
    set(
        "TrainRequest",
        "models",
        json!({"type": "array", "uniqueItems": true,
               "items": {"type": "string", "enum": names(polyrec_engine::learned::names(None).filter(|n| built(n)))}}),
    );
    set("TrainRequest", "trigger", json!({"type": ["string", "null"], "enum": ["api", "cli", null]}));
    for schema in ["ItemInput", "ItemPatch"] {
        set(
            schema,
            "embedding",
            json!({"type": ["array", "null"], "maxItems": MAX_EMBEDDING_DIM, "minItems": 1,
                   "items": {"type": "number", "minimum": -MAX_EMBEDDING_VALUE, "maximum": MAX_EMBEDDING_VALUE}}),
        );
    }

    // Query parameters, by name, wherever they appear.
    let model_names = names(polyrec_engine::learned::names(None));
    let metrics = names(METRICS.iter().copied().chain(EventType::ALL.iter().map(|t| t.as_str())));
    let step = format!("({})", EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join("|"));
    let query_shapes: Vec<(&str, Value)> = vec![
        ("from", time_text()),
        ("to", time_text()),
        ("metric", json!({"type": "string", "enum": metrics})),
        ("interval", json!({"type": "string", "enum": ["hour", "day"]})),
        ("event_type", json!({"type": "string", "enum": event_types})),
        ("by", json!({"type": "string", "enum": ["event_type", "hour_of_day", "device", "category", "group"]})),
        ("steps", json!({"type": "string", "pattern": format!("^{step}(,{step}){{0,{}}}$", MAX_FUNNEL_STEPS - 1)})),
        ("window_hours", json!({"type": "number", "exclusiveMinimum": 0.0, "maximum": 24 * MAX_DAYS})),
        ("updated_since", time_text()),
        ("status", json!({"type": "string", "enum": ["active", "inactive"]})),
        ("name", json!({"type": "string", "enum": model_names.clone()})),
        ("model_name", json!({"type": "string", "enum": model_names})),
    ];
    // Counts, by the route they bound.
    let counts: [(&str, &str, usize); 4] = [
        ("/api/v1/analytics/top_items", "n", MAX_TOP_ITEMS),
        ("/api/v1/scenarios/{scenario_id}/hot", "n", super::recommend::MAX_HOT_N),
        ("/api/v1/scenarios/{scenario_id}/items", "limit", crate::service::items::MAX_PAGE),
        ("/api/v1/scenarios/{scenario_id}/jobs", "limit", super::models::MAX_JOBS_LISTED),
    ];
    // A body's `scenario_id` must be the path's: the server takes one that is, for clients that
    // send a scenario back as they read it, but the document asks for none.
    if let Some(replace) = schemas_of(doc).get_mut("ReplaceScenario") {
        if let Some(properties) = replace["properties"].as_object_mut() {
            properties.remove("scenario_id");
        }
        replace["description"] = "The whole scenario; a `scenario_id` in it, if sent, must be the path's.".into();
    }
    // An empty upload is an import of no items.
    doc["paths"]["/api/v1/scenarios/{scenario_id}/items/bulk"]["post"]["requestBody"]["required"] = false.into();
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for parameter in parameters {
                if parameter["in"] != "query" && parameter["name"] != "model_name" {
                    continue;
                }
                let name = parameter["name"].as_str().unwrap_or_default();
                if let Some((_, _, max)) = counts.iter().find(|(p, n, _)| p == path && *n == name) {
                    parameter["schema"] = json!({"type": "integer", "minimum": 1, "maximum": max});
                } else if let Some((_, schema)) = query_shapes.iter().find(|(n, _)| *n == name) {
                    parameter["schema"] = schema.clone();
                }
            }
        }
    }
}

fn id_schema() -> utoipa::openapi::schema::Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(ID_PATTERN))
        .min_length(Some(1))
        .max_length(Some(polyrec_core::ids::MAX_ID_LEN))
        .into()
}

fn document_errors(operation: &mut Operation) {
    let with_body = operation.request_body.is_some();
    let errors = API_ERRORS.iter().chain(BODY_ERRORS.iter().filter(|_| with_body));
    for (status, why) in errors {
        operation.responses.responses.entry((*status).to_owned()).or_insert_with(|| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
            RefOr::T(ResponseBuilder::new().description(*why).content("application/json", content).build())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(super::super::openapi()).unwrap()
    }

    #[test]
    fn every_api_operation_lists_the_shared_error_statuses() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/v1") {
                continue;
            }
            for (method, operation) in item.as_object().unwrap() {
                for (status, _) in API_ERRORS {
                    let response = &operation["responses"][status];
                    assert!(!response.is_null(), "{method} {path} does not list {status}");
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody"
                    );
                }
                let params = operation["parameters"].as_array().cloned().unwrap_or_default();
                for param in params {
                    let name = param["name"].as_str().unwrap();
                    if param["in"] == "path" {
                        // Query parameters documented as path ones was a bug of this document.
                        assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: {name} is not in the path");
                    }
                    if name.ends_with("_id") || name == "X-Tenant-Id" {
                        assert_eq!(param["schema"]["pattern"], ID_PATTERN, "{method} {path}: {name}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_amended_document_parses_back() {
        // `document_shapes` serves the unamended document if its JSON does not parse back into
        // utoipa's types; every amendment must.
        let mut doc = serde_json::to_value(super::super::openapi()).unwrap();
        amend(&mut doc);
        for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
            let parsed = serde_json::from_value::<RefOr<Schema>>(schema.clone());
            assert!(parsed.is_ok(), "{name}: {}", parsed.err().unwrap());
        }
        serde_json::from_value::<utoipa::openapi::OpenApi>(doc).unwrap();
        let served = document();
        assert_eq!(
            served["components"]["schemas"]["CreateScenario"]["properties"]["scenario_type"]["pattern"],
            "^[a-z0-9_]{1,64}$"
        );
    }

    #[test]
    fn the_patterns_agree_with_the_id_check() {
        let doc = document();
        let jobs: Vec<&str> = doc["components"]["schemas"]["StreamJob"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(jobs, crate::jobs::STREAM_JOBS);
        // The pattern in the document is the id check: both refuse only-dots and bad characters.
        for (id, valid) in [("a.b", true), (".a", true), ("a@b-c_d", true), (".", false), ("..", false), ("a:b", false)]
        {
            let by_check = polyrec_core::TenantId::parse(id).is_ok();
            let by_pattern =
                id.chars().all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c)) && id.chars().any(|c| c != '.');
            assert_eq!((by_check, by_pattern), (valid, valid), "{id}");
        }
    }
}
