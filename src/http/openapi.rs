//! `GET /openapi.json`: the API and the admin API as an OpenAPI 3.1 document, generated from
//! the handlers' `#[utoipa::path]` annotations and the wire types, so that it cannot describe
//! routes or fields the code does not have. `tests/it/openapi.rs` checks it against the
//! router's routes and an independent validator.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    ADMIN_KEY, admin, admin_workflows, callbacks, executions, operator_executions, settings,
    webhooks, workflow_tools,
};
use crate::wire::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "webhook-trigger",
        version = env!("CARGO_PKG_VERSION"),
        description = "Per-workflow webhook URLs that start workflow executions, the executions' \
                       records, approval and callback URLs, and the admin API the console uses. \
                       Errors are `{\"error\": {\"code\", \"message\"}}`.",
    ),
    servers((
        url = "{baseUrl}",
        description = "The deployment's base URL: `serve`'s address, or on AWS the stack's \
                       WebhookBaseUrl output (with its stage, as `/Prod`)",
        variables(("baseUrl" = (default = "http://127.0.0.1:3000", description = "The deployment's base URL, no trailing slash")))
    )),
    paths(
        webhooks::receive,
        executions::list,
        executions::show,
        executions::items,
        callbacks::page,
        callbacks::answer,
        super::health,
        document,
        admin::workflows,
        admin_workflows::create,
        admin_workflows::show,
        admin_workflows::replace,
        admin_workflows::patch,
        admin_workflows::delete,
        admin_workflows::versions,
        admin_workflows::version,
        admin_workflows::restore,
        workflow_tools::schema,
        workflow_tools::check,
        workflow_tools::dry_run,
        admin::activity,
        admin::refusals,
        admin::subscriptions,
        admin::executions,
        admin::execution,
        admin::items,
        admin::replay,
        admin::approve,
        admin::deny,
        admin::cancel,
        operator_executions::search,
        operator_executions::counts,
        operator_executions::bulk_replay,
        operator_executions::test_run,
        settings::list_keys,
        settings::create_key,
        settings::revoke_key,
        settings::rotate_key,
        settings::retire_key,
        settings::set_secret,
        settings::rotate_secret,
        settings::retire_secret,
    ),
    components(schemas(crate::wire::ErrorBody)),
    modifiers(&Security, &InternalError),
    tags(
        (name = "webhooks", description = "Where senders deliver events"),
        (name = "executions", description = "What a workflow's executions did, with its API key"),
        (name = "callbacks", description = "The resume URLs of `approval` and `callback` steps; the token is the credential"),
        (name = "admin", description = "The operator's API (the console's), with an admin key"),
        (name = "service", description = "The service itself"),
    )
)]
pub struct ApiDoc;

/// The errors every `/admin` route may answer besides its own, named once rather than in each
/// annotation. Only the description uses this type; handlers answer with `ApiError`.
#[derive(utoipa::IntoResponses)]
pub enum AdminErrors {
    /// The x-admin-key header sent twice, or a bad query string or body (`invalid_request`,
    /// `invalid_json`)
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No admin key, or not a valid one (`missing_admin_key`, `invalid_admin_key`)
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The store or the queue is unavailable (`store_unavailable`, `queue_unavailable`); retry
    /// after `Retry-After`
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The same for the routes guarded by a workflow's API key.
#[derive(utoipa::IntoResponses)]
pub enum KeyErrors {
    /// A bad query string, or two different keys (`invalid_request`, `ambiguous_api_key`)
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No API key, or not this workflow's (`missing_api_key`, `invalid_api_key`)
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The store is unavailable (`store_unavailable`); retry after `Retry-After`
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The credentials the operations name in `security`.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        let header = |name: &str, what: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, what)))
        };
        components.add_security_scheme(
            "api_key",
            header(
                "x-api-key",
                "The API key the workflow names (`api-keys create`)",
            ),
        );
        // SNS cannot send headers, so the webhook and executions routes take the key in the
        // query string too.
        components.add_security_scheme(
            "api_key_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "x-api-key",
                "The same key, in the query string",
            ))),
        );
        components.add_security_scheme(
            "admin_key",
            header(
                ADMIN_KEY,
                "An admin key (`admin-keys create`); header only, never in a URL",
            ),
        );
    }
}

/// Any route can answer `500`: a handler that panics is answered in the usual error shape
/// (`error::panic_response`), so every operation says so rather than each annotation.
struct InternalError;

impl Modify for InternalError {
    fn modify(&self, doc: &mut Document) {
        let response = ResponseBuilder::new()
            .description("The service failed (`internal_error`); retry later")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("500".into())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// This document. `servers` holds a placeholder: the base URL is the deployment's.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openApiDocument",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn document() -> Json<Document> {
    Json(ApiDoc::openapi())
}
