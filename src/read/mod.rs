//! Readers: turn an export into people with roles applied. Identifier fields are dropped
//! the moment they are seen; a field with no role stops the run (deny by default).

pub mod decrypt;
mod fast;
mod freesewing;
mod sqlite;
mod table;

use crate::catalog::Lookup;
use crate::error::{Error, Result};
use crate::model::{Export, Person, Problem, Reason, RecordRef, SourceFile, Unit};
use crate::pipeline::{CategorySource, Format, Pipeline, Role};
use crate::progress::Meter;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Guards against inputs too large to be what they claim.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Total bytes of all input files.
    pub max_input_bytes: u64,
    /// Records (people and users) read.
    pub max_records: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 << 30,
            max_records: 100_000_000,
        }
    }
}

/// How to read: size guards, and the store's key where its values are encrypted.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub limits: Limits,
    /// The backend's key, derived once (FreeSewing `BACKEND_ENC_KEY`).
    pub store_key: Option<std::sync::Arc<decrypt::StoreKey>>,
    /// The filters' reference date: with it, a store reader decrypts the sets of owners
    /// who pass the owner rules only (the others are dropped by the filter anyway).
    pub as_of: Option<i64>,
}

/// Reads every input with the pipeline's reader, within the default limits.
pub fn read(pl: &Pipeline, inputs: &[PathBuf]) -> Result<Export> {
    read_limited(pl, inputs, Limits::default())
}

pub fn read_limited(pl: &Pipeline, inputs: &[PathBuf], limits: Limits) -> Result<Export> {
    let o = ReadOptions {
        limits,
        ..ReadOptions::default()
    };
    read_metered(pl, inputs, &o, &Meter::default())
}

/// As [`read_limited`], with a store key, counting the bytes read on `meter`.
pub fn read_metered(
    pl: &Pipeline,
    inputs: &[PathBuf],
    o: &ReadOptions,
    meter: &Meter,
) -> Result<Export> {
    let limits = o.limits;
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if meta.is_dir() {
            files.extend(list_dir(input)?);
        } else {
            files.push(input.clone());
        }
    }
    let mut total = 0u64;
    for f in &files {
        total += std::fs::metadata(f).map_err(|e| Error::io(f, e))?.len();
    }
    if total > limits.max_input_bytes {
        return Err(Error::Usage(format!(
            "the input is {total} bytes, more than --max-input-bytes {}: raise the limit if this export is really that large",
            limits.max_input_bytes
        )));
    }
    meter.start(total, crate::progress::Unit::Bytes);
    let mut r = Reader::new(pl, meter);
    r.w.key = o.store_key.clone();
    r.as_of = o.as_of;
    for file in &files {
        r.read_file(file)?;
        let n = r.export.records_read + r.export.users_read;
        if n > limits.max_records {
            return Err(Error::Usage(format!(
                "{}: more than --max-records {} records read: raise the limit if this export is really that large",
                file.display(),
                limits.max_records
            )));
        }
    }
    r.finish()
}

/// Files of an export folder, sorted so the result never depends on directory order.
fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let is_file = std::fs::metadata(&path)
            .map(|m| m.is_file())
            .unwrap_or(false);
        if is_file && matches!(ext, "json" | "ndjson" | "jsonl" | "csv" | "parquet") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::input(
            dir,
            "no .json, .ndjson, .csv or .parquet file in this folder",
        ));
    }
    Ok(files)
}

/// The fields of one record, after roles were applied. Owns no identifier value.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub owner: Option<String>,
    pub categories: Vec<Option<String>>,
    pub values: Vec<f64>,
    pub breasts_only_present: bool,
    pub problem: Option<Problem>,
    pub filters: Vec<Option<Value>>,
    /// Fields with no role met in this record: (entity, field).
    pub unknown: Vec<(String, String)>,
    /// Encrypted values met, and how many of them decrypted.
    pub encrypted: u32,
    pub decrypted: u32,
}

impl Fields {
    pub(crate) fn problem(&mut self, field: impl Into<String>, reason: Reason) {
        if self.problem.is_none() {
            self.problem = Some(Problem {
                field: field.into(),
                reason,
            });
        }
    }
}

