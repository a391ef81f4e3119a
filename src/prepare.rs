//! The chain up to the files: the options every command that reads a source shares, read
//! and filter (`eligible`), then everything of a release but the files (`prepare`): from
//! the eligible people to the anonymized, checked table and the figures the documents
//! describe it by. `release` adds the files.

use crate::anonymize::known::Knowledge;
use crate::anonymize::noise::NoiseKey;
use crate::anonymize::{Partition, Table};
use crate::error::{Error, Result};
use crate::filter::Eligible;
use crate::pipeline::Pipeline;
use crate::progress::Meter;
use crate::publish::facts::{Counts, Facts};
use crate::read::ReadOptions;
use crate::series::{Start, Step};
use serde_json::Value;
use std::path::PathBuf;

/// Called with the name of each stage as it starts.
pub type StageHook<'a> = Box<dyn Fn(&str) + 'a>;

/// What every command that reads a source shares (`release`, `inspect`, `verify --source`,
/// `report --source`), resolved once from its arguments.
pub struct RunOptions<'a> {
    /// The retention reference date (days since 1970-01-01).
    pub as_of: i64,
    /// Size guards and the store key (FreeSewing's backend database).
    pub read: ReadOptions,
    /// Told the name of each stage as it starts (progress display).
    pub on_stage: Option<StageHook<'a>>,
    /// Counts bytes read and people placed (progress display).
    pub meter: &'a Meter,
}

impl RunOptions<'_> {
    /// Tells the hook, if any, that stage `s` starts.
    pub fn stage(&self, s: &str) {
        if let Some(f) = &self.on_stage {
            f(s)
        }
    }
}

/// What one version is made and described with: the noise key, the version (which keys
/// the noise) and its release date (an injectable clock, so tests are reproducible).
pub struct Edition {
    pub key: NoiseKey,
    pub version: String,
    /// YYYY-MM-DD.
    pub created: String,
}

/// Read and filter: the eligible people, the same way for `release`, `inspect`,
/// `verify --source` and `report --source`. The stage hook hears "reading the export" and
/// "filtering" as they start; the meter counts the bytes read.
pub fn eligible(pl: &Pipeline, inputs: &[PathBuf], o: &RunOptions) -> Result<Eligible> {
    o.stage("reading the export");
    let read = ReadOptions {
        owner_rules: Some(owner_rules(pl, o.as_of)),
        ..o.read.clone()
    };
    let export = crate::read::read(pl, inputs, &read, o.meter)?;
    o.meter.stop();
    o.stage("filtering");
    Ok(crate::filter::apply(pl, export, o.as_of))
}

/// The filter's owner rules at `as_of`, for the reader (which does not import the filter).
fn owner_rules(pl: &Pipeline, as_of: i64) -> crate::read::OwnerRules {
    let rules = crate::filter::OwnerRules::new(std::sync::Arc::new(pl.clone()), as_of);
    crate::read::OwnerRules(std::sync::Arc::new(move |f| rules.verdict(f)))
}

/// The anonymized table and what it was made from, before anything is written.
pub struct Run {
    pub eligible: Eligible,
    /// The eligible people's counts, for the documents (which never see the people).
    pub counts: Counts,
    pub partition: Partition,
    pub table: Table,
    /// The linkage check's figures (it passed, or the run was refused).
    pub linkage: Option<Value>,
    /// The released rows against the release's noisy figures: what the documents say.
    pub analysis: crate::assess::utility::Analysis,
    /// The released rows against the eligible people themselves: private only.
    pub exact: crate::assess::utility::Analysis,
    /// The noisy figures the rows were placed by (and the documents compare with).
    pub known: Knowledge,
    /// Where the version stands in its series (none for a recomputed report).
    pub step: Option<Step>,
    /// Classes kept from the previous version (the first ones; 0 unless a patch or minor).
    pub kept: usize,
    /// Classes made in this version, and people of the previous version's classes who left.
    pub new_classes: usize,
    pub left: usize,
}

