//! Readers: turn an export into people with roles applied. Identifier fields are dropped
//! the moment they are seen; a field with no role stops the run (deny by default).

pub mod decrypt;
mod export;
mod fast;
mod freesewing;
mod owners;
mod people;
mod sqlite;
mod table;
mod walk;

pub use export::{Export, OwnerVerdict, Users};
use owners::canonical_u64;
pub(crate) use owners::KeptOwners;
pub use owners::OwnerKeys;
pub use people::{People, RowMut, NO_VALUE};
pub(crate) use walk::{Fields, Walker};

use crate::error::{Error, Result};
use crate::pipeline::{CategorySource, Format, Pipeline};
use crate::progress::Meter;
use crate::record::{Problem, Reason, RecordRef, SourceFile, Unit};
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
    /// The filter's owner rules, given by the chain (the reader does not know them): with
    /// them, each user record is kept as the rules' verdict rather than its filter values,
    /// and a store reader decrypts the sets of owners the rules keep only (the others are
    /// dropped by the filter anyway).
    pub(crate) owner_rules: Option<OwnerRules>,
}

impl ReadOptions {
    /// Reading within `limits`, with the store's key where its values are encrypted.
    pub fn new(limits: Limits, store_key: Option<std::sync::Arc<decrypt::StoreKey>>) -> Self {
        ReadOptions {
            limits,
            store_key,
            owner_rules: None,
        }
    }
}

/// What the owner rules say of an owner whose user record holds these filter values
/// (pipeline `filter_fields` order).
#[derive(Clone)]
pub struct OwnerRules(pub std::sync::Arc<OwnerRule>);

/// The rules themselves.
pub type OwnerRule = dyn Fn(&[Option<Value>]) -> OwnerVerdict + Send + Sync;

impl std::fmt::Debug for OwnerRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OwnerRules(..)")
    }
}

/// Reads every input with the pipeline's reader, within `o`'s limits and with its store
/// key, counting the bytes read on `meter`.
pub fn read(pl: &Pipeline, inputs: &[PathBuf], o: &ReadOptions, meter: &Meter) -> Result<Export> {
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
    r.set_rules(o.owner_rules.clone());
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

pub(crate) struct Reader<'a> {
    pub pl: &'a Pipeline,
    pub(crate) w: Walker<'a>,
    /// Unknown fields: (entity, field) -> where first seen.
    unknown: BTreeMap<(String, String), String>,
    pub export: Export,
    /// Whether user records' filter values are kept (see [`Users::values`]).
    keep_user_values: bool,
    owner_ids: rustc_hash::FxHashMap<String, u32>,
    /// Owner keys that are canonical decimal integers (v3 user ids), by value: a map of
    /// integers is a fraction of the cost of a map of strings at millions of owners.
    owner_nums: rustc_hash::FxHashMap<u64, u32>,
    /// Bytes read so far, for the progress display.
    pub(crate) meter: &'a Meter,
    /// Encrypted values met and decrypted, over the whole export.
    pub(crate) encrypted: u64,
    pub(crate) decrypted: u64,
    /// A person's category codes, filled per record (no allocation per person).
    codes: Vec<u32>,
}

impl<'a> Reader<'a> {
    fn new(pl: &'a Pipeline, meter: &'a Meter) -> Self {
        Reader {
            pl,
            w: Walker::new(pl),
            unknown: BTreeMap::new(),
            export: Export {
                people: People::new(pl.categories.len(), pl.measurements.len()),
                ..Export::default()
            },
            keep_user_values: true,
            owner_ids: Default::default(),
            owner_nums: Default::default(),
            meter,
            encrypted: 0,
            decrypted: 0,
            codes: vec![NO_VALUE; pl.categories.len()],
        }
    }

    /// With the owner rules, user records are kept as verdicts, and their filter values
    /// only where person records hold filter fields too.
    fn set_rules(&mut self, rules: Option<OwnerRules>) {
        let person = self.pl.format.person_entity();
        let person_filters = self
            .pl
            .filter_fields()
            .iter()
            .any(|f| f.split_once('.').is_some_and(|(e, _)| e == person));
        self.keep_user_values = rules.is_none() || person_filters;
        // The walker holds them: the reading threads and this one use the same rules.
        self.w.rules = rules;
    }

    /// The owner keys whose user record the owner rules keep: the records of all other
    /// owners need not be decrypted (the filter drops them).
    pub(crate) fn kept_owners(&self) -> KeptOwners {
        let verdicts = &self.export.users.verdicts;
        let kept = |id: &u32| {
            verdicts
                .get(*id as usize)
                .copied()
                .flatten()
                .is_some_and(|v| v.dropped.is_none())
        };
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
        if self.export.users.has(id) {
            return self.drop_record(at, None, Reason::DuplicateUser);
        }
        if let Some(rules) = &self.w.rules {
            let verdicts = &mut self.export.users.verdicts;
            if verdicts.len() <= id as usize {
                verdicts.resize(id as usize + 1, None);
            }
            let v = f.verdict.take().unwrap_or_else(|| (rules.0)(&f.filters));
            verdicts[id as usize] = Some(v);
        }
        if self.keep_user_values {
            self.export.users.values.insert(id, f.filters);
        }
    }

    /// Registers one person record.
    pub(crate) fn add_person(&mut self, at: RecordRef, mut f: Fields) {
        self.note_unknown(at, &mut f);
        self.export.records_read += 1;
        let Some(owner) = f.owner.take() else {
            return self.drop_record(at, None, Reason::MissingOwner);
        };
        if let Some(Problem { field, reason }) = &f.problem {
            if reason.stage() == crate::record::Stage::Read {
                return self.drop_record(at, Some(field.clone()), *reason);
            }
        }
        let people = &mut self.export.people;
        for (i, c) in self.pl.categories.iter().enumerate() {
            self.codes[i] = match (&c.source, f.categories.get(i).and_then(Option::as_deref)) {
                (CategorySource::BreastsOnlyPresent, _) => people.intern(
                    i,
                    if f.breasts_only_present {
                        "true"
                    } else {
                        "false"
                    },
                ),
                (_, Some(v)) => people.intern(i, v),
                (_, None) => NO_VALUE,
            };
        }
        let index = people.len() as u32;
        if let Some(p) = f.problem {
            self.export.problems.push((index, p));
        }
        // Most person records hold no filter field.
        if f.filters.iter().any(Option::is_some) {
            self.export.person_filters.push((index, f.filters));
        }
        let owner = self.intern(owner);
        self.export.people.push(at, owner, &self.codes, &f.values);
    }

    pub(crate) fn drop_record(&mut self, at: RecordRef, field: Option<String>, reason: Reason) {
        self.export
            .dropped
            .push(crate::record::Dropped { at, field, reason });
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
        // By id: a number, or the index of a text key.
        enum Key {
            Number(u64),
            Text(usize),
        }
        let mut by_id: Vec<Option<Key>> = Vec::new();
        by_id.resize_with(self.owner_ids.len() + self.owner_nums.len(), || None);
        let texts: Vec<(String, u32)> = std::mem::take(&mut self.owner_ids).into_iter().collect();
        for (i, (_, id)) in texts.iter().enumerate() {
            by_id[*id as usize] = Some(Key::Text(i));
        }
        for (n, id) in std::mem::take(&mut self.owner_nums) {
            by_id[id as usize] = Some(Key::Number(n));
        }
        let mut keys = OwnerKeys::default();
        for k in by_id {
            match k.expect("every id has a key") {
                Key::Number(n) => keys.push(&n.to_string()),
                Key::Text(i) => keys.push(&texts[i].0),
            }
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
