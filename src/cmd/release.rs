//! `opentape release`: the main job.

use super::{crate_result::Result, InputArgs, KeyArgs, NOISE_KEY_SOURCES};
use opentape::anonymize::noise::NoiseKey;
use opentape::pipeline::Pipeline;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Release an export as a k-anonymous, noised, versioned Parquet + CSV dataset with manifest and checksums.",
    after_help = "Examples:\n  opentape release --pipeline pipelines/freesewing-v3.toml --version 1.0.0 --as-of 2026-11-29\n  \
opentape release --pipeline pipelines/ansur2.toml --version 1.0.0 --out releases/ansur2 --noise-key-file ~/.opentape/key\n\n\
The noise key comes from --noise-key-file or the OPENTAPE_NOISE_KEY environment variable (at least 16 bytes); \
it is never written anywhere. Without a key a random one is used and the manifest says the release is not reproducible.\n\n\
A release into an --out that holds versions continues its series, by the version number: a patch (1.0.1) keeps every row \
and lets new people wait, a minor version (1.1.0) adds classes of new people, a major version (2.0.0) re-cuts everyone. \
The series ledger lives in --private-dir (series/ledger.json); a patch or minor version without it is refused (exit 2). \
Check a series with: opentape verify --series OUT --private-dir DIR\n\
Exit codes: 0 published; 1 refused (version exists, too many suppressed or rejected records, a check failed); 2 usage, input or I/O error."
)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Version of the dataset to publish (SemVer, e.g. 1.0.0).
    #[arg(long)]
    pub version: String,
    /// Folder holding all versions of the dataset.
    #[arg(long, default_value = "releases", value_name = "DIR")]
    pub out: PathBuf,
    /// Folder for private outputs: where dropped records were and why, which row each record
    /// went to, the exact utility figures, and the series ledger (keep it: the next patch or
    /// minor version needs it). Never inside --out.
    #[arg(long, value_name = "DIR")]
    pub private_dir: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print how long each stage took, on stderr (for benchmarks).
    #[arg(long)]
    pub timings: bool,
}

pub fn run(a: Args, progress: &super::progress::Progress) -> Result<i32> {
    let pl = Pipeline::load(&a.input.pipeline)?;
    let as_of = a.input.as_of()?;
    let key = match a.keys.noise_key()? {
        Some(k) => k,
        None => {
            eprintln!("opentape: no noise key given ({NOISE_KEY_SOURCES}): using a random one; this release will not be reproducible");
            NoiseKey::random()
        }
    };
    let created = match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
    {
        Some(secs) => opentape::date::format_date(secs.div_euclid(86400)),
        None => opentape::date::format_date(opentape::date::today()),
    };
    let stages = std::cell::RefCell::new(Vec::new());
    let opts = opentape::release::Options {
        run: opentape::release::RunOptions {
            as_of,
            read: a.keys.store.read_options(a.input.limits())?,
            on_stage: Some(Box::new(|s: &str| {
                progress.stage(s);
                stages
                    .borrow_mut()
                    .push((s.to_string(), std::time::Instant::now()));
            })),
            meter: progress.meter(),
        },
        edition: opentape::release::Edition {
            key,
            version: a.version.clone(),
            created,
        },
        out: a.out.clone(),
        private_dir: a.private_dir.clone(),
    };
    let inputs = a.input.inputs(&pl);
    let result = opentape::release::release(&pl, &inputs, &opts);
    progress.clear();
    drop(opts);
    if a.timings {
        let mut stages = stages.into_inner();
        stages.push(("end".into(), std::time::Instant::now()));
        for w in stages.windows(2) {
            eprintln!(
                "timing {:>9.3} s  {}",
                (w[1].1 - w[0].1).as_secs_f64(),
                w[0].0
            );
        }
    }
    let o = result?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&o).expect("JSON"));
    } else {
        outln!(
            "published {}: {} rows in {} classes (k = {} distinct owners), {} of {} eligible people suppressed",
            o.target.display(),
            o.rows,
            o.classes,
            pl.release.k,
            o.suppressed,
            o.eligible
        );
        use opentape::series::Kind;
        let waiting = o.suppressed;
        match o.kind {
            Kind::First => {}
            Kind::Patch => outln!(
                "series: patch: every row of the previous version kept unchanged; {} people left (their classes keep their rows), {waiting} new or changed people wait for a minor version",
                o.left
            ),
            Kind::Minor => outln!(
                "series: minor: every row of the previous version kept unchanged; {} new classes of new people; {} people left (their classes keep their rows); {waiting} wait",
                o.new_classes, o.left
            ),
            Kind::Major => outln!("series: major: everyone re-cut into {} classes", o.new_classes),
        }
        if o.over_budget > 0 {
            outln!(
                "series: {} people left out: their budget would pass max_budget",
                o.over_budget
            );
        }
        match &o.private {
            Some(p) => outln!("private: {}", p.display()),
            None => eprintln!(
                "opentape: no --private-dir: no series ledger was written, so the next version of this release folder must be a re-cut (a major version)"
            ),
        }
    }
    Ok(0)
}
