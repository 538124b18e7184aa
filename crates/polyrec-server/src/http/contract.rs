//! What `/openapi.json` says beyond the handlers' own annotations, so the document matches the
//! server: every status a route can answer (the error statuses every `/api/v1` route shares, with
//! the [`ErrorBody`](super::error::ErrorBody) schema), and the pattern and length of every id in
//! a path or header. Applied once to the whole document (`ApiDoc`'s `modifiers`).

use utoipa::Modify;
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
    use utoipa::OpenApi;

    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(super::super::ApiDoc::openapi()).unwrap()
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
