//! `pii`: no cell, column name, metadata or document looks like an identifier, a formula or hidden text.

use crate::prelude::*;

pub(crate) fn check_pii(t: &Parquet, csv: &Csv, files: &[files::FileInfo]) -> Check {
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
pub(crate) fn check_documents(files: &[files::FileInfo], problems: &mut Vec<String>) -> usize {
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
