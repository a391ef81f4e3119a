//! opentape-verify: an independent checker of an opentape release.
//!
//! It reads the released files itself, with the arrow-rs Parquet reader and a plain CSV
//! parser, and shares no code with the writer or the anonymizer (it does not depend on
//! polars or on the `opentape` crate: the compiler keeps it independent). It reads the
//! manifest only to learn what is claimed (k, files, columns, ranges), then checks it.

mod checks;
mod key;
mod patterns;
mod read;
mod report;

pub use checks::linkage::{check_linkage_with, Membership, SourceRecords, MAX_SCORED};
pub use checks::series::verify_series;
pub use key::{load_key, load_store_key};
pub use read::table::{self, Builder, Cell, Grouped};
pub use report::{to_json, Check, ReadError, Report};

use prelude::*;

/// What every module of the checker uses (a glob, so each file takes what it needs).
#[allow(unused_imports)]
mod prelude {
    pub(crate) use crate::checks::integrity::check_integrity;
    pub(crate) use crate::checks::k::check_k;
    pub(crate) use crate::checks::linkage;
    pub(crate) use crate::checks::pii::{check_documents, check_pii};
    pub(crate) use crate::checks::plausible::check_plausible;
    pub(crate) use crate::checks::schema::{check_enums, check_schema, claimed_columns, strings};
    pub(crate) use crate::checks::secrets::{check_secrets, derive_store_key, key_forms};
    pub(crate) use crate::patterns as pii;
    pub(crate) use crate::read::scan::{Csv, Parquet};
    pub(crate) use crate::read::{files, scan, table};
    pub(crate) use crate::report::{check, rerr, Check, ReadError, Report};
    pub(crate) use crate::table::{Builder, Cell, Grouped};
    pub(crate) use crate::{Options, CSV, MANIFEST, PARQUET, SUMS};
    pub(crate) use serde::Serialize;
    pub(crate) use serde_json::{json, Value};
    pub(crate) use std::collections::HashMap;
    pub(crate) use std::fmt;
    pub(crate) use std::path::{Path, PathBuf};
}

pub const PARQUET: &str = "measurements.parquet";
pub const CSV: &str = "measurements.csv";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";

#[derive(Default)]
pub struct Options {
    /// k to demand at least (the manifest's k is demanded anyway).
    pub min_k: usize,
    /// The noise key, if known: no file may contain it.
    pub key: Option<Vec<u8>>,
    /// The FreeSewing backend's key string (`BACKEND_ENC_KEY`), if known: no file may
    /// contain it, nor the key scrypt derives from it.
    pub store_key: Option<String>,
    /// The eligible source records and the release's private `membership.csv`: adds the
    /// `linkage` check.
    pub source: Option<(Box<dyn SourceRecords>, PathBuf)>,
}

/// Runs every check on the release folder `dir`. A file that cannot be parsed (a changed
/// byte can do that) fails the checks that need it; only a folder that cannot be listed or
/// read is a `ReadError`.
pub fn verify(dir: &Path, o: &Options) -> Result<Report, ReadError> {
    if !dir.is_dir() {
        return Err(rerr(dir, "not a release folder"));
    }
    let mut paths = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| rerr(dir, e))? {
        let p = e.map_err(|e| rerr(dir, e))?.path();
        if p.is_file() {
            paths.push(p);
        }
    }
    paths.sort();
    let mut forms = o.key.as_deref().map(key_forms).unwrap_or_default();
    if let Some(k) = &o.store_key {
        forms.extend(key_forms(k.as_bytes()));
        forms.extend(key_forms(&derive_store_key(k)));
    }
    // Hashing every file and reading the table are independent: one core each.
    let (files, (table, csv)) = rayon::join(
        || files::read_all(&paths, &forms),
        || scan::scan(&dir.join(PARQUET), &dir.join(CSV)),
    );
    let files = files?;
    let manifest: Result<Value, String> = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| format!("{MANIFEST}: {e}"))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{MANIFEST}: {e}")));
    let datapackage: Option<Value> = std::fs::read(dir.join("datapackage.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());

    let unreadable = |id: &'static str, errs: Vec<&String>| Check {
        id,
        ok: false,
        detail: format!(
            "cannot check: {}",
            errs.iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        problems: vec![],
        figures: None,
    };
    fn errs<'a>(parts: &[Option<&'a String>]) -> Vec<&'a String> {
        parts.iter().flatten().copied().collect()
    }
    let (m_err, t_err, c_err) = (
        manifest.as_ref().err(),
        table.as_ref().err(),
        csv.as_ref().err(),
    );
    let checks = vec![
        match (&manifest, &table, &csv) {
            (Ok(m), Ok(t), Ok(c)) => check_schema(m, datapackage.as_ref(), t, &c.header),
            _ => unreadable("schema", errs(&[m_err, t_err, c_err])),
        },
        match (&table, &csv) {
            (Ok(t), Ok(c)) => check_pii(t, c, &files),
            _ => unreadable("pii", errs(&[t_err, c_err])),
        },
        match (&manifest, &table) {
            (Ok(m), Ok(t)) => check_k(m, &t.grouped, o.min_k),
            _ => unreadable("k", errs(&[m_err, t_err])),
        },
        check_integrity(&manifest, &table, &csv, &files),
        check_secrets(&forms, table.as_ref().ok(), &files),
        match (&manifest, &table) {
            (Ok(m), Ok(t)) => check_plausible(m, &t.grouped),
            _ => unreadable("plausible", errs(&[m_err, t_err])),
        },
    ];
    let mut checks = checks;
    if let Some((source, membership)) = &o.source {
        checks.push(match (&manifest, &table) {
            (Ok(m), Ok(t)) => {
                let k = (m["parameters"]["k"].as_u64().unwrap_or(0) as usize)
                    .max(o.min_k)
                    .max(2);
                linkage::check_linkage(&t.grouped, source.as_ref(), membership, k)?
            }
            _ => unreadable("linkage", errs(&[m_err, t_err])),
        });
    }
    let ok = checks.iter().all(|c| c.ok);
    Ok(Report {
        release: dir.to_path_buf(),
        ok,
        checks,
    })
}
