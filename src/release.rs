//! Writing a release: staged in a hidden folder beside the target, checked, then renamed
//! into place in one step. A version that exists is never touched; an interrupted run
//! leaves no folder named after the version.

use crate::anonymize::noise::NoiseKey;
use crate::anonymize::{Partition, Table};
use crate::error::{Error, Result};
use crate::filter::Eligible;
use crate::pipeline::Pipeline;
use crate::publish::facts::{Counts, Facts};
use crate::publish::private::{check_private_dir, write_membership, write_private};
use crate::publish::staging::{check_staged, Staging};
use crate::publish::versions::{self, check_version, write_index};
use serde_json::Value;
use std::path::PathBuf;

/// What a release run produced, for the command's report.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub target: PathBuf,
    pub rows: usize,
    pub classes: usize,
    pub suppressed: usize,
    pub eligible: usize,
    pub reproducible: bool,
    pub private: Option<PathBuf>,
    /// What the version is to the one before it.
    pub kind: crate::series::Kind,
    pub new_classes: usize,
    pub left: usize,
    pub over_budget: usize,
}

/// Called with the name of each stage as it starts.
pub type StageHook<'a> = Box<dyn Fn(&str) + 'a>;

pub struct Options<'a> {
    pub version: String,
    pub out: PathBuf,
    pub private_dir: Option<PathBuf>,
    pub as_of: i64,
    /// Release date (YYYY-MM-DD): an injectable clock, so tests are reproducible.
    pub created: String,
    pub key: NoiseKey,
    /// Told the name of each stage as it starts (progress display).
    pub on_stage: Option<StageHook<'a>>,
    /// Counts bytes read and people placed (progress display).
    pub meter: Option<&'a crate::progress::Meter>,
    /// Size guards and the store key (FreeSewing's backend database).
    pub read: crate::read::ReadOptions,
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
    pub known: crate::anonymize::known::Knowledge,
    /// Where the version stands in its series (none for a recomputed report).
    pub step: Option<crate::series::Step>,
    /// Classes kept from the previous version (the first ones; 0 unless a patch or minor).
    pub kept: usize,
    /// Classes made in this version, and people of the previous version's classes who left.
    pub new_classes: usize,
    pub left: usize,
}

/// What a release continues: its kind, the previous ledger and the fingerprints' key.
pub type SeriesStart = (
    crate::series::Kind,
    Option<crate::series::ledger::Ledger>,
    Vec<u8>,
);

impl Options<'_> {
    /// Tells the hook, if any, that stage `s` starts.
    fn stage(&self, s: &str) {
        if let Some(f) = &self.on_stage {
            f(s)
        }
    }
}

/// Read and filter: the eligible people, the same way for `release`, `inspect`,
/// `verify --source` and `report --source`. `stage` hears "reading the export" and
/// "filtering" as they start; `meter` counts the bytes read.
pub fn eligible(
    pl: &Pipeline,
    inputs: &[PathBuf],
    read: &crate::read::ReadOptions,
    as_of: i64,
    meter: &crate::progress::Meter,
    stage: &dyn Fn(&str),
) -> Result<Eligible> {
    stage("reading the export");
    let export = crate::read::read_metered(
        pl,
        inputs,
        &crate::read::ReadOptions {
            owner_rules: Some(owner_rules(pl, as_of)),
            ..read.clone()
        },
        meter,
    )?;
    meter.stop();
    stage("filtering");
    Ok(crate::filter::apply(pl, export, as_of))
}

/// The filter's owner rules at `as_of`, for the reader (which does not import the filter).
fn owner_rules(pl: &Pipeline, as_of: i64) -> crate::read::OwnerRules {
    let rules = crate::filter::OwnerRules::new(std::sync::Arc::new(pl.clone()), as_of);
    crate::read::OwnerRules(std::sync::Arc::new(move |f| rules.verdict(f)))
}

