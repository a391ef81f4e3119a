//! What the reader hands the filter: people without identifiers, their owners' filter
//! values, and what was dropped on the way.

use crate::record::{describe, Dropped, Problem, RecordRef, SourceFile};

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