/// What applying roles needs to know: shared by the threads that walk records.
#[derive(Clone)]
pub(crate) struct Walker<'a> {
    pub pl: &'a Pipeline,
    /// Catalog index -> position among the released measurements.
    pub(crate) release_pos: Vec<Option<usize>>,
    /// Filter fields as (entity, path), in pipeline order.
    filter_fields: Vec<(String, String)>,
    /// The store's key, where values are encrypted at rest.
    pub(crate) key: Option<std::sync::Arc<decrypt::StoreKey>>,
}

pub(crate) struct Reader<'a> {
    pub pl: &'a Pipeline,
    pub(crate) w: Walker<'a>,
    /// Unknown fields: (entity, field) -> where first seen.
    unknown: BTreeMap<(String, String), String>,
    pub export: Export,
    /// Users by owner: their filter values.
    users: rustc_hash::FxHashMap<u32, Vec<Option<Value>>>,
    owner_ids: rustc_hash::FxHashMap<String, u32>,
    /// Owner keys that are canonical decimal integers (v3 user ids), by value: a map of
    /// integers is a fraction of the cost of a map of strings at millions of owners.
    owner_nums: rustc_hash::FxHashMap<u64, u32>,
    /// Bytes read so far, for the progress display.
    pub(crate) meter: &'a Meter,
    /// Encrypted values met and decrypted, over the whole export.
    pub(crate) encrypted: u64,
    pub(crate) decrypted: u64,
    /// See [`ReadOptions::as_of`].
    pub(crate) as_of: Option<i64>,
}

impl<'a> Reader<'a> {
    fn new(pl: &'a Pipeline, meter: &'a Meter) -> Self {
        Reader {
            pl,
            w: Walker::new(pl),
            unknown: BTreeMap::new(),
            export: Export::default(),
            users: Default::default(),
            owner_ids: Default::default(),
            owner_nums: Default::default(),
            meter,
            encrypted: 0,
            decrypted: 0,
            as_of: None,
        }
    }

    /// The owner keys whose user record `rules` keep: the records of all other owners
    /// need not be decrypted (the filter drops them).
    pub(crate) fn kept_owners(&self, rules: &crate::filter::OwnerRules) -> KeptOwners {
        let kept = |id: &u32| self.users.get(id).is_some_and(|f| !rules.drop(f));
        KeptOwners {
            numbers: self
                .owner_nums
                .iter()
                .filter(|(_, id)| kept(id))
                .map(|(n, _)| *n)
                .collect(),
            texts: self
                .owner_ids
                .iter()
                .filter(|(_, id)| kept(id))
                .map(|(k, _)| k.clone())
                .collect(),
        }
    }

    pub(crate) fn add_file(&mut self, path: &Path, unit: Unit) -> u32 {
        self.export.files.push(SourceFile {
            path: path.to_path_buf(),
            unit,
        });
        (self.export.files.len() - 1) as u32
    }

    fn read_file(&mut self, path: &Path) -> Result<()> {
        match self.pl.format {
            Format::Table => table::read(self, path),
            Format::FreesewingV3 | Format::FreesewingV2 => freesewing::read(self, path),
            Format::FreesewingSqlite => sqlite::read(self, path),
        }
    }

