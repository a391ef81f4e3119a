//! Where a record was, and why one was dropped: the references and reasons every stage
//! passes on. No value of a record is in them.

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
    /// A measurement the pipeline requires is absent (`[filters.plausibility] required`).
    Missing,
    /// Fewer measurements than the pipeline's `min_measurements`.
    TooFew,
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
            Reason::TooFew => "too-few-measurements",
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
            | Reason::Missing
            | Reason::TooFew => Stage::Plausibility,
            Reason::Duplicate | Reason::CuratedCopy | Reason::OtherOwnersCopy => Stage::Dedupe,
        }
    }

    /// Quarantined records are malformed or implausible (they count toward
    /// `max_rejected`); the others are dropped by policy. An absent measurement is normal
    /// data, not a fault: a set below the pipeline's minimum is dropped by policy.
    pub fn is_rejection(self) -> bool {
        matches!(self.stage(), Stage::Read | Stage::Plausibility)
            && !matches!(
                self,
                Reason::DuplicateUser | Reason::Missing | Reason::TooFew
            )
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