/// Everything of a release after reading and filtering, but the files: refusals,
/// partition (or the series' kept classes), generalize, the linkage check and utility.
/// Refuses (nothing written) when a guarantee or a limit does not hold. `series` is where
/// the version stands in its series (`None` for a recomputed report: a first version).
pub fn prepare(
    pl: &Pipeline,
    mut eligible: Eligible,
    o: &RunOptions,
    v: &Edition,
    series: Option<Start>,
) -> Result<Run> {
    let stage = |s: &str| o.stage(s);
    let meter = o.meter;
    let rejected = eligible.rejected_share();
    if rejected > pl.filters.plausibility.max_rejected {
        return Err(Error::Refused(format!(
            "{:.2}% of {} records are malformed or implausible, more than max_rejected = {:.2}%: \
             a release from this export could be biased (see --private-dir for where they are)",
            rejected * 100.0,
            eligible.records_read,
            pl.filters.plausibility.max_rejected * 100.0
        )));
    }
    if eligible.people.is_empty() {
        return Err(Error::Refused(
            "no eligible people: nothing to release".into(),
        ));
    }
    // Where dropped records were has been written and counted (the tally keeps the
    // counts): millions of entries at 10M people, freed before the anonymization.
    eligible.dropped = Vec::new();
    let step = match series {
        Some(s) => Some(Step::new(
            pl,
            s.kind,
            s.previous,
            s.secret,
            &mut eligible,
            s.fingerprints,
        )?),
        None => None,
    };
    if eligible.people.is_empty() {
        return Err(Error::Refused(
            "every eligible person is over the series budget cap ([series] max_budget): nothing to release".into(),
        ));
    }
    let carried = step.as_ref().and_then(|s| s.spreads());
    let continued = step.as_ref().filter(|s| s.kind.continues());
    // What the rows are placed by and the documents compare with: the noisy figures of
    // everyone whose values are used.
    let measure = || Knowledge::measure(pl, &eligible, &v.key, &v.version, carried.as_ref());
    let (partition, table, known, new_classes, left) = match continued {
        Some(step) => {
            stage("keeping the previous version's classes, placing new people");
            let (p, t, made, left) =
                crate::series::continued(pl, &eligible, step, &v.key, &v.version, meter);
            meter.stop();
            // Nothing new is measured of the people who stay: the last cut's figures.
            let last_cut = step
                .previous
                .as_ref()
                .map(|l| l.known.clone())
                .unwrap_or_default();
            let known = Knowledge::carried(pl, last_cut);
            (p, t, known, made, left)
        }
        None => {
            let (p, t, known) = cut(pl, &eligible, o, &v.key, measure)?;
            let made = p.classes.len();
            let left = step.as_ref().map_or(0, |s| s.left());
            (p, t, known, made, left)
        }
    };
    // Classes kept from the previous version (a patch or minor version): the first ones.
    let kept = continued.map_or(0, |s| s.previous.as_ref().map_or(0, |l| l.classes.len()));
    // Independent of each other (both only read the table and the people): side by side,
    // so the one that uses the cores less leaves them to the other.
    stage("checking linkage against the source and measuring utility");
    let (link, analysis) = rayon::join(
        || crate::assess::linkage::linkage(pl, &eligible, &partition, &table, kept),
        || crate::assess::utility::analyse(pl, &eligible, &partition, &table),
    );
    if !link.ok {
        return Err(Error::Refused(format!(
            "the linkage check fails on the anonymized table; nothing was written: {} ({})",
            link.detail,
            link.problems.join("; ")
        )));
    }
    let public = crate::assess::public::public(pl, &partition, &analysis, &known);
    // The linkage figures as published: noisy (the check above used the exact ones).
    let mut linkage = link.figures;
    crate::assess::public::public_linkage(pl, &v.key, &v.version, &mut linkage);
    Ok(Run {
        counts: Counts::of(&eligible),
        eligible,
        partition,
        table,
        linkage,
        analysis: public,
        exact: analysis,
        known,
        step,
        kept,
        new_classes,
        left,
    })
}