/// Read, filter, partition, generalize and check linkage: everything of a release but
/// the files. Refuses (nothing written) when a guarantee or a limit does not hold. With
/// `o.private_dir`, dropped.csv is written there once the export is filtered.
pub fn anonymize(
    pl: &Pipeline,
    inputs: &[PathBuf],
    o: &Options,
    series: Option<SeriesStart>,
) -> Result<(Run, Option<PathBuf>)> {
    let stage = |s: &str| o.stage(s);
    let quiet = crate::progress::Meter::default();
    let meter = o.meter.unwrap_or(&quiet);
    let mut eligible = eligible(pl, inputs, &o.read, o.as_of, meter, &stage)?;
    let private = match &o.private_dir {
        Some(d) => Some(write_private(d, &o.out, &eligible)?),
        None => None,
    };
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
        Some((kind, previous, secret)) => Some(crate::series::Step::new(
            pl,
            kind,
            previous,
            secret,
            &mut eligible,
            o.private_dir.is_some(),
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
    let measure = || {
        crate::anonymize::known::Knowledge::measure(
            pl,
            &eligible,
            &o.key,
            &o.version,
            carried.as_ref(),
        )
    };
    let (partition, table, known, new_classes, left) = match continued {
        Some(step) => {
            stage("keeping the previous version's classes, placing new people");
            let (p, t, made, left) =
                crate::series::continued(pl, &eligible, step, &o.key, &o.version, meter);
            meter.stop();
            // Nothing new is measured of the people who stay: the last cut's figures.
            let last_cut = step
                .previous
                .as_ref()
                .map(|l| l.known.clone())
                .unwrap_or_default();
            let known = crate::anonymize::known::Knowledge::carried(pl, last_cut);
            (p, t, known, made, left)
        }
        None => {
            let (p, t, known) = cut(pl, &eligible, o, measure, meter)?;
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
    crate::assess::public::public_linkage(pl, &o.key, &o.version, &mut linkage);
    let run = Run {
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
    };
    Ok((run, private))
}

/// A release of everyone (a first version or a re-cut): partition, the suppression limit,
/// generalize by noisy figures (the series' spreads where it has them).
fn cut(
    pl: &Pipeline,
    eligible: &Eligible,
    o: &Options,
    measure: impl Fn() -> crate::anonymize::known::Knowledge,
    meter: &crate::progress::Meter,
) -> Result<(Partition, Table, crate::anonymize::known::Knowledge)> {
    o.stage("partitioning into k-anonymous classes");
    let mut partition = crate::anonymize::partition_metered(pl, eligible, meter);
    meter.stop();
    let suppressed = partition.suppressed.len() as f64 / eligible.people.len() as f64;
    if suppressed > pl.release.max_suppressed {
        return Err(Error::Refused(format!(
            "{} of {} eligible people ({:.2}%) cannot be placed in a class of k = {} distinct owners, more than max_suppressed = {:.2}%",
            partition.suppressed.len(),
            eligible.people.len(),
            suppressed * 100.0,
            pl.release.k,
            pl.release.max_suppressed * 100.0
        )));
    }
    o.stage("generalizing, restoring moments and adding noise");
    let known = measure();
    let table = crate::anonymize::generalize(
        pl,
        eligible,
        &mut partition,
        &o.key,
        &eligible.owner_keys,
        &known,
    );
    // Classes whose row stayed on a record were suppressed: the limit holds with them.
    if partition.withdrawn > 0 {
        let suppressed = partition.suppressed.len() as f64 / eligible.people.len() as f64;
        if suppressed > pl.release.max_suppressed {
            return Err(Error::Refused(format!(
                "{} of {} eligible people ({:.2}%) cannot be released ({} of them in classes whose row would reproduce the records of fewer than k owners), more than max_suppressed = {:.2}%",
                partition.suppressed.len(),
                eligible.people.len(),
                suppressed * 100.0,
                partition.withdrawn,
                pl.release.max_suppressed * 100.0
            )));
        }
    }
    Ok((partition, table, known))
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

    pub fn facts<'a>(
        &'a self,
        pl: &'a Pipeline,
        o: &'a Options,
        as_of: &'a str,
        series: &'a crate::publish::facts::SeriesFacts,
    ) -> Facts<'a> {
        Facts {
            series,
            linkage: self.linkage.as_ref(),
            analysis: &self.analysis,
            pl,
            version: &o.version,
            created: &o.created,
            as_of,
            reproducible: o.key.reproducible,
            counts: &self.counts,
            partition: &self.partition,
            table: &self.table,
        }
    }
}

/// The main job: read, filter, partition, generalize, write to staging, check, publish.
pub fn release(pl: &Pipeline, inputs: &[PathBuf], o: &Options) -> Result<Outcome> {
    let stage = |s: &str| o.stage(s);
    check_version(&o.version)?;
    let target = o.out.join(&o.version);
    if target.exists() {
        return Err(Error::Refused(format!(
            "{} exists: a published version is never overwritten; choose a new version",
            target.display()
        )));
    }
    if let Some(d) = &o.private_dir {
        check_private_dir(d, &o.out)?;
    }
    // A run killed after publishing its version left the changelog behind: catch up.
    write_index(&o.out)?;
    let series = crate::series::open(pl, &o.out, o.private_dir.as_deref(), &o.version, &o.key)?;
    let (run, private) = anonymize(pl, inputs, o, Some(series))?;
    let as_of = crate::date::format_date(o.as_of);
    let series = run.series_facts(pl);
    let facts = run.facts(pl, o, &as_of, &series);
    if let Some(d) = &o.private_dir {
        write_membership(d, &run.eligible, &run.partition, &run.table, run.kept)?;
        crate::publish::private::write_utility(d, &o.out, pl, &run.partition, &run.exact)?;
    }
    let staging = Staging::new(&o.out, &o.version)?;
    // The writer is mostly one core; the raw uniqueness figures need none of its output.
    stage("writing Parquet and CSV, measuring raw uniqueness");
    let version = o.version.as_str();
    let (written, uniqueness) = rayon::join(
        || crate::publish::table::write(&staging.dir, pl, version, &run.table),
        || crate::assess::risk::uniqueness(&run.eligible),
    );
    written?;
    // Unique records before anonymization, as published: noisy counts.
    let mut uniqueness = uniqueness;
    let people = run.eligible.people.len();
    crate::assess::public::public_uniqueness(pl, &o.key, &o.version, people, &mut uniqueness);
    stage("computing the report and documents");
    crate::publish::write_documents(&staging.dir, &facts, &uniqueness)?;
    stage("verifying the staged release");
    check_staged(
        &staging.dir,
        pl.release.k,
        &o.key,
        o.read.store_key.as_deref(),
    )?;
    if let Some((latest, dir)) = versions::published(&o.out).last() {
        let before = versions::read_manifest(dir)?;
        let after = versions::read_manifest(&staging.dir)?;
        let c = versions::compare(&before, &after);
        let new = versions::Version::parse(&o.version).expect("checked above");
        versions::check_bump(latest.clone(), new, &c)?;
    }
    // The series state this version leaves, written before it is published and made the
    // latest once it is.
    let step = run.step.as_ref().expect("a release has a series step");
    if let Some(d) = &o.private_dir {
        let l = step.next(
            pl,
            &o.version,
            (&run.partition, &run.table),
            &run.known,
            (run.new_classes, run.left),
        );
        crate::series::ledger::write_snapshot(d, &l)?;
    }
    stage("publishing");
    staging.publish(&target)?;
    if let Some(d) = &o.private_dir {
        crate::series::ledger::commit(d, &o.version)?;
    }
    write_index(&o.out)?;
    Ok(Outcome {
        target,
        rows: run.table.rows(),
        classes: run.partition.classes.len(),
        suppressed: run.partition.suppressed.len(),
        eligible: run.eligible.people.len(),
        reproducible: o.key.reproducible,
        private,
        kind: step.kind,
        new_classes: run.new_classes,
        left: run.left,
        over_budget: step.over_budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Everything the filter kept and dropped, as comparable values.
    fn outcome(pl: &Pipeline, e: &Eligible) -> (Vec<String>, Vec<String>, Option<u64>) {
        let p = &e.people;
        let kept = (0..p.len())
            .map(|i| {
                let cats: Vec<Option<&str>> =
                    (0..pl.categories.len()).map(|c| p.category(i, c)).collect();
                let bits: Vec<u32> = p.values(i).iter().map(|v| v.to_bits()).collect();
                format!(
                    "{:?} {} {cats:?} {bits:?}",
                    p.at(i),
                    e.owner_keys.get(p.owner(i) as usize)
                )
            })
            .collect();
        let dropped = e
            .dropped
            .iter()
            .map(|d| format!("{:?} {:?} {:?}", d.at, d.field, d.reason))
            .collect();
        (kept, dropped, e.consent_value_owners)
    }

    /// The reader keeps a user record as the owner rules' verdict when the chain gives
    /// it the rules, and as its filter values otherwise (or where person records hold
    /// filter fields too): the filter decides the same either way.
    #[test]
    fn owner_verdicts_decide_as_the_filter_values_do() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        // v3 with a filter field on the set itself: sets must be public.
        let text = std::fs::read_to_string(root.join("pipelines/freesewing-v3.toml"))
            .unwrap()
            .replace("public = \"identifier\"", "public = \"filter\"")
            .replace(
                "count_value = 3",
                "count_value = 3\nalso_true = [\"set.public\"]",
            )
            .replace("\"../schemas/", &format!("\"{}/schemas/", root.display()));
        let own = dir.path().join("v3-public.toml");
        std::fs::write(&own, text).unwrap();
        let as_of = crate::date::parse_date("2026-11-29").unwrap();
        let cases = [
            (
                root.join("pipelines/freesewing-v3.toml"),
                "data-samples/freesewing-v3",
            ),
            (
                root.join("pipelines/freesewing-v2.toml"),
                "data-samples/freesewing-v2",
            ),
            (own, "data-samples/freesewing-v3"),
        ];
        for (path, input) in cases {
            let pl = Pipeline::load(&path).unwrap();
            let inputs = [root.join(input)];
            let meter = crate::progress::Meter::default();
            let with_rules =
                eligible(&pl, &inputs, &Default::default(), as_of, &meter, &|_| {}).unwrap();
            let values_only =
                crate::filter::apply(&pl, crate::read::read(&pl, &inputs).unwrap(), as_of);
            let (a, b) = (outcome(&pl, &with_rules), outcome(&pl, &values_only));
            assert!(!a.0.is_empty() && !a.1.is_empty(), "{}", path.display());
            assert_eq!(a, b, "{}", path.display());
        }
    }
}
