//! `opentape-verify <release-dir>`: the independent checker on its own, for a research
//! group's CI. Exit codes: 0 all guarantees hold, 1 one fails, 2 usage or I/O error.

use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "Check every anonymization guarantee of an opentape release, independently of the tool that wrote it.",
    after_help = "Examples:\n  opentape-verify releases/1.0.0\n  OPENTAPE_NOISE_KEY=... opentape-verify releases/1.0.0 --min-k 10 --json\n\n\
Exit codes: 0 all guarantees hold; 1 a guarantee fails; 2 usage or I/O error."
)]
struct Args {
    /// Release folder (holding measurements.parquet, measurements.csv, manifest.json, SHA256SUMS).
    release: PathBuf,
    /// Demand at least this k, whatever the manifest claims.
    #[arg(long, default_value_t = 0)]
    min_k: usize,
    /// File holding the noise key (else OPENTAPE_NOISE_KEY): no file may contain it.
    #[arg(long, value_name = "FILE")]
    noise_key_file: Option<PathBuf>,
    /// File holding the FreeSewing backend's key (else BACKEND_ENC_KEY): no file may contain it.
    #[arg(long, value_name = "FILE")]
    store_key_file: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() {
    let a = Args::parse();
    let key = match opentape_verify::load_key(a.noise_key_file.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("opentape-verify: {e}");
            std::process::exit(2);
        }
    };
    let store_key = match opentape_verify::load_store_key(a.store_key_file.as_deref()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("opentape-verify: {e}");
            std::process::exit(2);
        }
    };
    let opts = opentape_verify::Options {
        min_k: a.min_k,
        key,
        store_key,
        // The linkage check reads the source with the pipeline reader: `opentape verify --source`.
        source: None,
    };
    match opentape_verify::verify(&a.release, &opts) {
        Ok(r) => {
            if a.json {
                println!("{}", serde_json::to_string_pretty(&r).expect("JSON"));
            } else {
                println!("{r}");
            }
            std::process::exit(if r.ok { 0 } else { 1 });
        }
        Err(e) => {
            eprintln!("opentape-verify: {e}");
            std::process::exit(2);
        }
    }
}
