//! opentape-verify: an independent checker of an opentape release.
//!
//! It reads the released files itself, with the arrow-rs Parquet reader and a plain CSV
//! parser, and shares no code with the writer or the anonymizer (it does not depend on
//! polars or on the `opentape` crate: the compiler keeps it independent). It reads the
//! manifest only to learn what is claimed (k, files, columns, ranges), then checks it.

mod files;
mod linkage;
mod pii;
mod scan;
pub mod table;

pub use linkage::{check_linkage_with, Membership, SourceRecords, MAX_SCORED};
pub use table::{Builder, Cell, Grouped};

use scan::{Csv, Parquet};
use serde::Serialize;
use serde_json::{json, Value};
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
    t: &Parquet,
    csv_header: &[String],
) -> Check {
    let (cats, meas) = claimed_columns(manifest);
    let claimed: Vec<String> = cats.iter().chain(&meas).cloned().collect();
    let mut problems = Vec::new();
    if t.grouped.columns != claimed {
        problems.push(format!(
            "Parquet columns {:?} differ from the declared {:?}",
            t.grouped.columns, claimed
        ));
    }
    if csv_header != claimed.as_slice() {
        problems.push("CSV header differs from the declared columns".to_string());
    }
    for (name, ty) in t.grouped.columns.iter().zip(&t.types) {
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
            if names != t.grouped.columns {
                problems.push(format!(
                    "datapackage.json resource `{}` declares other columns than the Parquet file holds",
                    r["name"].as_str().unwrap_or("?")
                ));
            }
        }
        check_enums(manifest, dp, t, &cats, &mut problems);
    } else {
        problems.push("datapackage.json is missing or not valid JSON".into());
    }
    let detail = format!(
        "{} columns ({} categories, {} measurements) as declared",
        t.grouped.columns.len(),
        cats.len(),
        meas.len()
    );
    check("schema", problems, detail)
}

/// Every category column has a declared list of values (the Data Package enum of the
/// Parquet resource), and every released value of it, in the table and in the manifest's
/// utility strata, is in that list.
fn check_enums(
    manifest: &Value,
    dp: &Value,
    t: &Parquet,
    cats: &[String],
    problems: &mut Vec<String>,
) {
    let fields = dp["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["path"] == PARQUET))
        .and_then(|r| r["schema"]["fields"].as_array());
    let declared = |name: &str| -> Option<Vec<String>> {
        let f = fields?.iter().find(|f| f["name"] == name)?;
        f["constraints"]["enum"]
            .as_array()
            .map(|_| strings(&f["constraints"]["enum"]))
    };
    let g = &t.grouped;
    for name in cats {
        let Some(allowed) = declared(name) else {
            problems.push(format!(
                "category column `{name}` has no enum of allowed values in datapackage.json"
            ));
            continue;
        };
        if let Some(j) = g.columns.iter().position(|c| c == name) {
            if g.text[j] && g.dicts[j].iter().any(|v| !allowed.contains(v)) {
                problems.push(format!(
                    "category column `{name}` holds a value that datapackage.json does not declare"
                ));
            }
        }
        let strata = manifest["utility"]["strata"]
            .as_array()
            .into_iter()
            .flatten();
        if strata
            .filter_map(|s| s["categories"][name.as_str()].as_str())
            .any(|v| !allowed.iter().any(|a| a == v))
        {
            problems.push(format!(
                "the manifest names a `{name}` value that datapackage.json does not declare"
            ));
        }
    }
}

fn check_pii(t: &Parquet, csv: &Csv, files: &[files::FileInfo]) -> Check {
    // Every distinct cell of the Parquet file, every CSV cell that is not the same text as
    // its Parquet cell, every column name and every metadata value.
    let mut problems = t.pii.clone();
    problems.extend(csv.pii.iter().cloned());
    for name in t.grouped.columns.iter().chain(&csv.header) {
        if let Some(what) = pii::text_cell(name) {
            problems.push(format!("column name: {what}"));
        }
    }
    for (k, v) in &t.metadata {
        if k == "ARROW:schema" {
            continue;
        }
        if let Some(what) = pii::hidden_characters(k, &[]).or_else(|| pii::looks_personal(v)) {
            problems.push(format!("Parquet metadata `{k}`: {what}"));
        }
        if let Some(what) = pii::hidden_characters(v, &[]) {
            problems.push(format!("Parquet metadata `{k}`: {what}"));
        }
    }
    let documents = check_documents(files, &mut problems);
    let cells = t.grouped.len() * t.grouped.columns.len() + csv.cells;
    check(
        "pii",
        problems,
        format!(
            "{cells} cells scanned for formulas, control characters, emails, URLs, IPs, UUIDs, phones, handles, dates, free text; {documents} documents for control characters"
        ),
    )
}

/// The release's text documents hold no character a terminal or editor would show
/// deceptively: no bidirectional controls, and no control characters other than line
/// ends and tabs (in JSON, inside any string value). Returns how many were scanned.
fn check_documents(files: &[files::FileInfo], problems: &mut Vec<String>) -> usize {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                out.push(k);
                strings(x, out)
            }),
            _ => {}
        }
    }
    let mut scanned = 0;
    for f in files {
        let json = f.name.ends_with(".json");
        let text = [".md", ".html", ".cff"].iter().any(|e| f.name.ends_with(e)) || f.name == SUMS;
        let (true, Some(bytes)) = (json || text, &f.contents) else {
            continue;
        };
        scanned += 1;
        let Ok(s) = std::str::from_utf8(bytes) else {
            problems.push(format!("{}: not valid UTF-8", f.name));
            continue;
        };
        let what = if json {
            // Unparseable JSON is integrity's finding; its raw text is still scanned.
            match serde_json::from_str::<Value>(s) {
                Ok(v) => {
                    let mut all = Vec::new();
                    strings(&v, &mut all);
                    all.into_iter()
                        .find_map(|x| pii::hidden_characters(x, &['\n', '\t']))
                }
                Err(_) => pii::hidden_characters(s, &['\n', '\t', '\r']),
            }
        } else {
            pii::hidden_characters(s, &['\n', '\t', '\r'])
        };
        if let Some(what) = what {
            problems.push(format!("{}: {what}", f.name));
        }
    }
    scanned
}