    /// Counts a whole file as read (readers that do not stream line by line).
    pub(crate) fn file_done(&self, path: &Path) {
        self.meter
            .add(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    }

    pub(crate) fn new_fields(&self) -> Fields {
        self.w.new_fields()
    }

    pub(crate) fn filter_index(&self, entity: &str, path: &str) -> Option<usize> {
        self.w.filter_index(entity, path)
    }

    /// Records the fields with no role that a walk met, at `at`.
    fn note_unknown(&mut self, at: RecordRef, f: &mut Fields) {
        self.encrypted += f.encrypted as u64;
        self.decrypted += f.decrypted as u64;
        for (entity, field) in std::mem::take(&mut f.unknown) {
            self.unknown_field(&entity, &field, at);
        }
    }

    /// Registers one user record (its filter values) under its owner.
    pub(crate) fn add_user(&mut self, at: RecordRef, mut f: Fields) {
        self.note_unknown(at, &mut f);
        self.export.users_read += 1;
        let Some(owner) = f.owner else {
            return self.drop_record(at, None, Reason::MissingOwner);
        };
        let id = self.intern(owner);
        if self.users.contains_key(&id) {
            return self.drop_record(at, None, Reason::DuplicateUser);
        }
        self.users.insert(id, f.filters);
    }

    /// Registers one person record.
    pub(crate) fn add_person(&mut self, at: RecordRef, mut f: Fields) {
        self.note_unknown(at, &mut f);
        self.export.records_read += 1;
        let Some(owner) = f.owner.take() else {
            return self.drop_record(at, None, Reason::MissingOwner);
        };
        if let Some(Problem { field, reason }) = &f.problem {
            if reason.stage() == crate::model::Stage::Read {
                return self.drop_record(at, Some(field.clone()), *reason);
            }
        }
        for (i, c) in self.pl.categories.iter().enumerate() {
            if c.source == CategorySource::BreastsOnlyPresent {
                f.categories[i] = Some(f.breasts_only_present.to_string());
            }
        }
        let owner = self.intern(owner);
        self.export.people.push(Person {
            at,
            owner,
            categories: f.categories,
            values: f.values.iter().map(|&v| v as f32).collect(),
            problem: f.problem.map(Box::new),
            // Most person records hold no filter field: no allocation for them.
            filters: if f.filters.iter().all(Option::is_none) {
                Vec::new()
            } else {
                f.filters
            },
            has_user: false,
        });
    }

    pub(crate) fn drop_record(&mut self, at: RecordRef, field: Option<String>, reason: Reason) {
        self.export
            .dropped
            .push(crate::model::Dropped { at, field, reason });
    }

    /// A field with no role, first seen at `at` (where is only worked out then).
    pub(crate) fn unknown_field(&mut self, entity: &str, field: &str, at: RecordRef) {
        let key = (entity.to_string(), field.to_string());
        if !self.unknown.contains_key(&key) {
            let loc = self.location(at);
            self.unknown.insert(key, loc);
        }
    }

    /// As [`Reader::unknown_field`], with the location given.
    pub(crate) fn unknown_field_at(&mut self, entity: &str, field: &str, loc: String) {
        self.unknown
            .entry((entity.to_string(), field.to_string()))
            .or_insert(loc);
    }

    /// Whether a field with no role was met (the run stops at `finish`).
    pub(crate) fn unknown_pending(&self) -> bool {
        !self.unknown.is_empty()
    }

    /// The owner's id: owners numbered in the order first seen.
    fn intern(&mut self, key: String) -> u32 {
        // Keys live in the maps only; `finish` moves them into `owner_keys` by id. A
        // canonical decimal key has exactly one spelling, so keeping it as its number
        // never merges two owners or splits one.
        let next = (self.owner_ids.len() + self.owner_nums.len()) as u32;
        if let Some(n) = canonical_u64(&key) {
            return *self.owner_nums.entry(n).or_insert(next);
        }
        *self.owner_ids.entry(key).or_insert(next)
    }

    fn finish(mut self) -> Result<Export> {
        if self.encrypted > 0 {
            let path = self
                .export
                .files
                .first()
                .map(|f| f.path.clone())
                .unwrap_or_default();
            let sqlite = self.pl.format == Format::FreesewingSqlite;
            if self.w.key.is_none() && sqlite {
                return Err(Error::input(
                    path,
                    "the database's values are encrypted at rest: give the backend's key with --store-key-file FILE or the BACKEND_ENC_KEY environment variable",
                ));
            }
            if self.w.key.is_some() && self.decrypted == 0 {
                return Err(Error::input(
                    path,
                    format!(
                        "the key does not decrypt this {} (is it BACKEND_ENC_KEY?): none of its {} encrypted values decrypts",
                        if sqlite { "database" } else { "export" },
                        self.encrypted
                    ),
                ));
            }
        }
        let mut keys = vec![String::new(); self.owner_ids.len() + self.owner_nums.len()];
        for (k, id) in std::mem::take(&mut self.owner_ids) {
            keys[id as usize] = k;
        }
        for (n, id) in std::mem::take(&mut self.owner_nums) {
            keys[id as usize] = n.to_string();
        }
        self.export.owner_keys = keys;
        if let Some(((entity, field), at)) = self.unknown.iter().next() {
            let others: Vec<String> = self
                .unknown
                .keys()
                .skip(1)
                .map(|(e, f)| format!("{e}.{f}"))
                .collect();
            let mut field = field.clone();
            if !others.is_empty() {
                field = format!("{field}` (and also: {})`", others.join(", "));
            }
            let (path, record) = at.split_once('\u{0}').unwrap_or((at.as_str(), "?"));
            return Err(Error::UnknownField {
                path: PathBuf::from(path),
                record: record.to_string(),
                field,
                entity: entity.clone(),
                pipeline: self.pl.path.clone(),
            });
        }
        // Join each person with its owner's user record (single-entity formats have none).
        // The user's filter values stay with the user (one copy per owner, not per person).
        let single = self.pl.format.entities().get(1).is_none();
        for p in &mut self.export.people {
            p.has_user = single || self.users.contains_key(&p.owner);
        }
        self.export.user_filters = std::mem::take(&mut self.users);
        Ok(self.export)
    }

    /// A location label for unknown-field reports: file and record, separated by NUL.
    pub(crate) fn location(&self, at: RecordRef) -> String {
        let full = self.export.describe(at);
        let path = &self.export.files[at.file as usize].path;
        let p = path.display().to_string();
        let rest = full
            .strip_prefix(&format!("{p}, "))
            .unwrap_or(&full)
            .to_string();
        format!("{p}\u{0}{rest}")
    }
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
        }
    }

    pub(crate) fn new_fields(&self) -> Fields {
        Fields {
            owner: None,
            categories: vec![None; self.pl.categories.len()],
            values: vec![f64::NAN; self.pl.measurements.len()],
            breasts_only_present: false,
            problem: None,
            filters: vec![None; self.filter_fields.len()],
            unknown: Vec::new(),
            encrypted: 0,
            decrypted: 0,
        }
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
                        out.filters[i] = Some(self.filter_value(value.clone(), out));
                    }
                }
                Some(Role::Category) => {
                    if let Some(i) = self.category_index(entity, path) {
                        match scalar(value) {
                            Some(s) => out.categories[i] = Some(s),
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
    fn measurement_container(&self, entity: &str, path: &str, value: &Value, out: &mut Fields) {
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
                            Some(x) if x.is_finite() => out.values[pos] = x,
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

/// Owner keys, as [`Reader::intern`] tells them apart.
#[derive(Default)]
pub(crate) struct KeptOwners {
    numbers: rustc_hash::FxHashSet<u64>,
    texts: rustc_hash::FxHashSet<String>,
}

impl KeptOwners {
    pub(crate) fn contains(&self, key: &str) -> bool {
        match canonical_u64(key) {
            Some(n) => self.numbers.contains(&n),
            None => self.texts.contains(key),
        }
    }

    pub(crate) fn contains_number(&self, n: u64) -> bool {
        self.numbers.contains(&n)
    }
}

/// The number a key spells when it is a canonical decimal integer (digits only, no
/// leading zero, fits in u64): then `n.to_string()` gives the key back.
fn canonical_u64(key: &str) -> Option<u64> {
    let b = key.as_bytes();
    let digits = !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit);
    if !digits || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    key.parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integer_keys_round_trip_and_nothing_else_is_one() {
        for k in ["0", "7", "1001", "18446744073709551615"] {
            let n = canonical_u64(k).unwrap();
            assert_eq!(n.to_string(), k);
        }
        for k in [
            "",
            "01",
            "00",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "18446744073709551616",
            "abc",
            "١",
        ] {
            assert_eq!(canonical_u64(k), None, "{k:?}");
        }
    }
}
