//! Writing a release's files: the table, the report and documents, the manifest and
//! checksums; staging, private outputs and the version rules.

pub mod documents;
pub mod facts;
pub mod layout;
pub mod manifest;
pub mod private;
pub mod report;
pub mod staging;
pub mod summary;
pub mod table;
pub mod versions;

use crate::assess::risk::Uniqueness;
use crate::error::{Error, Result};
use facts::Facts;
use layout::*;
use manifest::{manifest, pretty, sha256_file};
use std::path::Path;

/// Writes the report, documents, manifest and checksums into `dir` (a staging folder that
/// already holds the table).
pub fn write_documents(dir: &Path, f: &Facts, uniqueness: &[Uniqueness]) -> Result<()> {
    let (pq_bytes, pq_sha) = sha256_file(&dir.join(PARQUET))?;
    let (csv_bytes, csv_sha) = sha256_file(&dir.join(CSV))?;
    let report = report::build(f, uniqueness);
    let docs = [
        (REPORT_JSON, pretty(&report)),
        (REPORT_HTML, report::html(&report)),
        (
            DATAPACKAGE,
            pretty(&documents::datapackage(f, (csv_bytes, &csv_sha))),
        ),
        (
            CROISSANT,
            pretty(&documents::croissant(f, &pq_sha, &csv_sha)),
        ),
        (CITATION, documents::citation_cff(f)),
        (DATASHEET, documents::datasheet(f)),
    ];
    for (name, text) in &docs {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    let mut files = vec![
        (PARQUET.to_string(), pq_bytes, pq_sha),
        (CSV.to_string(), csv_bytes, csv_sha),
    ];
    for (name, _) in &docs {
        let (bytes, sha) = sha256_file(&dir.join(name))?;
        files.push((name.to_string(), bytes, sha));
    }
    let m = manifest(f, &files);
    let mpath = dir.join(MANIFEST);
    std::fs::write(
        &mpath,
        serde_json::to_string_pretty(&m).expect("JSON") + "\n",
    )
    .map_err(|e| Error::io(&mpath, e))?;
    let mut sums = String::new();
    for name in files.iter().map(|f| f.0.as_str()).chain([MANIFEST]) {
        let (_, sha) = sha256_file(&dir.join(name))?;
        sums.push_str(&format!("{sha}  {name}\n"));
    }
    let spath = dir.join(SUMS);
    std::fs::write(&spath, sums).map_err(|e| Error::io(&spath, e))?;
    Ok(())
}
