//! The series ledger in the private folder (`<private-dir>/series/`): per version, each
//! class's released row, how many rows it has, and its current people by keyed
//! fingerprint (never an id); each person's budget spent. `ledger.json` is the latest
//! version's state; `<version>.json` the state each version left, for `verify --series`.

use crate::anonymize::known::Spread;
use crate::error::{Error, Result};
use crate::publish::layout;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Folder of the ledger inside the private folder.
pub const DIR: &str = layout::SERIES_DIR;
/// The latest state.
pub const LATEST: &str = layout::LEDGER;

/// One class as published: its stratum, released values and rows, and who is in it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerClass {
    pub categories: Vec<String>,
    /// Release positions its rows hold (the measurement pattern).
    pub dims: Vec<usize>,
    /// Released values, one per released column (`null` where not held).
    pub values: Vec<Option<i64>>,
    /// Rows published for it (its people when it was made): never changes.
    pub rows: usize,
    /// Distinct owners when it was made (at least k).
    pub owners: usize,
    /// Fingerprints of the people in it now (those who left are gone; their rows stay).
    pub members: Vec<String>,
}

/// One published version of the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub version: String,
    pub kind: super::Kind,
    /// People whose values were used (eligible, within budget).
    pub people: usize,
    pub rows: usize,
    pub classes: usize,
    /// Classes made in this version (all of them for a first version or a re-cut).
    pub new_classes: usize,
    /// People of the previous version's classes who are no longer eligible.
    pub left: usize,
    /// People not in a class (new people waiting for the next minor version, and people
    /// no class could hold).
    pub waiting: usize,
    /// People left out because their budget would pass the cap.
    pub over_budget: usize,
    /// zCDP rho each person whose values were used spent in this version (the most any
    /// one spent).
    pub budget: f64,
}

/// The series state after a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    pub dataset: String,
    /// Key of the fingerprints (hex): secret, like the private folder.
    pub secret: String,
    pub versions: Vec<Entry>,
    /// The released columns (categories, then measurements) the classes' values fill.
    pub columns: Vec<String>,
    /// What the classes were made under, which a patch or minor version may not change: k
    /// and the noise of the figures.
    pub made_with: String,
    /// Spreads and correlations per category combination, measured once and carried over.
    pub spreads: Vec<(Vec<String>, Spread)>,
    /// What the last cut (first version or re-cut) knew, per category combination: patch
    /// and minor versions keep it (their documents compare with it).
    pub known: Vec<(Vec<String>, crate::anonymize::known::Known)>,
    /// Budget spent per person fingerprint over the series.
    pub budgets: BTreeMap<String, f64>,
    pub classes: Vec<LedgerClass>,
}

impl Ledger {
    pub fn latest(&self) -> Option<&str> {
        self.versions.last().map(|v| v.version.as_str())
    }

    pub fn spreads(&self) -> crate::anonymize::known::Spreads {
        self.spreads.iter().cloned().collect()
    }
}

/// Where the ledger of a private folder is.
pub fn path(private: &Path) -> PathBuf {
    private.join(DIR).join(LATEST)
}

/// The ledger in `private`, if there is one.
pub fn read(private: &Path) -> Result<Option<Ledger>> {
    let p = path(private);
    if !p.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::input(&p, format!("not a series ledger: {e}")))
}

/// Writes `text` to `path` through a temporary file renamed into place.
fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Writes the state a version leaves as `<version>.json` (before the version is
/// published: a run that fails later leaves only this file, rewritten by the next try).
pub fn write_snapshot(private: &Path, l: &Ledger) -> Result<PathBuf> {
    let dir = private.join(DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let version = l.latest().expect("a ledger written has a version");
    let p = dir.join(format!("{version}.json"));
    replace(&p, &serde_json::to_string(l).expect("JSON"))?;
    Ok(p)
}

/// Makes the snapshot of `version` the latest state (once the version is published).
pub fn commit(private: &Path, version: &str) -> Result<()> {
    let dir = private.join(DIR);
    let snap = dir.join(format!("{version}.json"));
    let text = std::fs::read_to_string(&snap).map_err(|e| Error::io(&snap, e))?;
    replace(&dir.join(LATEST), &text)
}
