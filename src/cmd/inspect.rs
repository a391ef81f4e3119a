//! `opentape inspect`: read and filter, write nothing, report counts and raw risk.

use super::{crate_result::Result, InputArgs, StoreKeyArg};
use opentape::pipeline::Pipeline;

#[derive(Debug, clap::Args)]
#[command(
    about = "Read and filter an export; print counts per stage and reason, people per category and the raw re-identification risk. Writes nothing.",
    after_help = "Examples:\n  opentape inspect --pipeline pipelines/ansur2.toml\n  \
opentape inspect --pipeline pipelines/freesewing-v3.toml --input export/ --as-of 2026-11-29 --json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub store_key: StoreKeyArg,
    /// Print the summary as JSON (for scripts and CI).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let pl = Pipeline::load(&a.input.pipeline)?;
    let as_of = a.input.as_of()?;
    let inputs = a.input.inputs(&pl);
    let quiet = opentape::progress::Meter::default();
    let o = a
        .store_key
        .run_options(as_of, a.input.limits(), None, &quiet)?;
    let eligible = opentape::release::eligible(&pl, &inputs, &o)?;
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let summary = opentape::inspect::summarize(&pl, &names, as_of, &eligible);
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary is JSON")
        );
    } else {
        out!("{summary}");
    }
    Ok(0)
}
