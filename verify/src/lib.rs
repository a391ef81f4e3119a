//! opentape-verify: an independent checker of an opentape release.
//!
//! It reads the released files itself, with the arrow-rs Parquet reader and a plain CSV
//! parser, and shares no code with the writer or the anonymizer (it does not depend on
//! polars or on the `opentape` crate: the compiler keeps it independent). It reads the
//! manifest only to learn what is claimed (k, files, columns, ranges), then checks it.

mod linkage;
mod pii;

pub use linkage::{check_linkage_with, Source, SourcePerson, MAX_SCORED};

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub const PARQUET: &str = "measurements.parquet";
pub const CSV: &str = "measurements.csv";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";

/// A usage or I/O problem: the release could not be read at all (exit code 2).
#[derive(Debug)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

fn rerr(path: &Path, e: impl fmt::Display) -> ReadError {
    ReadError(format!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub ok: bool,
    /// One line: the figures behind the verdict.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The check's figures, where it has more than the detail line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: PathBuf,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| !c.ok).map(|c| c.id).collect()
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<10} {}",
                if c.ok { "PASS" } else { "FAIL" },
                c.id,
                c.detail
            )?;
            for p in c.problems.iter().take(5) {
                writeln!(f, "     {:<10} - {p}", "")?;
            }
            if c.problems.len() > 5 {
                writeln!(f, "     {:<10} - ... and {} more", "", c.problems.len() - 5)?;
            }
        }
        write!(
            f,
            "{}: {}",
            self.release.display(),
            if self.ok {
                "all guarantees hold"
            } else {
                "GUARANTEES FAIL"
            }
        )
    }
}

#[derive(Debug, Default, Clone)]
pub struct Options {
    /// k to demand at least (the manifest's k is demanded anyway).
    pub min_k: usize,
    /// The noise key, if known: no file may contain it.
    pub key: Option<Vec<u8>>,
    /// The eligible source records and the release's private `membership.csv`: adds the
    /// `linkage` check.
    pub source: Option<(Source, PathBuf)>,
}

/// The released table as read by this crate: column names and every cell as text
/// (null = empty), row by row.
struct Table {
    columns: Vec<String>,
    types: Vec<String>,
    rows: Vec<Vec<String>>,
    metadata: Vec<(String, String)>,
}

fn read_parquet(path: &Path) -> Result<Table, ReadError> {
    let file = std::fs::File::open(path).map_err(|e| rerr(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| rerr(path, e))?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| rerr(path, e))?;
    let columns = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types = schema
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| rerr(path, e))?;
        let opts = FormatOptions::default();
        let fmts: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &opts))
            .collect::<Result<_, _>>()
            .map_err(|e| rerr(path, e))?;
        for i in 0..batch.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok(Table {
        columns,
        types,
        rows,
        metadata,
    })
}

