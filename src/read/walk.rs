//! Applying roles to one record: the fields a record keeps once its identifiers are gone.

use super::decrypt;
use crate::catalog::Lookup;
use crate::pipeline::{CategorySource, Pipeline, Role};
use crate::record::{Problem, Reason};
use serde_json::Value;

/// The fields of one record, after roles were applied. Owns no identifier value.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub owner: Option<String>,
    /// By category index; shorter where the last are unset (read with `get`).
    pub categories: Vec<Option<String>>,
    /// In f32, as the people keep them (each value is cast once, as it is read).
    pub values: Vec<f32>,
    pub breasts_only_present: bool,
    pub problem: Option<Problem>,
    /// Filter values by field index; shorter than the filter fields where the last are
    /// unset (read with `get`).
    pub filters: Vec<Option<Value>>,
    /// Fields with no role met in this record: (entity, field).
    pub unknown: Vec<(String, String)>,
    /// Encrypted values met, and how many of them decrypted.
    pub encrypted: u32,
    pub decrypted: u32,
    /// A user record's verdict under the owner rules, where worked out on a reading
    /// thread (see [`Walker::verdict`]).
    pub verdict: Option<super::OwnerVerdict>,
}

impl Fields {
    /// Sets category `i` (pipeline order); see [`set_slot`].
    pub(crate) fn set_category(&mut self, i: usize, v: Option<String>) {
        set_slot(&mut self.categories, i, v)
    }

    /// Sets filter field `i` (pipeline `filter_fields` order); see [`set_slot`].
    pub(crate) fn set_filter(&mut self, i: usize, v: Option<Value>) {
        set_slot(&mut self.filters, i, v)
    }

    pub(crate) fn problem(&mut self, field: impl Into<String>, reason: Reason) {
        if self.problem.is_none() {
            self.problem = Some(Problem {
                field: field.into(),
                reason,
            });
        }
    }
}

/// Sets slot `i` of a list read with `get`: it grows only as far as a value set, so a
/// record that sets none (most person records hold no filter field, a v3 set no category
/// of its own) allocates nothing.
fn set_slot<T: Clone>(list: &mut Vec<Option<T>>, i: usize, v: Option<T>) {
    if list.len() <= i {
        if v.is_none() {
            return;
        }
        list.resize(i + 1, None);
    }
    list[i] = v;
}