fn check_k(manifest: &Value, g: &Grouped, min_k: usize) -> Check {
    let claimed = manifest["parameters"]["k"].as_u64().unwrap_or(0) as usize;
    let k = claimed.max(min_k).max(2);
    let min = g.count.iter().copied().min().unwrap_or(0);
    let mut problems: Vec<String> = g
        .count
        .iter()
        .filter(|&&n| (n as usize) < k)
        .map(|n| format!("a combination of quasi-identifier values appears {n} times"))
        .collect();
    if claimed == 0 {
        problems.push("the manifest states no k".into());
    }
    check(
        "k",
        problems,
        format!(
            "smallest group {min} >= k {k} ({} rows, {} distinct)",
            g.len(),
            g.rows.len()
        ),
    )
}

fn check_integrity(
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

/// FreeSewing's key derivation (scrypt, salt "FreeSewing", N = 16384, r = 8, p = 1, 32
/// bytes), written here again so the checker shares no code with the reader.
fn derive_store_key(key: &str) -> Vec<u8> {
    let params = scrypt::Params::new(14, 8, 1).expect("scrypt parameters");
    let mut out = vec![0u8; 32];
    scrypt::scrypt(key.as_bytes(), b"FreeSewing", &params, &mut out).expect("32 bytes");
    out
}

fn check_secrets(forms: &[Vec<u8>], t: Option<&Parquet>, files: &[files::FileInfo]) -> Check {
    if forms.is_empty() {
        return check(
            "secrets",
            vec![],
            "no key given (--noise-key-file or OPENTAPE_NOISE_KEY): nothing to look for".into(),
        );
    }
    let mut problems = Vec::new();
    for f in files {
        if f.has_key {
            problems.push(format!(
                "{} contains the noise key or the store key",
                f.name
            ));
        }
    }
    // Parquet pages are compressed: look in the decoded cells (each distinct value) and
    // the metadata too.
    let contains = |s: &str| {
        forms
            .iter()
            .any(|f| !f.is_empty() && memchr::memmem::find(s.as_bytes(), f).is_some())
    };
    match t {
        Some(t) => {
            let g = &t.grouped;
            let in_cells = (0..g.columns.len()).any(|j| {
                if g.text[j] {
                    g.dicts[j].iter().any(|s| contains(s))
                } else {
                    let values: std::collections::HashSet<i64> =
                        g.rows.iter().map(|r| r[j]).collect();
                    values.into_iter().any(|v| contains(&g.cell_text(j, v)))
                }
            });
            let in_metadata = t.metadata.iter().any(|(k, v)| contains(k) || contains(v));
            if in_cells || in_metadata {
                problems.push(
                    "a decoded Parquet cell or metadata entry contains the noise key or the store key"
                        .into(),
                );
            }
        }
        None => problems
            .push("the Parquet file cannot be decoded, so its cells cannot be searched".into()),
    }
    check(
        "secrets",
        problems,
        format!(
            "{} files searched for {} key forms",
            files.len(),
            forms.len()
        ),
    )
}

fn check_plausible(manifest: &Value, g: &Grouped) -> Check {
    let cons = &manifest["columns"]["constraints"];
    let mut problems = Vec::new();
    let (_, meas) = claimed_columns(manifest);
    let mut checked = 0u64;
    let first = g.first_rows();
    for (j, name) in g.columns.iter().enumerate() {
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
        for (gi, r) in g.rows.iter().enumerate() {
            let v = r[j];
            if v == table::NULL {
                continue;
            }
            checked += g.count[gi];
            let i = first[gi];
            if g.text[j] {
                problems.push(format!("row {i}, `{name}`: not an integer"));
            } else if v < lo || v > hi {
                problems.push(format!("row {i}, `{name}`: outside [{lo}, {hi}]"));
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

/// The FreeSewing backend's key string from a file or `BACKEND_ENC_KEY`, trimmed as the
/// backend trims its `encryption.key` file.
pub fn load_store_key(file: Option<&Path>) -> Result<Option<String>, ReadError> {
    let s = match file {
        Some(f) => String::from_utf8(std::fs::read(f).map_err(|e| rerr(f, e))?)
            .map_err(|_| rerr(f, "the store key file is not UTF-8 text"))?,
        None => match std::env::var("BACKEND_ENC_KEY") {
            Ok(s) => s,
            Err(_) => return Ok(None),
        },
    };
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
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
