//! Versions of a dataset: SemVer with the Frictionless rules. A column added, removed,
//! renamed or retyped needs a major version; rows added or removed a minor one; corrected
//! values a patch. `release` refuses a version number that understates the change, and
//! `diff` reports what changed between two releases.

use super::layout;
use crate::error::{Error, Result};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A published version: SemVer (the `semver` crate's parsing and ordering), plain
/// MAJOR.MINOR.PATCH only (a pre-release or build suffix is not a release folder name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(semver::Version);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let v = semver::Version::parse(s).ok()?;
        (v.pre.is_empty() && v.build.is_empty()).then_some(Version(v))
    }

    pub fn bump(&self, level: Level) -> Version {
        let v = &self.0;
        Version(match level {
            Level::Major => semver::Version::new(v.major + 1, 0, 0),
            Level::Minor => semver::Version::new(v.major, v.minor + 1, 0),
            Level::Patch => semver::Version::new(v.major, v.minor, v.patch + 1),
        })
    }

    /// The change level from `self` to a greater `to`.
    pub fn level_to(&self, to: &Version) -> Level {
        if to.0.major > self.0.major {
            Level::Major
        } else if to.0.minor > self.0.minor {
            Level::Minor
        } else {
            Level::Patch
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Patch,
    Minor,
    Major,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        })
    }
}

/// Published versions in `out`, ascending.
pub fn published(out: &Path) -> Vec<(Version, PathBuf)> {
    let mut v: Vec<(Version, PathBuf)> = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let ver = Version::parse(&name)?;
            e.path()
                .join(layout::MANIFEST)
                .is_file()
                .then(|| (ver, e.path()))
        })
        .collect();
    v.sort();
    v
}

pub fn read_manifest(dir: &Path) -> Result<Value> {
    let p = dir.join(layout::MANIFEST);
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text).map_err(|e| Error::input(&p, format!("not valid JSON: {e}")))
}

/// What a release would change against the previous one.
#[derive(Debug, Default, Clone)]
pub struct Change {
    pub columns_added: Vec<String>,
    pub columns_removed: Vec<String>,
    pub rows_before: u64,
    pub rows_after: u64,
    pub values_changed: bool,
    pub parameters: Vec<String>,
}

impl Change {
    pub fn level(&self) -> Level {
        if !self.columns_added.is_empty() || !self.columns_removed.is_empty() {
            Level::Major
        } else if self.rows_before != self.rows_after {
            Level::Minor
        } else {
            Level::Patch
        }
    }
}

fn columns(m: &Value) -> Vec<String> {
    ["categories", "measurements"]
        .iter()
        .flat_map(|k| m["columns"][*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

fn csv_sha(m: &Value) -> Option<String> {
    m["files"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == layout::CSV)
        .and_then(|f| f["sha256"].as_str().map(String::from))
}

/// Leaves of a JSON object as `path = value`, for comparing parameters.
fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(x, &p, out);
            }
        }
        x => out.push((prefix.to_string(), x.to_string())),
    }
}

pub fn compare(before: &Value, after: &Value) -> Change {
    let (a, b) = (columns(before), columns(after));
    let mut pa = Vec::new();
    let mut pb = Vec::new();
    leaves(&before["parameters"], "", &mut pa);
    leaves(&after["parameters"], "", &mut pb);
    let mut parameters = Vec::new();
    for (k, v) in &pb {
        match pa.iter().find(|(k2, _)| k2 == k) {
            Some((_, old)) if old != v => parameters.push(format!("{k}: {old} -> {v}")),
            None => parameters.push(format!("{k}: (new) {v}")),
            _ => {}
        }
    }
    for (k, old) in &pa {
        if !pb.iter().any(|(k2, _)| k2 == k) {
            parameters.push(format!("{k}: {old} -> (removed)"));
        }
    }
    Change {
        columns_added: b.iter().filter(|c| !a.contains(c)).cloned().collect(),
        columns_removed: a.iter().filter(|c| !b.contains(c)).cloned().collect(),
        rows_before: before["counts"]["released_rows"].as_u64().unwrap_or(0),
        rows_after: after["counts"]["released_rows"].as_u64().unwrap_or(0),
        values_changed: csv_sha(before) != csv_sha(after),
        parameters,
    }
}