/// What applying roles needs to know: shared by the threads that walk records.
#[derive(Clone)]
pub(crate) struct Walker<'a> {
    pub pl: &'a Pipeline,
    /// Catalog index -> position among the released measurements.
    pub(crate) release_pos: Vec<Option<usize>>,
    /// Filter fields as (entity, path), in pipeline order.
    pub(super) filter_fields: Vec<(String, String)>,
    /// The store's key, where values are encrypted at rest.
    pub(crate) key: Option<std::sync::Arc<decrypt::StoreKey>>,
    /// The owner rules, if the chain gave them.
    pub(crate) rules: Option<super::OwnerRules>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(pl: &'a Pipeline) -> Self {
        let mut release_pos = vec![None; pl.catalog.measurements.len()];
        for (pos, &i) in pl.measurements.iter().enumerate() {
            release_pos[i] = Some(pos);
        }
        let filter_fields = pl
            .filter_fields()
            .into_iter()
            .map(|q| {
                let (e, p) = q.split_once('.').unwrap();
                (e.to_string(), p.to_string())
            })
            .collect();
        Walker {
            pl,
            release_pos,
            filter_fields,
            key: None,
            rules: None,
        }
    }

    pub(crate) fn new_fields(&self) -> Fields {
        Fields {
            owner: None,
            categories: Vec::new(),
            values: vec![f32::NAN; self.pl.measurements.len()],
            breasts_only_present: false,
            problem: None,
            filters: Vec::new(),
            unknown: Vec::new(),
            encrypted: 0,
            decrypted: 0,
            verdict: None,
        }
    }

    /// Works out a user record's verdict under the owner rules, on the thread that read
    /// it (the reader's in-order merge is one thread).
    pub(crate) fn verdict(&self, f: &mut Fields) {
        f.verdict = self.rules.as_ref().map(|r| (r.0)(&f.filters));
    }

    /// Applies roles to one JSON object of `entity`, recursing into objects whose children
    /// carry roles. Fields listed in `structural` (e.g. `sets` of an account export) are
    /// handled by the caller.
    pub(crate) fn walk(
        &self,
        entity: &str,
        obj: &serde_json::Map<String, Value>,
        prefix: &str,
        structural: &[&str],
        out: &mut Fields,
    ) {
        for (key, value) in obj {
            if prefix.is_empty() && structural.contains(&key.as_str()) {
                continue;
            }
            let joined;
            let path: &str = if prefix.is_empty() {
                key
            } else {
                joined = format!("{prefix}.{key}");
                &joined
            };
            let role = self.pl.roles.get(entity).and_then(|r| r.get(path)).copied();
            match role {
                Some(Role::Identifier) => {}
                Some(Role::Owner) => match value {
                    Value::String(s) if !s.is_empty() => out.owner = Some(s.clone()),
                    Value::Number(n) => out.owner = Some(n.to_string()),
                    _ => out.problem(path, Reason::MissingOwner),
                },
                Some(Role::Filter) => {
                    if let Some(i) = self.filter_index(entity, path) {
                        let v = self.filter_value(value.clone(), out);
                        out.set_filter(i, Some(v));
                    }
                }
                Some(Role::Category) => {
                    if let Some(i) = self.category_index(entity, path) {
                        match scalar(value) {
                            Some(s) => out.set_category(i, Some(s)),
                            None if value.is_null() => {}
                            None => out.problem(path, Reason::WrongType),
                        }
                    }
                }
                Some(Role::Measurement) => self.measurement_container(entity, path, value, out),
                None => match value {
                    Value::Object(child) if self.pl.has_declared_children(entity, path) => {
                        self.walk(entity, child, path, &[], out)
                    }
                    _ => out.unknown.push((entity.to_string(), path.to_string())),
                },
            }
        }
    }

    /// A field with the measurement role holding an object of measurements (v3 `measies`,
    /// which may also come as a JSON string; v2 `measurements`).
    pub(super) fn measurement_container(
        &self,
        entity: &str,
        path: &str,
        value: &Value,
        out: &mut Fields,
    ) {
        let parsed;
        let value = match value {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v) => {
                    parsed = v;
                    &parsed
                }
                Err(_) => return out.problem(path, Reason::WrongType),
            },
            v => v,
        };
        let obj = match value {
            Value::Object(o) => o,
            Value::Null => return,
            _ => return out.problem(path, Reason::WrongType),
        };
        if obj.contains_key("iv") && obj.contains_key("ct") {
            out.encrypted += 1;
            let (Some(key), Some((iv, ct))) = (&self.key, decrypt::encrypted_parts(obj)) else {
                return out.problem(path, Reason::Encrypted);
            };
            return match key.decrypt_value(iv, ct, true) {
                // One level only: what was encrypted is the measurements themselves.
                Ok(Value::Object(m)) if decrypt::encrypted_parts(&m).is_none() => {
                    out.decrypted += 1;
                    self.measurement_container(entity, path, &Value::Object(m), out)
                }
                Ok(_) => {
                    out.decrypted += 1;
                    out.problem(path, Reason::WrongType)
                }
                Err(_) => out.problem(path, Reason::Undecryptable),
            };
        }
        for (name, v) in obj {
            match self.pl.catalog.lookup(name) {
                Lookup::Known(i) => {
                    if self.pl.catalog.measurements[i].breasts_only && !v.is_null() {
                        out.breasts_only_present = true;
                    }
                    let Some(pos) = self.release_pos[i] else {
                        continue;
                    };
                    // The current name wins over a legacy alias given beside it.
                    if !out.values[pos].is_nan() && *name != self.pl.catalog.measurements[i].name {
                        continue;
                    }
                    match v {
                        Value::Number(n) => match n.as_f64() {
                            Some(x) if x.is_finite() => out.values[pos] = x as f32,
                            _ => out.problem(format!("{path}.{name}"), Reason::NonNumeric),
                        },
                        Value::Null => {}
                        _ => out.problem(format!("{path}.{name}"), Reason::NonNumeric),
                    }
                }
                Lookup::Retired => {}
                Lookup::Unknown => out
                    .unknown
                    .push((entity.to_string(), format!("{path}.{name}"))),
            }
        }
    }

    /// A filter field's value; an encrypted one (a FreeSewing e-mail) decrypted with the
    /// store key, or null where it cannot be (the rule then sees no value).
    pub(crate) fn filter_value(&self, value: Value, out: &mut Fields) -> Value {
        let parts = match &value {
            Value::String(s) => decrypt::encrypted_text(s),
            Value::Object(o) => decrypt::encrypted_parts(o).map(|(a, b)| (a.into(), b.into())),
            _ => None,
        };
        let Some((iv, ct)) = parts else {
            return value;
        };
        out.encrypted += 1;
        match self.key.as_ref().map(|k| k.decrypt_value(&iv, &ct, false)) {
            Some(Ok(v)) => {
                out.decrypted += 1;
                v
            }
            _ => Value::Null,
        }
    }

    pub(crate) fn filter_index(&self, entity: &str, path: &str) -> Option<usize> {
        self.filter_fields
            .iter()
            .position(|(e, p)| e == entity && p == path)
    }

    pub(crate) fn category_index(&self, entity: &str, path: &str) -> Option<usize> {
        self.pl.categories.iter().position(|c| {
            matches!(&c.source, CategorySource::Field { entity: e, path: p } if e == entity && p == path)
        })
    }
}

/// A category value as text: strings, numbers and booleans.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
