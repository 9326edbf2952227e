//! JSON-in-TEXT columns.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::CoreResult;

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> CoreResult<String> {
    Ok(serde_json::to_string(value)?)
}

pub(crate) fn decode<T: DeserializeOwned>(text: &str) -> CoreResult<T> {
    Ok(serde_json::from_str(text)?)
}
