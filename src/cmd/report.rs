//! `opentape report`: rebuild a release's report.html from its report.json.

use super::crate_result::Result;
use opentape::Error;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Rebuild the HTML report of a release from its report.json (a published release is never changed: the page goes to --out or stdout).",
    after_help = "Examples:\n  opentape report releases/1.0.0 --out /tmp/report.html\n  opentape report releases/1.0.0 > report.html"
)]
pub struct Args {
    /// Release folder.
    pub release: PathBuf,
    /// Where to write the page; default: stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<i32> {
    let path = a.release.join(opentape::report::JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(&path, format!("not valid JSON: {e}")))?;
    let html = opentape::report::html(&report);
    match a.out {
        Some(out) => std::fs::write(&out, html).map_err(|e| Error::io(&out, e))?,
        None => print!("{html}"),
    }
    Ok(0)
}
