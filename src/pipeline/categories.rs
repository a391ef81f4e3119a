//! `[categories]` after validation: where each comes from and the values it may take.

use super::*;

/// A category after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategorySource {
    Field { entity: String, path: String },
    BreastsOnlyPresent,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub name: String,
    pub source: CategorySource,
    /// The values that may be released, as declared (the Data Package enum).
    pub values: Vec<String>,
    /// Input spellings mapped to released values; no key is itself a released value.
    pub map: BTreeMap<String, String>,
}

impl Category {
    /// The released value for an input value, if it is declared (as itself or mapped).
    pub fn released<'a>(&'a self, input: &'a str) -> Option<&'a str> {
        if self.values.iter().any(|v| v == input) {
            return Some(input);
        }
        self.map.get(input).map(String::as_str)
    }
}

/// The values of a derived `breasts-only-present` category.
pub(super) const DERIVED_VALUES: [&str; 2] = ["false", "true"];

/// A category's declared values and mapping: each value non-empty, written as the reader
/// gives it (no surrounding white space), listed once and safe to publish; each mapping
/// from a spelling that is not itself a value to a declared value.
pub(super) fn check_values(
    name: &str,
    values: &[String],
    map: &BTreeMap<String, String>,
) -> std::result::Result<(), String> {
    if values.is_empty() {
        return Err(format!("[categories.{name}]: `values` is empty"));
    }
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || v.trim() != v {
            return Err(format!(
                "[categories.{name}]: value {} is empty or has surrounding white space",
                i + 1
            ));
        }
        if let Some(why) = unsafe_text(v) {
            return Err(format!(
                "[categories.{name}]: value {} {why}: it is never published",
                i + 1
            ));
        }
        if values[..i].contains(v) {
            return Err(format!(
                "[categories.{name}]: value {} is listed twice",
                i + 1
            ));
        }
    }
    for (from, to) in map {
        if from.is_empty() || values.contains(from) {
            return Err(format!(
                "[categories.{name}.map]: a spelling is empty or is itself a declared value"
            ));
        }
        if !values.contains(to) {
            return Err(format!(
                "[categories.{name}.map]: a spelling maps to a value that `values` does not declare"
            ));
        }
    }
    Ok(())
}
