//! What every service's OpenAPI document shares: the two key schemes (one name each in the
//! merged document), binary file bodies, and the document as served — the common refusals on
//! every operation, the limits of letters' fields and the services' schema patches merged in.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The scheme of agency API keys (`Authorization: Bearer hpk_…` issued to an agency).
pub const AGENCY_KEY: &str = "agency_key";
/// The scheme of print-site API keys (issued to a post-office site).
pub const SITE_KEY: &str = "site_key";

/// Adds both key schemes to a document.
#[derive(Debug)]
pub struct KeySchemes;

impl utoipa::Modify for KeySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, whose) in [(AGENCY_KEY, "an agency"), (SITE_KEY, "a post-office site")] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("hpk_…")
                        .description(Some(format!("An API key issued to {whose} (`hybridpost admin create-key`).")))
                        .build(),
                ),
            );
        }
    }
}

/// A PDF as a request or response body: a binary string (`contentMediaType: application/pdf`),
/// so generated clients send and receive bytes rather than arrays of numbers.
#[derive(Debug)]
pub struct PdfFile;

impl utoipa::PartialSchema for PdfFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        binary("application/pdf")
    }
}

impl utoipa::ToSchema for PdfFile {}

/// A PNG image as a response body.
#[derive(Debug)]
pub struct PngFile;

impl utoipa::PartialSchema for PngFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        binary("image/png")
    }
}

impl utoipa::ToSchema for PngFile {}

/// A binary file of `media_type`.
fn binary(media_type: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .content_media_type(media_type)
        .into()
}

/// The refusals the common layers give any operation, by what the operation takes: a key
/// (401 without a valid one, 429 over a limit), a body (400 malformed or unknown field, 413
/// too large, 415 wrong type), query parameters (400 unknown or malformed). Each handler
/// documents its own answers; these are added where it did not, so that the document lists
/// every status a client can get.
const COMMON_REFUSALS: [(&str, &str, &str); 5] = [
    ("security", "401", "No API key, or one that is not valid"),
    ("security", "429", "A rate limit was reached; Retry-After says when to try again"),
    ("requestBody", "400", "Malformed body, unknown field, or bad query"),
    ("requestBody", "413", "The body is larger than the operation accepts"),
    ("requestBody", "415", "The body is not of the operation's media type"),
];

/// Adds [`COMMON_REFUSALS`] to each operation of `doc` (a serialised document) that lacks them.
fn add_common_refusals(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for (method, op) in item.iter_mut() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let secured = op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            let has_body = op.get("requestBody").is_some();
            let has_query =
                op.get("parameters").and_then(Value::as_array).is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            for (needs, status, description) in COMMON_REFUSALS {
                let applies = match needs {
                    "security" => secured,
                    _ => has_body || (status == "400" && has_query),
                };
                if applies && !responses.contains_key(status) {
                    responses.insert(status.to_owned(), problem(description));
                }
            }
        }
    }
}

/// The document as served at `/openapi.json`: every operation lists the common refusals, and
/// links are spelt as OpenAPI spells them.
///
/// utoipa 5 writes the fields of a response's `links` in snake case (`operation_id`); OpenAPI
/// spells them `operationId`, `operationRef` and `requestBody`, so they are renamed here.
pub fn document_json(openapi: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi).expect("an OpenAPI document always serialises");
    add_common_refusals(&mut doc);
    apply_schema_patches(&mut doc);
    merge_into_schemas(&mut doc, &hybridpost_core::schema::letter_field_limits());
    spell_links(&mut doc);
    doc
}

/// Renames the snake-case fields utoipa writes in responses' `links`.
fn spell_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) else { return };
    let operations = paths.values_mut().filter_map(serde_json::Value::as_object_mut).flat_map(|item| item.values_mut());
    let responses = operations
        .filter_map(|op| op.get_mut("responses").and_then(serde_json::Value::as_object_mut))
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        let Some(links) = response.get_mut("links").and_then(serde_json::Value::as_object_mut) else { continue };
        for link in links.values_mut().filter_map(serde_json::Value::as_object_mut) {
            for (from, to) in
                [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")]
            {
                if let Some(value) = link.remove(from) {
                    link.insert(to.to_owned(), value);
                }
            }
        }
    }
}

/// Merges `patches` (`{schema: keywords}`) into the document's component schemas that it has
/// ([`merge_schema`]).
fn merge_into_schemas(doc: &mut serde_json::Value, patches: &serde_json::Value) {
    for (name, keywords) in patches.as_object().into_iter().flatten() {
        if let Some(schema) = doc.pointer_mut(&format!("/components/schemas/{name}")) {
            merge_schema(schema, keywords);
        }
    }
}

/// Merges `keywords` into `schema`, object into object; a `oneOf` given as an object is merged
/// into each of the schema's variants.
fn merge_schema(schema: &mut serde_json::Value, keywords: &serde_json::Value) {
    for (key, value) in keywords.as_object().into_iter().flatten() {
        match schema.get_mut(key).and_then(serde_json::Value::as_array_mut) {
            Some(variants) if key == "oneOf" && value.is_object() => variants.iter_mut().for_each(|v| merge(v, value)),
            _ => merge(schema, &serde_json::json!({key: value})),
        }
    }
}

/// Adds `patch`'s keys to `value`, object into object.
fn merge(value: &mut serde_json::Value, patch: &serde_json::Value) {
    match (value.as_object_mut(), patch.as_object()) {
        (Some(value), Some(patch)) => {
            for (key, p) in patch {
                match value.get_mut(key) {
                    Some(v) if v.is_object() && p.is_object() => merge(v, p),
                    _ => {
                        value.insert(key.clone(), p.clone());
                    }
                }
            }
        }
        _ => *value = patch.clone(),
    }
}

/// The extension key that carries a schema's patch from its service to [`document_json`].
const PATCH: &str = "x-hybridpost-patch";

/// `openapi` with `patches` (`{schema: keywords}`) marked on its component schemas, to be merged
/// into them when the document is served ([`document_json`]): what utoipa's attributes cannot
/// say (`minProperties` beside `maxProperties`, closed variants of a tagged enum). A `oneOf`
/// given as an object is merged into each of the schema's variants.
pub fn patch_schemas(mut openapi: utoipa::openapi::OpenApi, patches: &serde_json::Value) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::schema::Schema;
    let Some(components) = openapi.components.as_mut() else { return openapi };
    for (name, keywords) in patches.as_object().into_iter().flatten() {
        let extensions = match components.schemas.get_mut(name) {
            Some(utoipa::openapi::RefOr::T(Schema::Object(o))) => &mut o.extensions,
            Some(utoipa::openapi::RefOr::T(Schema::OneOf(o))) => &mut o.extensions,
            _ => panic!("no object or oneOf schema {name} to patch"),
        };
        extensions.get_or_insert_with(Default::default).insert(PATCH.to_owned(), keywords.clone());
    }
    openapi
}

/// Applies the patches [`patch_schemas`] marked.
fn apply_schema_patches(doc: &mut serde_json::Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(serde_json::Value::as_object_mut) else {
        return;
    };
    for schema in schemas.values_mut() {
        if let Some(keywords) = schema.as_object_mut().and_then(|s| s.remove(PATCH)) {
            merge_schema(schema, &keywords);
        }
    }
}
