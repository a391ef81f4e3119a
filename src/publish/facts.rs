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
    pub series: &'a SeriesFacts,
}

/// Where a version stands in its series, and the privacy budget it spent.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeriesFacts {
    /// first, patch, minor or major.
    pub kind: &'static str,
    /// zCDP rho per person of the noisy counts and means (every version) and of the
    /// spreads and correlations (once per series).
    pub budget_figures: f64,
    pub budget_spread: f64,
    /// Rho each person whose values this version used spent in it.
    pub version_cost: f64,
    /// The most any owner has spent over the series, this version included; the cap.
    pub spent_max: f64,
    pub cap: f64,
    /// Whether this version measured the spreads (else carried over).
    pub spreads_measured: bool,
    /// Rows kept for people who left their class since it was published.
    pub counterfeit_rows: usize,
    pub new_classes: usize,
    pub left: usize,
    pub over_budget: usize,
}

impl SeriesFacts {
    /// What the budget means, in one plain sentence.
    pub fn sentence(&self) -> String {
        format!(
            "Each person whose values this version used spent a privacy budget of rho = {:.0} (zCDP) in it, and no one more than {:.0} over the series so far (cap {:.0}): every figure computed from the people carries Gaussian noise sized to hide one person's share, so differencing two versions recovers no one, while averaging many versions wears that down as the budget grows.",
            self.version_cost, self.spent_max, self.cap
        )
    }
}
