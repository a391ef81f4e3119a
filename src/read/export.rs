//! What the reader hands the filter: people without identifiers, what their owners' user
//! records say, and what was dropped on the way.

use super::People;
use crate::record::{describe, Dropped, Problem, Reason, RecordRef, SourceFile};
use rustc_hash::FxHashMap;
use serde_json::Value;

/// What the owner rules (consent, account, retention) say of one user record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerVerdict {
    /// Why the owner's people are dropped, if they are.
    pub dropped: Option<Reason>,
    /// Whether the owner's consent value is the pipeline's `count_value`.
    pub counted: bool,
}

/// The owners' user records, as much of them as the filter needs.
#[derive(Debug, Default)]
pub struct Users {
    /// By owner: the owner rules' verdict on its user record, where one was read and the
    /// chain gave the reader the rules (`ReadOptions::owner_rules`). A few bytes per owner
    /// where the record's filter values are hundreds.
    pub verdicts: Vec<Option<OwnerVerdict>>,
    /// Filter values of each owner's user record (pipeline `filter_fields` order), by
    /// owner: kept only without rules, or where person records carry filter fields of
    /// their own (a person's own value for a field comes first).
    pub values: FxHashMap<u32, Vec<Option<Value>>>,
}

impl Users {
    /// Whether the owner's user record was read.
    pub fn has(&self, owner: u32) -> bool {
        self.verdicts
            .get(owner as usize)
            .is_some_and(Option::is_some)
            || self.values.contains_key(&owner)
    }
}

/// What the reader produced.
#[derive(Debug, Default)]
pub struct Export {
    pub files: Vec<SourceFile>,
    /// People (sets, v2 people, table rows) after the reader: identifiers are gone.
    pub people: People,
    /// The first problem the reader found in a person, by person (in order; few).
    pub problems: Vec<(u32, Problem)>,
    /// Values of a person record's own filter fields (pipeline `filter_fields` order), by
    /// person (in order), for the people that hold any.
    pub person_filters: Vec<(u32, Vec<Option<Value>>)>,
    pub users: Users,
    /// Owner keys. Needed to count owners and key the noise; never released.
    pub owner_keys: crate::read::OwnerKeys,
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
