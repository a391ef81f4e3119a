//! `integrity`: files match SHA256SUMS and the manifest; CSV and Parquet hold the same rows.

use crate::prelude::*;

pub(crate) fn check_integrity(
    manifest: &Result<Value, String>,
    table: &Result<Parquet, String>,
    csv: &Result<Csv, String>,
    files: &[files::FileInfo],
) -> Check {
    let mut problems = Vec::new();
    for e in [
        manifest.as_ref().err(),
        table.as_ref().err(),
        csv.as_ref().err(),
    ]
    .into_iter()
    .flatten()
    {
        problems.push(format!("unreadable: {e}"));
    }
    let null = Value::Null;
    let manifest = manifest.as_ref().unwrap_or(&null);
    let by_name: HashMap<&str, &files::FileInfo> =
        files.iter().map(|f| (f.name.as_str(), f)).collect();
    let listed = manifest["files"].as_array().cloned().unwrap_or_default();
    if listed.is_empty() {
        problems.push("the manifest lists no files".into());
    }
    for f in &listed {
        let name = f["name"].as_str().unwrap_or("");
        match by_name.get(name) {
            None => problems.push(format!("{name} is listed in the manifest but missing")),
            Some(b) => {
                if f["bytes"].as_u64() != Some(b.bytes) {
                    problems.push(format!(
                        "{name}: {} bytes, manifest says {}",
                        b.bytes, f["bytes"]
                    ));
                }
                if f["sha256"].as_str() != Some(b.sha256.as_str()) {
                    problems.push(format!("{name}: sha256 differs from the manifest"));
                }
            }
        }
    }
    if let Some(dp) = by_name.get("datapackage.json") {
        match dp
            .contents
            .as_deref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        {
            None => problems.push("datapackage.json is not valid JSON".into()),
            Some(dp) => {
                for r in dp["resources"].as_array().into_iter().flatten() {
                    let (Some(path), Some(hash)) = (r["path"].as_str(), r["hash"].as_str()) else {
                        continue;
                    };
                    match by_name.get(path) {
                        None => problems
                            .push(format!("datapackage.json lists {path}, which is missing")),
                        Some(b) => {
                            if hash.strip_prefix("sha256:") != Some(b.sha256.as_str()) {
                                problems
                                    .push(format!("{path}: sha256 differs from datapackage.json"));
                            }
                            if r["bytes"].as_u64().is_some_and(|n| n != b.bytes) {
                                problems.push(format!(
                                    "{path}: byte count differs from datapackage.json"
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    match by_name
        .get(SUMS)
        .map(|f| f.contents.as_deref().unwrap_or_default())
    {
        None => problems.push(format!("{SUMS} is missing")),
        Some(sums) => {
            let text = String::from_utf8_lossy(sums);
            let mut seen = Vec::new();
            for line in text.lines() {
                let Some((sha, name)) = line.split_once("  ") else {
                    problems.push(format!("{SUMS}: malformed line"));
                    continue;
                };
                seen.push(name.to_string());
                match by_name.get(name) {
                    None => problems.push(format!("{SUMS} lists {name}, which is missing")),
                    Some(b) if b.sha256 != sha => {
                        problems.push(format!("{name}: sha256 differs from {SUMS}"))
                    }
                    _ => {}
                }
            }
            for required in [PARQUET, CSV, MANIFEST] {
                if !seen.iter().any(|s| s == required) {
                    problems.push(format!("{SUMS} does not cover {required}"));
                }
            }
        }
    }
    for name in by_name.keys() {
        if ![PARQUET, CSV, MANIFEST, SUMS].contains(name)
            && !name.ends_with(".json")
            && !name.ends_with(".md")
            && !name.ends_with(".cff")
            && !name.ends_with(".html")
        {
            problems.push(format!("unexpected file {name} in the release"));
        }
    }
    let rows = match (table, csv) {
        (Ok(t), Ok(c)) => {
            let n = t.grouped.len();
            if c.header != t.grouped.columns {
                problems.push("CSV and Parquet columns differ".into());
            }
            if c.rows != n {
                problems.push(format!("CSV has {} rows, Parquet {n}", c.rows));
            } else if let Some(i) = c.first_difference {
                problems.push(format!("CSV row {i} differs from Parquet row {}", i - 1));
            }
            let claimed = manifest["counts"]["released_rows"].as_u64();
            if claimed != Some(n as u64) {
                problems.push(format!("manifest says {claimed:?} rows, Parquet holds {n}"));
            }
            let k = manifest["parameters"]["k"].as_u64().map(|k| k.to_string());
            match t.metadata.iter().find(|(key, _)| key == "opentape.k") {
                Some((_, v)) if Some(v) == k.as_ref() => {}
                _ => problems
                    .push("Parquet metadata k is missing or differs from the manifest".into()),
            }
            n
        }
        _ => 0,
    };
    check(
        "integrity",
        problems,
        format!(
            "{} files hashed; CSV and Parquet hold the same {rows} rows",
            listed.len() + 1
        ),
    )
}
