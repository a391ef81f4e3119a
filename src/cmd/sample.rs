//! `opentape sample`: synthetic exports shaped like the real ones.

use super::crate_result::Result;
use opentape::sample::{generate, Entry, Options, SampleFormat};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Write a synthetic export (fake people, fake identifiers, a few broken records) for tests, demos and benchmarks.",
    after_help = "Examples:\n  opentape sample --format freesewing-v3 --people 2000 --seed 1 --out data-samples/freesewing-v3 --as-of 2026-11-29\n  \
opentape sample --format freesewing-sqlite --people 2000 --seed 1 --out data-samples/freesewing-sqlite --as-of 2026-11-29\n  \
opentape sample --format freesewing-v2 --people 1000000 --seed 7 --out /tmp/big\n  \
opentape sample --format freesewing-v3 --people 2000 --seed 1 --out /tmp/complete --entry complete"
)]
pub struct Args {
    #[arg(long, value_enum)]
    pub format: SampleFormat,
    /// Number of people (v3 sets, v2 people) to write.
    #[arg(long)]
    pub people: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Date the export is "taken" (YYYY-MM-DD): last-seen dates are spread before it.
    /// Default: today. Give it for byte-identical files across days.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Which measurements a set holds: `designs` (what its owner's FreeSewing designs ask
    /// for, as real sets do: a few complete, some from v2, 9-23 measurements for 1-5
    /// designs) or `complete` (every measurement that applies).
    #[arg(long, value_enum, default_value_t = Entry::Designs)]
    pub entry: Entry,
}

pub fn run(a: Args) -> Result<i32> {
    let as_of = super::parse_as_of(a.as_of.as_deref())?;
    let o = Options {
        format: a.format,
        people: a.people,
        seed: a.seed,
        out: a.out.clone(),
        as_of,
        entry: a.entry,
    };
    let w = generate(&o).map_err(|e| opentape::Error::io(&a.out, e))?;
    eprintln!(
        "wrote {} people of {} owners to {}",
        w.people,
        w.owners,
        a.out.display()
    );
    Ok(0)
}
