//! The chain: read -> filter -> anonymize -> assess -> publish. A release is staged in a
//! hidden folder beside the target, checked, then renamed into place in one step. A
//! version that exists is never touched; an interrupted run leaves no folder named after
//! the version.

use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::prepare::prepare;
pub use crate::prepare::{eligible, Edition, RunOptions, StageHook};
use crate::publish::private::{check_private_dir, write_membership, write_private};
use crate::publish::staging::{check_staged, Staging};
use crate::publish::versions::{self, check_version, write_index};
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

/// `release`'s own settings beside the shared ones: where versions and private outputs go.
pub struct Options<'a> {
    pub run: RunOptions<'a>,
    pub edition: Edition,
    pub out: PathBuf,
    pub private_dir: Option<PathBuf>,
}

/// The main job: read, filter, partition, generalize, write to staging, check, publish.
pub fn release(pl: &Pipeline, inputs: &[PathBuf], o: &Options) -> Result<Outcome> {
    let (stage, v) = (|s: &str| o.run.stage(s), &o.edition);
    check_version(&v.version)?;
    let target = o.out.join(&v.version);
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
    let series = crate::series::open(pl, &o.out, o.private_dir.as_deref(), &v.version, &v.key)?;
    let eligible = eligible(pl, inputs, &o.run)?;
    let private = match &o.private_dir {
        Some(d) => Some(write_private(d, &o.out, &eligible)?),
        None => None,
    };
    let run = prepare(pl, eligible, &o.run, v, Some(series))?;
    let as_of = crate::date::format_date(o.run.as_of);
    let series = run.series_facts(pl);
    let facts = run.facts(pl, v, &as_of, &series);
    if let Some(d) = &o.private_dir {
        write_membership(d, &run.eligible, &run.partition, &run.table, run.kept)?;
        crate::publish::private::write_utility(d, &o.out, pl, &run.partition, &run.exact)?;
    }
    let staging = Staging::new(&o.out, &v.version)?;
    // The writer is mostly one core; the raw uniqueness figures need none of its output.
    stage("writing Parquet and CSV, measuring raw uniqueness");
    let (written, uniqueness) = rayon::join(
        || crate::publish::table::write(&staging.dir, pl, &v.version, &run.table),
        || run.uniqueness(pl, v),
    );
    written?;
    stage("computing the report and documents");
    crate::publish::write_documents(&staging.dir, &facts, &uniqueness)?;
    stage("verifying the staged release");
    check_staged(
        &staging.dir,
        pl.release.k,
        &v.key,
        o.run.read.store_key.as_deref(),
    )?;
    if let Some((latest, dir)) = versions::published(&o.out).last() {
        let before = versions::read_manifest(dir)?;
        let after = versions::read_manifest(&staging.dir)?;
        let c = versions::compare(&before, &after);
        let new = versions::Version::parse(&v.version).expect("checked above");
        versions::check_bump(latest.clone(), new, &c)?;
    }
    // The series state this version leaves, written before it is published and made the
    // latest once it is.
    let step = run.step.as_ref().expect("a release has a series step");
    if let Some(d) = &o.private_dir {
        let l = step.next(
            pl,
            &v.version,
            (&run.partition, &run.table),
            &run.known,
            (run.new_classes, run.left),
        );
        crate::series::ledger::write_snapshot(d, &l)?;
    }
    stage("publishing");
    staging.publish(&target)?;
    if let Some(d) = &o.private_dir {
        crate::series::ledger::commit(d, &v.version)?;
    }
    write_index(&o.out)?;
    Ok(Outcome {
        target,
        rows: run.table.rows(),
        classes: run.partition.classes.len(),
        suppressed: run.partition.suppressed.len(),
        eligible: run.eligible.people.len(),
        reproducible: v.key.reproducible,
        private,
        kind: step.kind,
        new_classes: run.new_classes,
        left: run.left,
        over_budget: step.over_budget,
    })
}