/// RFC 4180 CSV: header + rows, quoted fields allowed.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), ReadError> {
    let text = std::fs::read_to_string(path).map_err(|e| rerr(path, e))?;
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record = Vec::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    if records.is_empty() {
        return Err(rerr(path, "empty CSV file"));
    }
    let header = records.remove(0);
    Ok((header, records))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs every check on the release folder `dir`. A file that cannot be parsed (a changed
/// byte can do that) fails the checks that need it; only a folder that cannot be listed or
/// read is a `ReadError`.
pub fn verify(dir: &Path, o: &Options) -> Result<Report, ReadError> {
    if !dir.is_dir() {
        return Err(rerr(dir, "not a release folder"));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| rerr(dir, e))? {
        let p = e.map_err(|e| rerr(dir, e))?.path();
        if p.is_file() {
            let bytes = std::fs::read(&p).map_err(|e| rerr(&p, e))?;
            files.push((p.file_name().unwrap().to_string_lossy().into_owned(), bytes));
        }
    }
    files.sort();
    let manifest: Result<Value, String> = std::fs::read(dir.join(MANIFEST))
        .map_err(|e| format!("{MANIFEST}: {e}"))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{MANIFEST}: {e}")));
    let table = read_parquet(&dir.join(PARQUET)).map_err(|e| e.0);
    let datapackage: Option<Value> = files
        .iter()
        .find(|(n, _)| n == "datapackage.json")
        .and_then(|(_, b)| serde_json::from_slice(b).ok());
    let csv = read_csv(&dir.join(CSV)).map_err(|e| e.0);

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
            (Ok(m), Ok(t), Ok((h, _))) => check_schema(m, datapackage.as_ref(), t, h),
            _ => unreadable("schema", errs(&[m_err, t_err, c_err])),
        },
        match (&table, &csv) {
            (Ok(t), Ok((h, rows))) => check_pii(t, h, rows),
            _ => unreadable("pii", errs(&[t_err, c_err])),
        },
        match (&manifest, &table) {
            (Ok(m), Ok(t)) => check_k(m, t, o.min_k),
            _ => unreadable("k", errs(&[m_err, t_err])),
        },
        check_integrity(&manifest, &table, &csv, &files),
        check_secrets(o.key.as_deref(), table.as_ref().ok(), &files),
        match (&manifest, &table) {
            (Ok(m), Ok(t)) => check_plausible(m, t),
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
                linkage::check_linkage(&t.columns, &t.rows, source, membership, k)?
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

fn check(id: &'static str, problems: Vec<String>, detail: String) -> Check {
    Check {
        id,
        ok: problems.is_empty(),
        detail,
        problems,
        figures: None,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn claimed_columns(manifest: &Value) -> (Vec<String>, Vec<String>) {
    (
        strings(&manifest["columns"]["categories"]),
        strings(&manifest["columns"]["measurements"]),
    )
}

fn check_schema(
    manifest: &Value,
    datapackage: Option<&Value>,
    t: &Table,
    csv_header: &[String],
) -> Check {
    let (cats, meas) = claimed_columns(manifest);
    let claimed: Vec<String> = cats.iter().chain(&meas).cloned().collect();
    let mut problems = Vec::new();
    if t.columns != claimed {
        problems.push(format!(
            "Parquet columns {:?} differ from the declared {:?}",
            t.columns, claimed
        ));
    }
    if csv_header != claimed.as_slice() {
        problems.push("CSV header differs from the declared columns".to_string());
    }
    for (name, ty) in t.columns.iter().zip(&t.types) {
        if pii::identifier_like_name(name) {
            problems.push(format!("column `{name}` is named like an identifier"));
        }
        let numeric = ty.starts_with("Int") || ty.starts_with("UInt");
        if meas.contains(name) && !numeric {
            problems.push(format!(
                "measurement column `{name}` has type {ty}, not an integer"
            ));
        }
    }
    if let Some(dp) = datapackage {
        for r in dp["resources"].as_array().into_iter().flatten() {
            let names: Vec<String> = r["schema"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["name"].as_str().map(String::from))
                .collect();
            if names != t.columns {
                problems.push(format!(
                    "datapackage.json resource `{}` declares other columns than the Parquet file holds",
                    r["name"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    let detail = format!(
        "{} columns ({} categories, {} measurements) as declared",
        t.columns.len(),
        cats.len(),
        meas.len()
    );
    check("schema", problems, detail)
}

fn check_pii(t: &Table, csv_header: &[String], csv_rows: &[Vec<String>]) -> Check {
    // Every cell of both files, every column name and every metadata value.
    let mut problems: Vec<String> = t
        .rows
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, r)| {
            r.iter().enumerate().filter_map(move |(j, cell)| {
                pii::looks_personal(cell).map(|what| format!("Parquet row {i}, column {j}: {what}"))
            })
        })
        .collect();
    problems.extend(
        csv_rows
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, r)| {
                r.iter().enumerate().filter_map(move |(j, cell)| {
                    pii::looks_personal(cell)
                        .map(|what| format!("CSV row {}, column {j}: {what}", i + 1))
                })
            })
            .collect::<Vec<_>>(),
    );
    for name in t.columns.iter().chain(csv_header) {
        if let Some(what) = pii::looks_personal(name) {
            problems.push(format!("column name: {what}"));
        }
    }
    for (k, v) in &t.metadata {
        if k == "ARROW:schema" {
            continue;
        }
        if let Some(what) = pii::looks_personal(v) {
            problems.push(format!("Parquet metadata `{k}`: {what}"));
        }
    }
    let cells = t.rows.len() * t.columns.len() + csv_rows.iter().map(Vec::len).sum::<usize>();
    check(
        "pii",
        problems,
        format!(
            "{cells} cells scanned for emails, URLs, IPs, UUIDs, phones, handles, dates, free text"
        ),
    )
}

fn check_k(manifest: &Value, t: &Table, min_k: usize) -> Check {
    let claimed = manifest["parameters"]["k"].as_u64().unwrap_or(0) as usize;
    let k = claimed.max(min_k).max(2);
    let mut groups: HashMap<&[String], usize> = HashMap::new();
    for r in &t.rows {
        *groups.entry(r.as_slice()).or_default() += 1;
    }
    let min = groups.values().copied().min().unwrap_or(0);
    let small: Vec<String> = groups
        .values()
        .filter(|&&n| n < k)
        .map(|n| format!("a combination of quasi-identifier values appears {n} times"))
        .collect();
    let mut problems = small;
    if claimed == 0 {
        problems.push("the manifest states no k".into());
    }
    check(
        "k",
        problems,
        format!(
            "smallest group {min} >= k {k} ({} rows, {} distinct)",
            t.rows.len(),
            groups.len()
        ),
    )
}

type Csv = (Vec<String>, Vec<Vec<String>>);

fn check_integrity(
    manifest: &Result<Value, String>,
    table: &Result<Table, String>,
    csv: &Result<Csv, String>,
    files: &[(String, Vec<u8>)],
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
    let by_name: HashMap<&str, &[u8]> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let listed = manifest["files"].as_array().cloned().unwrap_or_default();
    if listed.is_empty() {
        problems.push("the manifest lists no files".into());
    }
    for f in &listed {
        let name = f["name"].as_str().unwrap_or("");
        match by_name.get(name) {
            None => problems.push(format!("{name} is listed in the manifest but missing")),
            Some(b) => {
                if f["bytes"].as_u64() != Some(b.len() as u64) {
                    problems.push(format!(
                        "{name}: {} bytes, manifest says {}",
                        b.len(),
                        f["bytes"]
                    ));
                }
                if f["sha256"].as_str() != Some(sha256(b).as_str()) {
                    problems.push(format!("{name}: sha256 differs from the manifest"));
                }
            }
        }
    }
    if let Some(dp) = by_name.get("datapackage.json") {
        match serde_json::from_slice::<Value>(dp) {
            Err(_) => problems.push("datapackage.json is not valid JSON".into()),
            Ok(dp) => {
                for r in dp["resources"].as_array().into_iter().flatten() {
                    let (Some(path), Some(hash)) = (r["path"].as_str(), r["hash"].as_str()) else {
                        continue;
                    };
                    match by_name.get(path) {
                        None => problems
                            .push(format!("datapackage.json lists {path}, which is missing")),
                        Some(b) => {
                            if hash.strip_prefix("sha256:") != Some(sha256(b).as_str()) {
                                problems
                                    .push(format!("{path}: sha256 differs from datapackage.json"));
                            }
                            if r["bytes"].as_u64().is_some_and(|n| n != b.len() as u64) {
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
    match by_name.get(SUMS) {
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
                    Some(b) if sha256(b) != sha => {
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
        (Ok(t), Ok((csv_header, csv_rows))) => {
            if csv_header != &t.columns {
                problems.push("CSV and Parquet columns differ".into());
            }
            if csv_rows.len() != t.rows.len() {
                problems.push(format!(
                    "CSV has {} rows, Parquet {}",
                    csv_rows.len(),
                    t.rows.len()
                ));
            } else if let Some(i) = (0..t.rows.len()).find(|&i| csv_rows[i] != t.rows[i]) {
                problems.push(format!("CSV row {} differs from Parquet row {i}", i + 1));
            }
            let claimed = manifest["counts"]["released_rows"].as_u64();
            if claimed != Some(t.rows.len() as u64) {
                problems.push(format!(
                    "manifest says {claimed:?} rows, Parquet holds {}",
                    t.rows.len()
                ));
            }
            let k = manifest["parameters"]["k"].as_u64().map(|k| k.to_string());
            match t.metadata.iter().find(|(key, _)| key == "opentape.k") {
                Some((_, v)) if Some(v) == k.as_ref() => {}
                _ => problems
                    .push("Parquet metadata k is missing or differs from the manifest".into()),
            }
            t.rows.len()
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

/// Forms in which a key could leak: raw, hex (both cases), base64 (standard, URL-safe,
/// with and without padding).
fn key_forms(key: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let n = base64::engine::general_purpose::STANDARD_NO_PAD;
    vec![
        key.to_vec(),
        hex::encode(key).into_bytes(),
        hex::encode_upper(key).into_bytes(),
        e.encode(key).into_bytes(),
        u.encode(key).into_bytes(),
        n.encode(key).into_bytes(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn check_secrets(key: Option<&[u8]>, t: Option<&Table>, files: &[(String, Vec<u8>)]) -> Check {
    let Some(key) = key else {
        return check(
            "secrets",
            vec![],
            "no key given (--noise-key-file or OPENTAPE_NOISE_KEY): nothing to look for".into(),
        );
    };
    let forms = key_forms(key);
    let mut problems = Vec::new();
    for (name, bytes) in files {
        if forms.iter().any(|f| contains(bytes, f)) {
            problems.push(format!("{name} contains the noise key"));
        }
    }
    // Parquet pages are compressed: look in the decoded cells and metadata too.
    match t {
        Some(t) => {
            let decoded = t
                .rows
                .iter()
                .flatten()
                .chain(t.metadata.iter().map(|(_, v)| v))
                .chain(t.metadata.iter().map(|(k, _)| k));
            if decoded
                .into_iter()
                .any(|s| forms.iter().any(|f| contains(s.as_bytes(), f)))
            {
                problems
                    .push("a decoded Parquet cell or metadata entry contains the noise key".into());
            }
        }
        None => problems
            .push("the Parquet file cannot be decoded, so its cells cannot be searched".into()),
    }
    check(
        "secrets",
        problems,
        format!("{} files searched for the key in 6 encodings", files.len()),
    )
}

fn check_plausible(manifest: &Value, t: &Table) -> Check {
    let cons = &manifest["columns"]["constraints"];
    let mut problems = Vec::new();
    let (_, meas) = claimed_columns(manifest);
    let mut checked = 0usize;
    for (j, name) in t.columns.iter().enumerate() {
        if !meas.contains(name) {
            continue;
        }
        let (Some(lo), Some(hi)) = (
            cons[name]["minimum"].as_i64(),
            cons[name]["maximum"].as_i64(),
        ) else {
            problems.push(format!("no declared range for `{name}`"));
            continue;
        };
        for (i, r) in t.rows.iter().enumerate() {
            if r[j].is_empty() {
                continue;
            }
            checked += 1;
            match r[j].parse::<i64>() {
                Ok(v) if v >= lo && v <= hi => {}
                Ok(_) => problems.push(format!("row {i}, `{name}`: outside [{lo}, {hi}]")),
                Err(_) => problems.push(format!("row {i}, `{name}`: not an integer")),
            }
        }
    }
    check(
        "plausible",
        problems,
        format!("{checked} values inside their declared ranges"),
    )
}

/// The report as JSON, for CI.
pub fn to_json(r: &Report) -> Value {
    json!(r)
}

/// The noise key from a file (trailing whitespace trimmed) or `OPENTAPE_NOISE_KEY`.
pub fn load_key(file: Option<&Path>) -> Result<Option<Vec<u8>>, ReadError> {
    match file {
        Some(f) => {
            let mut b = std::fs::read(f).map_err(|e| rerr(f, e))?;
            while b.last().is_some_and(|c| c.is_ascii_whitespace()) {
                b.pop();
            }
            Ok(Some(b))
        }
        None => Ok(std::env::var_os("OPENTAPE_NOISE_KEY").map(|v| v.into_encoded_bytes())),
    }
}
