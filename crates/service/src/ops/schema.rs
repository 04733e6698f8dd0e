//! OpenAPI schemas of the model's vocabulary (the model knows no OpenAPI). Here, not in `wire`,
//! because records defined in `ops` (the public case record) need them too and `ops` uses no
//! other module of the service; `wire::schema` re-exports them.

use custos_model::{Channel, EventType, Measure, OffenceCategory, Outcome};
use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, Type};

/// A string from a closed list of words. `schema_with` drops a field's doc comment, so each
/// word list says what it is.
pub(crate) fn names<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

pub fn outcome() -> Object {
    names(
        Outcome::ALL.iter().map(|o| o.as_str()),
        "The assessment's outcome.",
    )
}

pub fn measure() -> Object {
    names(Measure::ALL.map(Measure::as_str), "The measure asked for.")
}

pub fn channel() -> Object {
    names(
        Channel::ALL.iter().map(|c| c.as_str()),
        "How a request travels.",
    )
}

pub fn event_type() -> Object {
    names(
        EventType::ALL.iter().map(|t| t.as_str()),
        "The event type, e.g. `request.received`.",
    )
}

pub fn offence_categories() -> Array {
    ArrayBuilder::new()
        .items(names(
            OffenceCategory::ALL.map(OffenceCategory::as_str),
            "An offence category.",
        ))
        .build()
}