/// Refuses `new` unless it is above every published version and its bump over the latest
/// is at least what the change needs.
pub fn check_bump(latest: Version, new: Version, change: &Change) -> Result<()> {
    if new.cmp(&latest) != Ordering::Greater {
        return Err(Error::Refused(format!(
            "version {new} is not above the latest published version {latest}"
        )));
    }
    let needed = change.level();
    let given = latest.level_to(&new);
    if given < needed {
        let why = match needed {
            Level::Major => format!(
                "columns changed (added: {:?}, removed: {:?})",
                change.columns_added, change.columns_removed
            ),
            _ => format!(
                "rows changed ({} -> {})",
                change.rows_before, change.rows_after
            ),
        };
        return Err(Error::Refused(format!(
            "version {new} understates the change since {latest}: {why} needs a {needed} bump ({} or later)",
            latest.bump(needed)
        )));
    }
    Ok(())
}

/// A Keep a Changelog section for the change.
pub fn changelog_lines(c: &Change) -> String {
    let mut s = String::new();
    let mut added = Vec::new();
    if c.rows_after > c.rows_before {
        added.push(format!(
            "{} rows ({} -> {})",
            c.rows_after - c.rows_before,
            c.rows_before,
            c.rows_after
        ));
    }
    for col in &c.columns_added {
        added.push(format!("column `{col}`"));
    }
    let mut removed = Vec::new();
    if c.rows_after < c.rows_before {
        removed.push(format!(
            "{} rows ({} -> {})",
            c.rows_before - c.rows_after,
            c.rows_before,
            c.rows_after
        ));
    }
    for col in &c.columns_removed {
        removed.push(format!("column `{col}`"));
    }
    let mut changed = c.parameters.clone();
    if c.values_changed
        && c.rows_after == c.rows_before
        && c.columns_added.is_empty()
        && c.columns_removed.is_empty()
    {
        changed.push("released values corrected".into());
    }
    for (title, items) in [("Added", added), ("Removed", removed), ("Changed", changed)] {
        if !items.is_empty() {
            s.push_str(&format!("\n### {title}\n\n"));
            for i in items {
                s.push_str(&format!("- {i}\n"));
            }
        }
    }
    s
}

// Release-side version rules: the version argument, the changelog and `latest`.

/// `MAJOR.MINOR.PATCH`, digits only.
pub fn check_version(v: &str) -> Result<()> {
    if Version::parse(v).is_some() {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--version `{v}` is not a SemVer version such as 1.0.0"
        )))
    }
}

/// One release's Keep a Changelog entry, from its manifest and the previous version's.
fn changelog_entry(m: &Value, before: Option<&Value>) -> String {
    let c = &m["counts"];
    let p = &m["parameters"];
    let summary = format!(
        "{} rows ({} eligible people, {} suppressed) in {} classes of at least k = {} distinct owners; representation {}, moments {}, discrete Laplace noise scale {}.",
        c["released_rows"],
        c["eligible_people"],
        c["suppressed"],
        c["classes"],
        p["k"],
        p["representation"].as_str().unwrap_or("?"),
        p["moments"]["summary"].as_str().unwrap_or("?"),
        p["noise"]["scale"],
    );
    let sections = match before {
        None => format!("\n### Added\n\n- First release: {summary}\n"),
        Some(b) => format!("\n{summary}\n{}", changelog_lines(&compare(b, m))),
    };
    format!(
        "\n## [{}] - {}\n{sections}",
        m["dataset"]["version"].as_str().unwrap_or("?"),
        m["dataset"]["created"].as_str().unwrap_or("?")
    )
}

