//! What every service's OpenAPI document shares: the two key schemes, one name each in the
//! merged document.

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

/// The document as served at `/openapi.json`.
///
/// utoipa 5 writes the fields of a response's `links` in snake case (`operation_id`); OpenAPI
/// spells them `operationId`, `operationRef` and `requestBody`, so they are renamed here.
pub fn document_json(openapi: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi).expect("an OpenAPI document always serialises");
    if let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        let operations =
            paths.values_mut().filter_map(serde_json::Value::as_object_mut).flat_map(|item| item.values_mut());
        let responses = operations
            .filter_map(|op| op.get_mut("responses").and_then(serde_json::Value::as_object_mut))
            .flat_map(|responses| responses.values_mut());
        for response in responses {
            let Some(links) = response.get_mut("links").and_then(serde_json::Value::as_object_mut) else { continue };
            for link in links.values_mut().filter_map(serde_json::Value::as_object_mut) {
                for (from, to) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(from) {
                        link.insert(to.to_owned(), value);
                    }
                }
            }
        }
    }
    doc
}
