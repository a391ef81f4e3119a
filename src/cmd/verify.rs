//! `opentape verify`: runs the independent checker (the `opentape-verify` crate).

use super::crate_result::Result;
use opentape::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Check every anonymization guarantee of a release: schema, pii, k, integrity, secrets, plausible.",
    after_help = "Examples:\n  opentape verify releases/1.0.0\n  opentape verify releases/1.0.0 --min-k 10 --json\n\n\
The checker is its own crate (opentape-verify: arrow-rs only, no polars, no code shared with the writer); \
`cargo install --path verify` installs it alone.\n\
Exit codes: 0 all guarantees hold; 1 a guarantee fails; 2 usage or I/O error."
)]
pub struct Args {
    /// Release folder, e.g. releases/1.0.0.
    pub release: PathBuf,
    /// Demand at least this k, whatever the manifest claims.
    #[arg(long, default_value_t = 0)]
    pub min_k: usize,
    /// File holding the noise key (else OPENTAPE_NOISE_KEY): no file may contain it.
    #[arg(long, value_name = "FILE")]
    pub noise_key_file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let key = opentape_verify::load_key(a.noise_key_file.as_deref())
        .map_err(|e| Error::Usage(e.to_string()))?;
    let opts = opentape_verify::Options {
        min_k: a.min_k,
        key,
    };
    let r = opentape_verify::verify(&a.release, &opts).map_err(|e| Error::Usage(e.to_string()))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
    } else {
        println!("{r}");
    }
    Ok(if r.ok { 0 } else { 1 })
}
