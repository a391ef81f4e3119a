//! The typed values passed between pipeline stages. A stage only sees what the previous
//! one produced: identifier fields never get past the reader.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Where a record came from. Carries no value from the record itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordRef {
    pub file: u32,
    /// Line (NDJSON, CSV; 1-based) or index (JSON array, table row; 0-based).
    pub n: u64,
    /// Position inside a container record (a set of an account export), if any.
    pub sub: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Line,
    Index,
    Row,
    /// A row of a database table, by its id.
    TableId(&'static str),
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub unit: Unit,
}

/// Why a record was dropped. Stable names: they appear in manifests and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    MalformedJson,
    WrongType,
    Encrypted,
    Undecryptable,
    TooLarge,
    MissingOwner,
    DuplicateUser,
    NoUserRecord,
    NoConsent,
    NotActive,
    RefusedRole,
    TestAccount,
    StaleOwner,
    NoLastSeen,
    MissingCategory,
    UndeclaredCategory,
    NonNumeric,
    Negative,
    OutOfRange,
    Missing,
    Duplicate,
    CuratedCopy,
    OtherOwnersCopy,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::MalformedJson => "malformed-json",
            Reason::WrongType => "wrong-type",
            Reason::Encrypted => "encrypted",
            Reason::Undecryptable => "undecryptable",
            Reason::TooLarge => "too-large",
            Reason::MissingOwner => "missing-owner",
            Reason::DuplicateUser => "duplicate-user",
            Reason::NoUserRecord => "no-user-record",
            Reason::NoConsent => "no-consent",
            Reason::NotActive => "not-active",
            Reason::RefusedRole => "refused-role",
            Reason::TestAccount => "test-account",
            Reason::StaleOwner => "stale-owner",
            Reason::NoLastSeen => "no-last-seen",
            Reason::MissingCategory => "missing-category",
            Reason::UndeclaredCategory => "undeclared-category",
            Reason::NonNumeric => "non-numeric",
            Reason::Negative => "negative",
            Reason::OutOfRange => "out-of-range",
            Reason::Missing => "missing-required",
            Reason::Duplicate => "duplicate",
            Reason::CuratedCopy => "curated-set-copy",
            Reason::OtherOwnersCopy => "other-owners-copy",
        }
    }

    /// The pipeline stage that drops a record for this reason.
    pub fn stage(self) -> Stage {
        match self {
            Reason::MalformedJson
            | Reason::WrongType
            | Reason::Encrypted
            | Reason::Undecryptable
            | Reason::TooLarge
            | Reason::MissingOwner
            | Reason::DuplicateUser => Stage::Read,
            Reason::NoUserRecord | Reason::NoConsent => Stage::Consent,
            Reason::NotActive | Reason::RefusedRole | Reason::TestAccount => Stage::Account,
            Reason::StaleOwner | Reason::NoLastSeen => Stage::Retention,
            Reason::MissingCategory
            | Reason::UndeclaredCategory
            | Reason::NonNumeric
            | Reason::Negative
            | Reason::OutOfRange
            | Reason::Missing => Stage::Plausibility,
            Reason::Duplicate | Reason::CuratedCopy | Reason::OtherOwnersCopy => Stage::Dedupe,
        }
    }

    /// Quarantined records are malformed or implausible (they count toward
    /// `max_rejected`); the others are dropped by policy.
    pub fn is_rejection(self) -> bool {
        matches!(self.stage(), Stage::Read | Stage::Plausibility) && self != Reason::DuplicateUser
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Read,
    Consent,
    Account,
    Retention,
    Plausibility,
    Dedupe,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Consent => "consent",
            Stage::Account => "account",
            Stage::Retention => "retention",
            Stage::Plausibility => "plausibility",
            Stage::Dedupe => "dedupe",
        }
    }
}

/// A record that did not make it, with where it was and why. No values.
#[derive(Debug, Clone)]
pub struct Dropped {
    pub at: RecordRef,
    pub field: Option<String>,
    pub reason: Reason,
}

/// A problem found while reading a person, acted on by the plausibility filter.
#[derive(Debug, Clone)]
pub struct Problem {
    pub field: String,
    pub reason: Reason,
}

/// One person (a v3 set, a v2 person, a table row) after the reader: identifiers are gone.
#[derive(Debug, Clone)]
pub struct Person {
    pub at: RecordRef,
    /// Interned owner key (index into `Export::owner_keys`).
    pub owner: u32,
    /// One value per pipeline category, in pipeline order.
    pub categories: Vec<Option<String>>,
    /// One value per released measurement, in release order; NaN = absent. f32 holds a
    /// measurement in mm to about 1/10,000 mm, far below any catalog resolution, at half
    /// the memory of f64 (10M people x 38 measurements).
    pub values: Box<[f32]>,
    /// The first problem the reader found, if any (boxed: rare, and a person is kept
    /// for each of up to 10M records).
    pub problem: Option<Box<Problem>>,
    /// Values of the person record's own filter fields (pipeline `filter_fields` order);
    /// empty when it has none. User fields are in `Export::user_filters`.
    pub filters: Vec<Option<serde_json::Value>>,
    /// Whether the owner's user record was found (always true for single-entity formats).
    pub has_user: bool,
}

/// What the reader produced.
#[derive(Debug, Default)]
pub struct Export {
    pub files: Vec<SourceFile>,
    pub people: Vec<Person>,
    /// Filter values of each owner's user record (pipeline `filter_fields` order), by
    /// owner; a person's own value for a field, if any, comes first.
    pub user_filters: rustc_hash::FxHashMap<u32, Vec<Option<serde_json::Value>>>,
    /// Owner keys. Needed to count owners and key the noise; never released.
    pub owner_keys: Vec<String>,
    /// Measurements of public reference sets (FreeSewing's curated sets), in release order:
    /// a person's set equal to one is a copy, not a body.
    pub reference_sets: Vec<Box<[f32]>>,
    pub dropped: Vec<Dropped>,
    pub users_read: u64,
    pub records_read: u64,
}

impl Export {
    pub fn describe(&self, at: RecordRef) -> String {
        describe(&self.files, at)
    }
}

/// Where a record was: file and line or index. No values.
pub fn describe(files: &[SourceFile], at: RecordRef) -> String {
    {
        let Some(f) = files.get(at.file as usize) else {
            return format!("record {}", at.n);
        };
        let unit = match f.unit {
            Unit::Line => "line",
            Unit::Index => "index",
            Unit::Row => "row",
            Unit::TableId(t) => return format!("{}, table {t}, id {}", f.path.display(), at.n),
        };
        match at.sub {
            Some(s) => format!("{}, {unit} {}, item {s}", f.path.display(), at.n),
            None => format!("{}, {unit} {}", f.path.display(), at.n),
        }
    }
}

/// Counts of dropped records by stage and reason.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Tally(pub BTreeMap<Stage, BTreeMap<&'static str, u64>>);

impl Tally {
    pub fn add(&mut self, reason: Reason) {
        *self
            .0
            .entry(reason.stage())
            .or_default()
            .entry(reason.name())
            .or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.values().flat_map(|m| m.values()).sum()
    }

    pub fn get(&self, reason: Reason) -> u64 {
        self.0
            .get(&reason.stage())
            .and_then(|m| m.get(reason.name()))
            .copied()
            .unwrap_or(0)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