/// Rewrites `<out>/CHANGELOG.md` (Keep a Changelog, newest first) and `<out>/latest`
/// from the manifests of every published version. Both are derived, never appended to:
/// a run killed between publishing a version and updating them is repaired by the next
/// run. Written to a temp file and renamed so a crash never leaves half a changelog.
pub fn write_index(out: &Path) -> Result<()> {
    let versions = published(out);
    let Some((latest, _)) = versions.last() else {
        return Ok(());
    };
    let mut entries = Vec::new();
    let mut before: Option<Value> = None;
    for (_, dir) in &versions {
        let m = read_manifest(dir)?;
        entries.push(changelog_entry(&m, before.as_ref()));
        before = Some(m);
    }
    entries.reverse();
    let text = format!(
        "# Changelog\n\nAll releases of this dataset, newest first. Format: Keep a Changelog; versions: SemVer.\n{}",
        entries.concat()
    );
    replace_file(&out.join(layout::CHANGELOG), &text)?;
    replace_file(&out.join(layout::LATEST), &format!("{latest}\n"))
}

/// Writes `path` through a hidden temp file beside it and a rename.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
    let mut w = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    w.write_all(text.as_bytes())
        .and_then(|_| w.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(cols: &[&str], rows: u64, sha: &str, k: u64) -> Value {
        json!({"columns": {"categories": ["g"], "measurements": cols}, "counts": {"released_rows": rows},
               "files": [{"name": "measurements.csv", "sha256": sha}], "parameters": {"k": k}})
    }

    /// Plain MAJOR.MINOR.PATCH only, ordered as SemVer orders them.
    #[test]
    fn versions_parse_and_order_as_semver() {
        for bad in [
            "1.0",
            "01.0.0",
            "1.00.0",
            "1.0.0-rc.1",
            "1.0.0+build",
            " 1.0.0",
            "1.0.0.0",
            "v1.0.0",
            "",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
            assert!(check_version(bad).is_err(), "{bad}");
        }
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(v("1.10.0") > v("1.9.0") && v("2.0.0") > v("1.99.99"));
        assert_eq!(v("1.2.3").bump(Level::Minor), v("1.3.0"));
        assert_eq!(v("1.2.3").bump(Level::Major).to_string(), "2.0.0");
        assert_eq!(v("1.2.3").level_to(&v("1.2.4")), Level::Patch);
        assert_eq!(v("1.2.3").level_to(&v("1.3.0")), Level::Minor);
        assert_eq!(v("1.2.3").level_to(&v("2.0.0")), Level::Major);
    }

    #[test]
    fn bumps_follow_the_frictionless_rules() {
        let v = |s| Version::parse(s).unwrap();
        let base = m(&["a", "b"], 100, "x", 10);
        let more_rows = compare(&base, &m(&["a", "b"], 120, "y", 10));
        assert_eq!(more_rows.level(), Level::Minor);
        assert!(check_bump(v("1.0.0"), v("1.1.0"), &more_rows).is_ok());
        assert!(check_bump(v("1.0.0"), v("2.0.0"), &more_rows).is_ok());
        let e = check_bump(v("1.0.0"), v("1.0.1"), &more_rows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a minor bump (1.1.0 or later)"), "{e}");

        let new_col = compare(&base, &m(&["a", "b", "c"], 100, "y", 10));
        assert_eq!(new_col.columns_added, ["c"]);
        let e = check_bump(v("1.0.0"), v("1.0.1"), &new_col)
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a major bump (2.0.0 or later)"), "{e}");

        let fixed = compare(&base, &m(&["a", "b"], 100, "z", 12));
        assert_eq!(fixed.level(), Level::Patch);
        assert_eq!(fixed.parameters, ["k: 10 -> 12"]);
        assert!(check_bump(v("1.0.0"), v("1.0.1"), &fixed).is_ok());
        assert!(check_bump(v("1.0.1"), v("1.0.1"), &fixed).is_err());
        assert!(check_bump(v("1.0.1"), v("1.0.0"), &fixed).is_err());
        assert!(changelog_lines(&fixed).contains("released values corrected"));
    }
}
