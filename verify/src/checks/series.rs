//! `series`: a whole release folder against the series ledger the releases left in their
//! private folder (`<private>/series/<version>.json`, one per version). It reads the
//! published tables itself and the ledger as plain JSON (no opentape type), and checks:
//!
//! - ledger: each version's table holds exactly the rows its ledger says (each class's
//!   values, as many rows as it has);
//! - unchanged: in a patch or minor version every class of the version before is there with
//!   the same values and rows, and everyone still in it stayed in it;
//! - k: every class of every version was made with at least k distinct owners and has at
//!   least k rows;
//! - budget: no person's budget over the series passes the cap the manifest states;
//! - documents: no document gives an exact figure of the eligible people (percentiles,
//!   selection figures, distances to the people's own values).

use crate::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// A version folder's name as (major, minor, patch), if it is one.
fn semver(name: &str) -> Option<(u64, u64, u64)> {
    let p: Vec<&str> = name.split('.').collect();
    if p.len() != 3 {
        return None;
    }
    Some((p[0].parse().ok()?, p[1].parse().ok()?, p[2].parse().ok()?))
}

fn read_json(path: &Path) -> Result<Value, ReadError> {
    let b = std::fs::read(path).map_err(|e| rerr(path, e))?;
    serde_json::from_slice(&b).map_err(|e| rerr(path, e))
}

/// The table's distinct rows as text keys (cells joined as the CSV writes them), with
/// their counts.
fn published_rows(g: &Grouped) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (r, &n) in g.rows.iter().zip(&g.count) {
        let key: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, &v)| g.cell_text(j, v).into_owned())
            .collect();
        *m.entry(key.join(",")).or_default() += n;
    }
    m
}

/// A ledger class's row as the same text key.
fn class_key(c: &Value) -> String {
    let mut cells: Vec<String> = c["categories"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap_or("").to_string())
        .collect();
    cells.extend(
        c["values"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_i64().map(|x| x.to_string()).unwrap_or_default()),
    );
    cells.join(",")
}

/// Keys of the JSON that would be an exact figure of the eligible people in a document.
const EXACT: [&str; 8] = [
    "p5_error",
    "p25_error",
    "p50_error",
    "p75_error",
    "p95_error",
    "percentile_error_sd",
    "nrmsd",
    "own_moments",
];