/// A release of everyone (a first version or a re-cut): partition, the suppression limit,
/// generalize by noisy figures (the series' spreads where it has them).
fn cut(
    pl: &Pipeline,
    eligible: &Eligible,
    o: &RunOptions,
    key: &NoiseKey,
    measure: impl Fn() -> Knowledge + Sync,
) -> Result<(Partition, Table, Knowledge)> {
    let meter = o.meter;
    o.stage("partitioning into k-anonymous classes");
    // The noisy figures need the eligible people only: measured beside the partition, so
    // each uses the cores the other leaves idle.
    let (mut partition, known) = rayon::join(
        || crate::anonymize::partition(pl, eligible, meter),
        &measure,
    );
    meter.stop();
    within_suppression(pl, &partition, eligible, || {
        format!(
            "cannot be placed in a class of k = {} distinct owners",
            pl.release.k
        )
    })?;
    o.stage("generalizing, restoring moments and adding noise");
    let table = crate::anonymize::generalize(pl, eligible, &mut partition, key, &known);
    // Classes whose row stayed on a record were suppressed: the limit holds with them.
    if partition.withdrawn > 0 {
        within_suppression(pl, &partition, eligible, || {
            format!(
                "cannot be released ({} of them in classes whose row would reproduce the records of fewer than k owners)",
                partition.withdrawn
            )
        })?;
    }
    Ok((partition, table, known))
}

/// Refuses when more of the eligible people are suppressed than `max_suppressed` allows;
/// `why` says what became of them.
fn within_suppression(
    pl: &Pipeline,
    partition: &Partition,
    eligible: &Eligible,
    why: impl Fn() -> String,
) -> Result<()> {
    let suppressed = partition.suppressed.len() as f64 / eligible.people.len() as f64;
    if suppressed > pl.release.max_suppressed {
        return Err(Error::Refused(format!(
            "{} of {} eligible people ({:.2}%) {}, more than max_suppressed = {:.2}%",
            partition.suppressed.len(),
            eligible.people.len(),
            suppressed * 100.0,
            why(),
            pl.release.max_suppressed * 100.0
        )));
    }
    Ok(())
}

impl Run {
    /// Where the version stands in its series (a first version for a recomputed report).
    pub fn series_facts(&self, pl: &Pipeline) -> crate::publish::facts::SeriesFacts {
        use crate::series::Kind;
        let b = self.known.budget;
        let measured = !self.known.measured.is_empty();
        let (kind, cost, spent, over) = match &self.step {
            Some(s) => (s.kind, s.cost, s.spent_max(), s.over_budget),
            None => (Kind::First, b.total(), b.total(), 0),
        };
        crate::publish::facts::SeriesFacts {
            kind: kind.name(),
            budget_figures: b.figures,
            budget_spread: b.spread,
            version_cost: cost,
            spent_max: spent,
            cap: pl.series.max_budget,
            spreads_measured: measured,
            counterfeit_rows: self.partition.classes.iter().map(|c| c.counterfeit).sum(),
            new_classes: self.new_classes,
            left: self.left,
            over_budget: over,
        }
    }

    /// Unique records before anonymization, as published: noisy counts (keyed by the
    /// version, so a release and its recomputed report draw the same).
    pub fn uniqueness(&self, pl: &Pipeline, v: &Edition) -> Vec<crate::assess::risk::Uniqueness> {
        let mut u = crate::assess::risk::uniqueness(&self.eligible);
        let people = self.eligible.people.len();
        crate::assess::public::public_uniqueness(pl, &v.key, &v.version, people, &mut u);
        u
    }

    pub fn facts<'a>(
        &'a self,
        pl: &'a Pipeline,
        v: &'a Edition,
        as_of: &'a str,
        series: &'a crate::publish::facts::SeriesFacts,
    ) -> Facts<'a> {
        Facts {
            series,
            linkage: self.linkage.as_ref(),
            analysis: &self.analysis,
            pl,
            version: &v.version,
            created: &v.created,
            as_of,
            reproducible: v.key.reproducible,
            counts: &self.counts,
            partition: &self.partition,
            table: &self.table,
        }
    }
}
