//! `opentape report`: rebuild a release's report, from its report.json or, with
//! `--source`, recomputed from the export the release was made from.

use super::crate_result::Result;
use opentape::Error;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(
    about = "Rebuild the privacy and utility report of a release (a published release is never changed: the report goes to --out / --json or stdout).",
    after_help = "Examples:\n  opentape report releases/1.0.0 --out /tmp/report.html\n  opentape report releases/1.0.0 > report.html\n  \
opentape report releases/1.0.0 --source data-samples/freesewing-v3 --pipeline pipelines/freesewing-v3.toml \\\n      --noise-key-file ~/.opentape/key --out /tmp/report.html --json /tmp/report.json\n\n\
Without --source the page is rendered from the release's report.json. With --source every figure is \
recomputed: the export is read, filtered (at the release's --as-of date, taken from its manifest), \
partitioned and noised again with the release's noise key (--noise-key-file or OPENTAPE_NOISE_KEY), \
and the result must equal the published table, else the command refuses (exit 1): a report is only \
ever computed for the table it describes.\n\
Exit codes: 0 written; 1 the recomputed table differs from the published one; 2 usage, input or I/O error."
)]
pub struct Args {
    /// Release folder.
    pub release: PathBuf,
    /// Where to write the HTML page; default: stdout (unless --json is given).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Where to write report.json.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Recompute from this export (files or folders), read with --pipeline.
    #[arg(long, value_name = "PATH", num_args = 1.., requires = "pipeline")]
    pub source: Vec<PathBuf>,
    /// Pipeline the release was made with.
    #[arg(long, value_name = "FILE", requires = "source")]
    pub pipeline: Option<PathBuf>,
    /// Retention reference date (YYYY-MM-DD); default: the one in the release's manifest.
    #[arg(long, value_name = "DATE", requires = "source")]
    pub as_of: Option<String>,
    /// The release's noise key and, for an encrypted source, the store's (with --source only).
    #[command(flatten)]
    pub keys: super::KeyArgs,
}

pub fn run(a: Args, progress: &super::progress::Progress) -> Result<i32> {
    if a.source.is_empty() && a.keys.given() {
        return Err(Error::Usage(
            "--noise-key-file and --store-key-file are used with --source only (recomputing the report)".into(),
        ));
    }
    let stored = a.release.join(opentape::publish::layout::REPORT_JSON);
    let text = std::fs::read_to_string(&stored).map_err(|e| Error::io(&stored, e))?;
    let published: Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(&stored, format!("not valid JSON: {e}")))?;
    let report = match &a.pipeline {
        None => published,
        Some(pipeline) => {
            let r = recompute(&a, pipeline, progress)?;
            progress.clear();
            if r == published {
                eprintln!("opentape: recomputed from the source; same figures as the published report.json");
            } else {
                eprintln!("opentape: recomputed from the source; the figures differ from the published report.json (made by another opentape version?)");
            }
            r
        }
    };
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&report).expect("JSON") + "\n";
        std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
    }
    let html = opentape::publish::report::html(&report);
    match &a.out {
        Some(out) => std::fs::write(out, html).map_err(|e| Error::io(out, e))?,
        None if a.json.is_none() => out!("{html}"),
        None => {}
    }
    Ok(0)
}

/// Runs the release's pipeline again and builds the report from it, after checking that
/// the table it makes is the published one.
fn recompute(a: &Args, pipeline: &Path, progress: &super::progress::Progress) -> Result<Value> {
    let pl = opentape::pipeline::Pipeline::load(pipeline)?;
    let manifest = opentape::publish::versions::read_manifest(&a.release)?;
    let as_of = match &a.as_of {
        Some(d) => super::parse_as_of(Some(d))?,
        None => {
            let d = manifest
                .pointer("/parameters/filters/retention/as_of")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Usage(
                        "the manifest names no retention date: give the release's --as-of".into(),
                    )
                })?;
            super::parse_as_of(Some(d))?
        }
    };
    let key = a.keys.noise_key()?.ok_or_else(|| {
        Error::Usage(format!(
            "recomputing a report needs the release's noise key ({})",
            super::NOISE_KEY_SOURCES
        ))
    })?;
    let field = |p: &str| {
        manifest
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Error::input(&a.release, format!("manifest.json has no {p}")))
    };
    let stage: opentape::release::StageHook = Box::new(|s: &str| progress.stage(s));
    let o = a
        .keys
        .store
        .run_options(as_of, Default::default(), Some(stage), progress.meter())?;
    let v = opentape::release::Edition {
        key,
        version: field("/dataset/version")?,
        created: field("/dataset/created")?,
    };
    let eligible = opentape::release::eligible(&pl, &a.source, &o)?;
    let run = opentape::prepare::prepare(&pl, eligible, &o, &v, None)?;
    progress.stage("comparing with the published table");
    let same = opentape::publish::table::same_table(
        &run.table,
        &a.release.join(opentape::publish::layout::PARQUET),
    )?;
    if !same {
        return Err(Error::Refused(format!(
            "the table recomputed from the source differs from the one published in {}: \
             a different export, pipeline, --as-of date or noise key, or a later version of a \
             series (its rows and figures come from the series ledger: only a first version \
             can be recomputed); no report written",
            a.release.display()
        )));
    }
    let as_of = opentape::date::format_date(as_of);
    let series = run.series_facts(&pl);
    let facts = run.facts(&pl, &v, &as_of, &series);
    // Unique records as the release published them: noisy counts, the same draws.
    let uniqueness = run.uniqueness(&pl, &v);
    Ok(opentape::publish::report::build(&facts, &uniqueness))
}