fn exact_figures(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                if EXACT.contains(&k.as_str()) && !x.is_null() {
                    out.push(p.clone());
                }
                // The eligible side's percentiles in the report.
                if k == "original" {
                    for q in ["p5", "p25", "p50", "p75", "p95"] {
                        if x.get(q).is_some_and(|y| !y.is_null()) {
                            out.push(format!("{p}.{q}"));
                        }
                    }
                }
                if k == "selection" && x.is_object() {
                    out.push(p.clone());
                }
                exact_figures(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                exact_figures(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Checks the series in `out` against the ledger in `private`.
pub fn verify_series(out: &Path, private: &Path) -> Result<Report, ReadError> {
    let mut versions: Vec<((u64, u64, u64), PathBuf)> = Vec::new();
    for e in std::fs::read_dir(out).map_err(|e| rerr(out, e))? {
        let p = e.map_err(|e| rerr(out, e))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(v) = semver(name) {
            if p.join(MANIFEST).is_file() {
                versions.push((v, p));
            }
        }
    }
    versions.sort();
    if versions.is_empty() {
        return Err(rerr(out, "no published version"));
    }
    let (mut ledger_p, mut unchanged_p, mut k_p, mut budget_p, mut docs_p) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut previous: Option<Value> = None;
    let (mut classes_seen, mut kept_seen, mut max_spent, mut cap) = (0usize, 0usize, 0f64, 0f64);
    for (_, dir) in &versions {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let manifest = read_json(&dir.join(MANIFEST))?;
        let k = manifest["parameters"]["k"].as_u64().unwrap_or(0) as usize;
        let kind = manifest["series"]["kind"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if let Some(c) = manifest["series"]["budget"]["cap_per_person"].as_f64() {
            cap = c;
        }
        // Documents: no exact figure of the people.
        let mut found = Vec::new();
        exact_figures(&manifest, "manifest.json", &mut found);
        if let Ok(r) = read_json(&dir.join("report.json")) {
            exact_figures(&r, "report.json", &mut found);
        }
        for f in found.into_iter().take(5) {
            docs_p.push(format!(
                "{name}: {f} is an exact figure of the eligible people"
            ));
        }
        let snap_path = private.join("series").join(format!("{name}.json"));
        if !snap_path.is_file() {
            ledger_p.push(format!(
                "{name}: no ledger ({}): the series cannot be checked from here",
                snap_path.display()
            ));
            previous = None;
            continue;
        }
        let snap = read_json(&snap_path)?;
        // The table holds exactly the ledger's rows.
        let (table, _) = scan::scan(&dir.join(PARQUET), &dir.join(CSV));
        let table = table.map_err(|e| rerr(dir, e))?;
        let published = published_rows(&table.grouped);
        let mut claimed: BTreeMap<String, u64> = BTreeMap::new();
        let classes = snap["classes"].as_array().cloned().unwrap_or_default();
        for c in &classes {
            classes_seen += 1;
            let rows = c["rows"].as_u64().unwrap_or(0);
            *claimed.entry(class_key(c)).or_default() += rows;
            let owners = c["owners"].as_u64().unwrap_or(0) as usize;
            if owners < k || (rows as usize) < k {
                k_p.push(format!(
                    "{name}: a class made with {owners} owners and {rows} rows < k = {k}"
                ));
            }
        }
        if published != claimed {
            let missing = claimed
                .keys()
                .filter(|r| !published.contains_key(*r))
                .count();
            ledger_p.push(format!(
                "{name}: the table's rows are not the ledger's ({} distinct rows published, {} in the ledger, {missing} of the ledger's missing)",
                published.len(),
                claimed.len()
            ));
        }
        // Patch and minor versions keep the classes before them.
        if let (Some(prev), true) = (&previous, kind == "patch" || kind == "minor") {
            let now: Vec<(String, u64, HashSet<String>)> = classes
                .iter()
                .map(|c| {
                    let m = c["members"].as_array().into_iter().flatten();
                    (
                        class_key(c),
                        c["rows"].as_u64().unwrap_or(0),
                        m.filter_map(|x| x.as_str().map(String::from)).collect(),
                    )
                })
                .collect();
            let mut class_of: HashMap<&str, usize> = HashMap::new();
            for (i, (_, _, m)) in now.iter().enumerate() {
                for x in m {
                    class_of.insert(x.as_str(), i);
                }
            }
            let before = prev["classes"].as_array().cloned().unwrap_or_default();
            for (i, c) in before.iter().enumerate() {
                kept_seen += 1;
                let (key, rows) = (class_key(c), c["rows"].as_u64().unwrap_or(0));
                match now.get(i) {
                    Some((k2, r2, _)) if *k2 == key && *r2 == rows => {}
                    _ => {
                        unchanged_p.push(format!("{name}: class {i} of the version before changed"))
                    }
                }
                for m in c["members"].as_array().into_iter().flatten() {
                    if let Some(&j) = m.as_str().and_then(|m| class_of.get(m)) {
                        if j != i {
                            unchanged_p
                                .push(format!("{name}: a person of class {i} moved to class {j}"));
                        }
                    }
                }
            }
        }
        if let Some(b) = snap["budgets"].as_object() {
            for v in b.values().filter_map(Value::as_f64) {
                max_spent = max_spent.max(v);
            }
        }
        previous = Some(snap);
    }
    if cap > 0.0 && max_spent > cap * (1.0 + 1e-9) {
        budget_p.push(format!("a person spent {max_spent:.1} > cap {cap}"));
    }
    let n = versions.len();
    let checks = vec![
        check(
            "ledger",
            ledger_p,
            format!("{n} versions: each table holds exactly its ledger's rows"),
        ),
        check(
            "unchanged",
            unchanged_p,
            format!("{kept_seen} classes carried into patch and minor versions, rows and people unchanged"),
        ),
        check(
            "k",
            k_p,
            format!("{classes_seen} classes over the versions, each made with at least k owners and k rows"),
        ),
        check(
            "budget",
            budget_p,
            format!("most spent by a person {max_spent:.1} <= cap {cap}"),
        ),
        check(
            "documents",
            docs_p,
            "no document gives an exact figure of the eligible people".to_string(),
        ),
    ];
    Ok(Report {
        release: out.to_path_buf(),
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}
