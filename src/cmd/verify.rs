//! `opentape verify`: runs the independent checker (the `opentape-verify` crate).

use super::crate_result::Result;
use opentape::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Check every anonymization guarantee of a release: schema, pii, k, integrity, secrets, plausible.",
    after_help = "Examples:\n  opentape verify releases/1.0.0\n  opentape verify releases/1.0.0 --min-k 10 --json\n  \
opentape verify releases/1.0.0 --source data-samples/freesewing-v3 --pipeline pipelines/freesewing-v3.toml --private-dir private --as-of 2026-11-29\n  \
opentape verify --series releases --private-dir private\n\n\
The checker is its own crate (opentape-verify: arrow-rs only, no polars, no code shared with the writer); \
`cargo install --path verify` installs it alone.\n\
Exit codes: 0 all guarantees hold; 1 a guarantee fails; 2 usage or I/O error."
)]
pub struct Args {
    /// Release folder, e.g. releases/1.0.0 (with --all: the folder holding all versions).
    #[arg(required_unless_present = "series")]
    pub release: Option<PathBuf>,
    /// Check a whole series: the folder holding all versions, against the series ledger in
    /// --private-dir (rows of those who stayed unchanged, every class of k owners, no
    /// person over the budget cap, no exact figure of the eligible people in a document).
    #[arg(long, value_name = "OUT", requires = "private_dir", conflicts_with_all = ["release", "all", "source"])]
    pub series: Option<PathBuf>,
    /// Check every version in the folder against its SHA256SUMS and manifest, and all
    /// guarantees; exit 1 if any fails.
    #[arg(long, conflicts_with = "source")]
    pub all: bool,
    /// Demand at least this k, whatever the manifest claims.
    #[arg(long, default_value_t = 0)]
    pub min_k: usize,
    #[command(flatten)]
    pub keys: super::KeyArgs,
    /// Eligible source records to check linkage against (read with --pipeline).
    #[arg(long, value_name = "PATH", num_args = 1.., requires_all = ["pipeline", "private_dir"])]
    pub source: Vec<PathBuf>,
    /// Pipeline the release was made with (reads --source).
    #[arg(long, value_name = "FILE", requires = "source")]
    pub pipeline: Option<PathBuf>,
    /// The release's private run folder (holds membership.csv, written by `release --private-dir`).
    #[arg(long, value_name = "DIR")]
    pub private_dir: Option<PathBuf>,
    /// Retention reference date the release used (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reads and filters the source as the release did, and hands the checker plain values.
fn source(
    a: &Args,
    progress: &super::progress::Progress,
) -> Result<Option<(Box<dyn opentape_verify::SourceRecords>, PathBuf)>> {
    let (Some(pipeline), Some(private)) = (&a.pipeline, &a.private_dir) else {
        return Ok(None);
    };
    let pl = opentape::pipeline::Pipeline::load(pipeline)?;
    let as_of = super::parse_as_of(a.as_of.as_deref())?;
    progress.stage("reading the source");
    let o = a
        .keys
        .store
        .run_options(as_of, Default::default(), None, progress.meter())?;
    let e = opentape::release::eligible(&pl, &a.source, &o)?;
    let src = opentape::assess::linkage::checker_source(&pl, Box::new(e));
    Ok(Some((
        Box::new(src),
        private.join(opentape::publish::layout::MEMBERSHIP),
    )))
}

pub fn run(a: Args, progress: &super::progress::Progress) -> Result<i32> {
    if let (Some(out), Some(private)) = (&a.series, &a.private_dir) {
        progress.stage(&format!("verifying the series in {}", out.display()));
        let r = opentape_verify::verify_series(out, private)
            .map_err(|e| Error::Usage(e.to_string()))?;
        progress.clear();
        if a.json {
            outln!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
        } else {
            outln!("{r}");
        }
        return Ok(if r.ok { 0 } else { 1 });
    }
    let release = a
        .release
        .clone()
        .expect("clap requires it without --series");
    let key = a.keys.noise_bytes()?;
    let store_key = a.keys.store.load()?;
    let opts = opentape_verify::Options {
        min_k: a.min_k,
        key,
        store_key,
        source: source(&a, progress)?,
    };
    if a.all {
        let versions = opentape::publish::versions::published(&release);
        if versions.is_empty() {
            return Err(Error::Usage(format!(
                "{}: no published version in this folder",
                release.display()
            )));
        }
        let mut reports = Vec::new();
        progress.stage("verifying every published version");
        progress
            .meter()
            .start(versions.len() as u64, opentape::progress::Unit::Count);
        for (_, dir) in versions {
            progress.meter().add(1);
            reports.push(
                opentape_verify::verify(&dir, &opts).map_err(|e| Error::Usage(e.to_string()))?,
            );
        }
        progress.clear();
        let ok = reports.iter().all(|r| r.ok);
        if a.json {
            outln!("{}", serde_json::to_string_pretty(&reports).expect("JSON"));
        } else {
            for r in &reports {
                outln!("{r}\n");
            }
        }
        return Ok(if ok { 0 } else { 1 });
    }
    progress.stage(&format!("verifying {}", release.display()));
    let r = opentape_verify::verify(&release, &opts).map_err(|e| Error::Usage(e.to_string()))?;
    progress.clear();
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
    } else {
        outln!("{r}");
    }
    Ok(if r.ok { 0 } else { 1 })
}
