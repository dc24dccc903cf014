//! Pieces of the OpenAPI document shared by many operations, declared once:
//! the session and operator headers, the `Idempotency-Key` header, and the
//! problem answer. [`apply`] replaces each operation's inline copy with a
//! reference, and declares `Idempotency-Key` where the middleware reads it.

use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};

/// `Idempotency-Key`: 1 to 255 visible ASCII characters (`middleware::idempotency`).
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[\x21-\x7E]{1,255}$";

const SESSION: (&str, &str) = ("Idlink-Session", "IdlinkSession");
const OPERATOR: (&str, &str) = ("Idlink-Operator", "IdlinkOperator");
const IDEMPOTENCY: (&str, &str) = ("Idempotency-Key", "IdempotencyKey");

fn header(name: &str, required: bool, description: &str, pattern: Option<&str>) -> RefOr<utoipa::openapi::path::Parameter> {
    let schema = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).pattern(pattern);
    let required = if required { Required::True } else { Required::False };
    RefOr::T(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(required)
            .description(Some(description))
            .schema(Some(schema))
            .build(),
    )
}

/// Whether the idempotency middleware reads `Idempotency-Key` for this operation:
/// POSTs of the `/v1` API and of operator sessions (the layers in [`crate::app`]).
fn idempotent(path: &str, method: &str) -> bool {
    method == "post"
        && path.starts_with("/v1/")
        && path != "/v1/operator/sessions"
        && !path.starts_with("/v1/callbacks/")
        && !crate::middleware::KEY_READ_BY_HANDLER.contains(&path)
}

/// Declares the shared fragments in `doc` and makes every operation refer to them.
pub fn apply(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.parameters.insert(SESSION.1.into(), header(SESSION.0, true, "The user's session token (from POST /v1/auth/login).", None));
    components
        .parameters
        .insert(OPERATOR.1.into(), header(OPERATOR.0, true, "Operator session token (from POST /v1/operator/sessions).", None));
    components.parameters.insert(
        IDEMPOTENCY.1.into(),
        header(
            IDEMPOTENCY.0,
            false,
            "Makes retries safe: the same key and body replay the first answer. 1 to 255 visible ASCII characters.",
            Some(IDEMPOTENCY_KEY_PATTERN),
        ),
    );
    let problem = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    components.responses.insert(
        "Problem".into(),
        RefOr::T(
            ResponseBuilder::new()
                .description("An RFC 9457 problem document; its `code` says which (docs/errors.md).")
                .content("application/problem+json", problem)
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, op) in ops {
            if let Some(op) = op.as_mut() {
                refer(op, idempotent(path, method));
            }
        }
    }
}

fn refer(op: &mut Operation, idempotent: bool) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    let mut shared = Vec::new();
    params.retain(|p| {
        let RefOr::T(p) = p else { return true };
        match [SESSION, OPERATOR, IDEMPOTENCY].into_iter().find(|(name, _)| p.parameter_in == ParameterIn::Header && p.name == *name) {
            Some((_, component)) => {
                shared.push(component);
                false
            }
            None => true,
        }
    });
    if idempotent && !shared.contains(&IDEMPOTENCY.1) {
        shared.push(IDEMPOTENCY.1);
    }
    params.extend(shared.into_iter().map(|c| RefOr::Ref(Ref::new(format!("#/components/parameters/{c}")))));
    if params.is_empty() {
        op.parameters = None;
    }
    if op.responses.responses.contains_key("4XX") {
        op.responses.responses.insert("4XX".into(), RefOr::Ref(Ref::new("#/components/responses/Problem")));
    }
}
