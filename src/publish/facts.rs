//! What the document writers may know about a run: counts, the partition, the table and
//! its figures. No person, owner key or noise key reaches them.

use crate::anonymize::{Partition, Table};
use crate::assess::utility::Analysis;
use crate::filter::Eligible;
use crate::pipeline::Pipeline;
use crate::record::Tally;
use serde_json::Value;

/// Record and people counts of a run, computed once from the eligible people.
#[derive(Debug, Clone)]
pub struct Counts {
    pub records_read: u64,
    pub users_read: u64,
    pub tally: Tally,
    pub eligible_people: usize,
    pub eligible_owners: usize,
    /// Eligible owners holding the pipeline's counted consent value, if it has one.
    pub consent_value_owners: Option<u64>,
}

impl Counts {
    pub fn of(e: &Eligible) -> Counts {
        Counts {
            records_read: e.records_read,
            users_read: e.users_read,
            tally: e.tally.clone(),
            eligible_people: e.people.len(),
            eligible_owners: e.owners(),
            consent_value_owners: e.consent_value_owners,
        }
    }
}

/// Everything the manifest and documents say about a run, except the files (added when
/// written).
pub struct Facts<'a> {
    pub pl: &'a Pipeline,
    pub version: &'a str,
    pub created: &'a str,
    pub as_of: &'a str,
    /// Whether the noise key was given (same input and key give the same bytes).
    pub reproducible: bool,
    pub counts: &'a Counts,
    pub partition: &'a Partition,
    pub table: &'a Table,
    /// The linkage check's figures (nearest-neighbour share, owners per class).
    pub linkage: Option<&'a Value>,
    /// Per-stratum columns, sorted copies and correlations (utility and report).
    pub analysis: &'a Analysis,
}
