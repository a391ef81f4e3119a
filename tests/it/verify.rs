//! Leak injection: a good release passes `opentape verify`; each bad copy (one leak each)
//! fails with exit 1, naming the check that must catch it. Where a leak comes with
//! recomputed checksums, only the privacy check can catch it.

use crate::common::*;
use polars::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const KEY: &str = "leak-test-key-0123456789abcdef";

/// One good release, made once for all tests.
fn good() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tmp().keep();
        let out = d.join("rel");
        let s = release_cmd("pipelines/freesewing-v3.toml", "1.0.0", &out, KEY)
            .arg("--private-dir")
            .arg(d.join("private"))
            .output()
            .unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        out.join("1.0.0")
    })
}

fn copy() -> tempfile::TempDir {
    let d = tmp();
    for e in fs::read_dir(good()).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, d.path().join(p.file_name().unwrap())).unwrap();
    }
    d
}

/// (exit code, failed check ids)
fn verify(dir: &Path, extra: &[&str]) -> (i32, Vec<String>) {
    let (code, report) = verify_report(dir, extra);
    let failed = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    (code, failed)
}

/// The problems one check reported, as text.
fn problems(report: &serde_json::Value, check: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == check)
        .map(|c| c["problems"].to_string())
        .unwrap_or_default()
}

/// (exit code, the JSON report)
fn verify_report(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .arg("verify")
        .arg(dir)
        .arg("--json")
        .args(extra)
        .env("OPENTAPE_NOISE_KEY", KEY)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("exit {code}: {}", String::from_utf8_lossy(&out.stderr)));
    (code, report)
}

fn assert_caught(dir: &Path, check: &str) {
    let (code, failed) = verify(dir, &[]);
    assert_eq!(code, 1, "exit code for a {check} leak; failed: {failed:?}");
    assert!(
        failed.iter().any(|f| f == check),
        "{check} not among the failed checks {failed:?}"
    );
}

type Rows = Vec<Vec<String>>;

fn load(dir: &Path) -> (Vec<String>, Rows) {
    let text = fs::read_to_string(dir.join("measurements.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    (
        header,
        lines
            .map(|l| l.split(',').map(String::from).collect())
            .collect(),
    )
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// Rewrites both data files from `rows`, keeps (and extends) the Parquet metadata, then
/// recomputes the manifest's files and row count and SHA256SUMS: only content checks can
/// tell.
fn save(dir: &Path, header: &[String], rows: &Rows, extra_meta: &[(&str, &str)]) {
    let csv: String = std::iter::once(header.join(","))
        .chain(rows.iter().map(|r| r.join(",")))
        .map(|l| l + "\n")
        .collect();
    fs::write(dir.join("measurements.csv"), csv).unwrap();
    let mut reader = ParquetReader::new(fs::File::open(dir.join("measurements.parquet")).unwrap());
    let mut meta: Vec<(String, String)> = reader
        .get_metadata()
        .unwrap()
        .key_value_metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|kv| kv.key != "ARROW:schema")
        .map(|kv| (kv.key, kv.value.unwrap_or_default()))
        .collect();
    meta.extend(
        extra_meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let cols: Vec<Column> = header
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let cells: Vec<&str> = rows.iter().map(|r| r[j].as_str()).collect();
            if cells
                .iter()
                .all(|c| c.is_empty() || c.parse::<i64>().is_ok())
            {
                let v: Vec<Option<i64>> = cells.iter().map(|c| c.parse().ok()).collect();
                Column::new(name.as_str().into(), v)
            } else {
                Column::new(name.as_str().into(), cells)
            }
        })
        .collect();
    let mut df = DataFrame::new(rows.len(), cols).unwrap();
    ParquetWriter::new(fs::File::create(dir.join("measurements.parquet")).unwrap())
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(meta)))
        .finish(&mut df)
        .unwrap();
    let mut m = manifest(dir);
    m["counts"]["released_rows"] = rows.len().into();
    reseal(dir, m);
}

fn sha(p: &Path) -> (u64, String) {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    (
        fs::metadata(p).unwrap().len(),
        s.split_whitespace().next().unwrap().to_string(),
    )
}

/// Writes the datapackage's CSV hash, the manifest with fresh file hashes, then SHA256SUMS.
fn reseal(dir: &Path, mut m: serde_json::Value) {
    let dp_path = dir.join("datapackage.json");
    let mut dp: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&dp_path).unwrap()).unwrap();
    for r in dp["resources"].as_array_mut().unwrap() {
        if r.get("hash").is_some() {
            let (bytes, h) = sha(&dir.join(r["path"].as_str().unwrap()));
            r["bytes"] = bytes.into();
            r["hash"] = format!("sha256:{h}").into();
        }
    }
    fs::write(&dp_path, serde_json::to_string_pretty(&dp).unwrap()).unwrap();
    for f in m["files"].as_array_mut().unwrap() {
        let (bytes, h) = sha(&dir.join(f["name"].as_str().unwrap()));
        f["bytes"] = bytes.into();
        f["sha256"] = h.into();
    }
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    let sums: String = [
        "measurements.parquet",
        "measurements.csv",
        "datapackage.json",
        "croissant.json",
        "CITATION.cff",
        "DATASHEET.md",
        "manifest.json",
    ]
    .iter()
    .map(|n| format!("{}  {n}\n", sha(&dir.join(n)).1))
    .collect();
    fs::write(dir.join("SHA256SUMS"), sums).unwrap();
}

/// Row indices of the smallest group of identical rows.
fn smallest_group(rows: &Rows) -> Vec<usize> {
    let mut groups: std::collections::BTreeMap<&Vec<String>, Vec<usize>> = Default::default();
    for (i, r) in rows.iter().enumerate() {
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().min_by_key(|g| g.len()).unwrap()
}

#[test]
fn the_good_release_passes() {
    assert_eq!(verify(good(), &[]), (0, vec![]));
    assert_eq!(verify(good(), &["--min-k", "10"]), (0, vec![]));
    // Asking for more than the release gives fails on k.
    assert_eq!(
        verify(good(), &["--min-k", "11"]),
        (1, vec!["k".to_string()])
    );
}

#[test]
fn an_identifier_column_is_caught_even_with_checksums_recomputed() {
    let d = copy();
    let (mut header, mut rows) = load(d.path());
    header.push("email".into());
    for (i, r) in rows.iter_mut().enumerate() {
        r.push(format!("person{i}@example.com"));
    }
    save(d.path(), &header, &rows, &[]);
    assert_caught(d.path(), "schema");
    assert_caught(d.path(), "pii");
}

#[test]
fn one_email_in_a_cell_is_caught() {
    let d = copy();
    let (header, mut rows) = load(d.path());
    rows[0][0] = "maria.schmidt84@example.net".into();
    save(d.path(), &header, &rows, &[]);
    assert_caught(d.path(), "pii");
}

#[test]
fn a_class_cut_to_k_minus_1_rows_is_caught() {
    let d = copy();
    let (header, mut rows) = load(d.path());
    let g = smallest_group(&rows);
    let k = manifest(d.path())["parameters"]["k"].as_u64().unwrap() as usize;
    let drop: Vec<usize> = g[k - 1..].to_vec();
    let mut i = 0;
    rows.retain(|_| {
        i += 1;
        !drop.contains(&(i - 1))
    });
    save(d.path(), &header, &rows, &[]);
    let (code, failed) = verify(d.path(), &[]);
    assert_eq!(
        (code, failed),
        (1, vec!["k".to_string()]),
        "only k can catch it"
    );
}

#[test]
fn a_row_replaced_by_a_real_source_record_is_caught() {
    let d = copy();
    let (header, mut rows) = load(d.path());
    // A real input record (a set without breasts-only measurements), as released columns.
    let sets = fs::read_to_string(repo().join("data-samples/freesewing-v3/sets.ndjson")).unwrap();
    let m = sets
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["measies"].clone())
        .find(|m| {
            m.is_object()
                && m.get("underbust").is_none()
                && m.get("chest").is_some_and(|c| c.is_number())
        })
        .unwrap();
    let row: Vec<String> = header
        .iter()
        .map(|h| match h.as_str() {
            "has_breasts" => "false".into(),
            h => m
                .get(h)
                .and_then(|v| v.as_f64())
                .map(|v| (v as i64).to_string())
                .unwrap_or_default(),
        })
        .collect();
    rows[0] = row;
    save(d.path(), &header, &rows, &[]);
    assert_caught(d.path(), "k");
}

#[test]
fn a_changed_byte_in_each_file_is_caught() {
    for name in [
        "measurements.parquet",
        "measurements.csv",
        "manifest.json",
        "SHA256SUMS",
    ] {
        let d = copy();
        let p = d.path().join(name);
        let mut b = fs::read(&p).unwrap();
        // A digit in a text file (stays parseable); a byte in the middle of the Parquet.
        let i = if name.ends_with(".parquet") {
            b.len() / 2
        } else {
            b.iter().rposition(|c| c.is_ascii_digit()).unwrap()
        };
        b[i] = if b[i] == b'1' {
            b'2'
        } else if b[i].is_ascii_digit() {
            b'1'
        } else {
            b[i] ^ 0x01
        };
        fs::write(&p, b).unwrap();
        let (code, failed) = verify(d.path(), &[]);
        assert_eq!(code, 1, "{name}");
        assert!(
            failed.contains(&"integrity".to_string()),
            "{name}: {failed:?}"
        );
    }
}

#[test]
fn a_row_dropped_from_the_csv_only_is_caught() {
    let d = copy();
    let p = d.path().join("measurements.csv");
    let text = fs::read_to_string(&p).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    fs::write(&p, lines.join("\n") + "\n").unwrap();
    reseal(d.path(), manifest(d.path()));
    assert_caught(d.path(), "integrity");
}

#[test]
fn the_key_in_parquet_metadata_is_caught() {
    let d = copy();
    let (header, rows) = load(d.path());
    save(d.path(), &header, &rows, &[("opentape.debug", KEY)]);
    assert_eq!(verify(d.path(), &[]), (1, vec!["secrets".to_string()]));
    // Hex-encoded, in a metadata value.
    let d = copy();
    let hexkey: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
    save(d.path(), &header, &rows, &[("opentape.seed", &hexkey)]);
    assert_caught(d.path(), "secrets");
}

#[test]
fn a_value_outside_the_catalog_range_is_caught() {
    let d = copy();
    let (header, mut rows) = load(d.path());
    let chest = header.iter().position(|h| h == "chest").unwrap();
    for i in smallest_group(&rows) {
        rows[i][chest] = "9999".into(); // the whole class moves: k still holds
    }
    save(d.path(), &header, &rows, &[]);
    assert_eq!(verify(d.path(), &[]), (1, vec!["plausible".to_string()]));
}

/// Every row of the smallest class gets `value` in its first category column (the whole
/// class changes, so k still holds), with checksums recomputed.
fn smallest_class_category(value: &str) -> tempfile::TempDir {
    let d = copy();
    let (header, mut rows) = load(d.path());
    assert_eq!(header[0], "has_breasts");
    for i in smallest_group(&rows) {
        rows[i][0] = value.into();
    }
    save(d.path(), &header, &rows, &[]);
    d
}

#[test]
fn a_formula_cell_is_caught() {
    for value in ["=1+1", "@SUM(1+1)*cmd|' /C calc'!A0", "+true", "-true"] {
        let d = smallest_class_category(value);
        let (code, report) = verify_report(d.path(), &[]);
        assert_eq!(code, 1, "{value}");
        assert!(
            problems(&report, "pii").contains("spreadsheet formula"),
            "{value}: {}",
            problems(&report, "pii")
        );
        // Not a declared value either.
        assert!(
            problems(&report, "schema").contains("does not declare"),
            "{value}"
        );
    }
}

#[test]
fn control_and_bidirectional_characters_in_a_cell_are_caught() {
    for (value, what) in [
        ("tr\u{202E}ue", "bidirectional"),
        ("true\u{2067}", "bidirectional"),
        ("tr\u{1b}[8mue", "control"),
        ("tr\u{7}ue", "control"),
    ] {
        let d = smallest_class_category(value);
        let (code, report) = verify_report(d.path(), &[]);
        assert_eq!(code, 1, "{value:?}");
        assert!(problems(&report, "pii").contains(what), "{value:?}");
    }
}

#[test]
fn a_category_value_outside_the_declared_enum_is_caught() {
    let d = smallest_class_category("maybe");
    assert_eq!(verify(d.path(), &[]), (1, vec!["schema".to_string()]));
    // The enum itself removed: a category must declare its values.
    let d = copy();
    let path = d.path().join("datapackage.json");
    let mut dp: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    for r in dp["resources"].as_array_mut().unwrap() {
        r["schema"]["fields"][0]["constraints"]
            .as_object_mut()
            .unwrap()
            .remove("enum");
    }
    fs::write(&path, serde_json::to_string_pretty(&dp).unwrap()).unwrap();
    reseal(d.path(), manifest(d.path()));
    let (code, report) = verify_report(d.path(), &[]);
    assert_eq!(code, 1);
    assert!(problems(&report, "schema").contains("no enum"), "{report}");
}

#[test]
fn an_undeclared_category_value_in_the_manifest_is_caught() {
    let d = copy();
    let mut m = manifest(d.path());
    m["utility"]["strata"][0]["categories"]["has_breasts"] = "=1+1".into();
    reseal(d.path(), m);
    let (code, report) = verify_report(d.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        problems(&report, "schema").contains("manifest names"),
        "{report}"
    );
}

#[test]
fn hidden_characters_in_the_documents_are_caught() {
    for (file, what) in [
        ("DATASHEET.md", "\u{202E}"),
        ("DATASHEET.md", "\u{1b}[2J"),
        ("CITATION.cff", "\u{2066}"),
    ] {
        let d = copy();
        let p = d.path().join(file);
        let text = fs::read_to_string(&p).unwrap();
        fs::write(&p, text.replacen('\n', &format!("{what}\n"), 1)).unwrap();
        reseal(d.path(), manifest(d.path()));
        let (code, report) = verify_report(d.path(), &[]);
        assert_eq!(code, 1, "{file} {what:?}");
        assert!(problems(&report, "pii").contains(file), "{file}: {report}");
    }
    // In a JSON string of the manifest (written escaped, as serde_json writes it).
    let d = copy();
    let mut m = manifest(d.path());
    m["dataset"]["title"] = "Open \u{202E}data".into();
    reseal(d.path(), m);
    let (code, report) = verify_report(d.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        problems(&report, "pii").contains("manifest.json"),
        "{report}"
    );
}

#[test]
fn a_manifest_claiming_a_larger_k_is_caught() {
    let d = copy();
    let mut m = manifest(d.path());
    m["parameters"]["k"] = 20.into();
    reseal(d.path(), m);
    assert_caught(d.path(), "k");
}

#[test]
fn unreadable_release_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .args(["verify", "/nonexistent/1.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn private() -> PathBuf {
    good().parent().unwrap().parent().unwrap().join("private")
}

fn with_source(private: &Path) -> Vec<String> {
    let src = repo()
        .join("data-samples/freesewing-v3")
        .display()
        .to_string();
    let pl = repo()
        .join("pipelines/freesewing-v3.toml")
        .display()
        .to_string();
    vec![
        "--source".into(),
        src,
        "--pipeline".into(),
        pl,
        "--private-dir".into(),
        private.display().to_string(),
        "--as-of".into(),
        AS_OF.into(),
    ]
}

#[test]
fn the_good_release_passes_linkage_against_its_source() {
    let args = with_source(&private());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(verify(good(), &args), (0, vec![]));
}

#[test]
fn linkage_catches_a_reproduced_source_record_and_a_class_short_of_owners() {
    let args = with_source(&private());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // A released row equal to a real, unique source record.
    let d = copy();
    let (header, mut rows) = load(d.path());
    let sets = fs::read_to_string(repo().join("data-samples/freesewing-v3/sets.ndjson")).unwrap();
    let users = fs::read_to_string(repo().join("data-samples/freesewing-v3/users.ndjson")).unwrap();
    let eligible_owner = |id: &serde_json::Value| {
        users
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|u| {
                &u["id"] == id
                    && u["consent"].as_i64() >= Some(2)
                    && u["status"] == 1
                    && u["role"] == "user"
                    && !u["email"].as_str().unwrap().ends_with("@freesewing.dev")
                    && u["lastSeen"].as_str().is_some_and(|d| d > "2026-01-01")
            })
    };
    let m = sets
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| eligible_owner(&v["userId"]))
        .map(|v| v["measies"].clone())
        .find(|m| {
            m.is_object()
                && m.get("underbust").is_none()
                && m.get("chest").is_some_and(|c| c.is_number())
        })
        .unwrap();
    rows[0] = header
        .iter()
        .map(|h| match h.as_str() {
            "has_breasts" => "false".into(),
            h => m
                .get(h)
                .and_then(|v| v.as_f64())
                .map(|v| (v as i64).to_string())
                .unwrap_or_default(),
        })
        .collect();
    save(d.path(), &header, &rows, &[]);
    let (code, failed) = verify(d.path(), &args);
    assert_eq!(code, 1);
    assert!(failed.contains(&"linkage".to_string()), "{failed:?}");
    // It is the reproduced-record rule that catches it.
    let (_, report) = verify_report(d.path(), &args);
    let p = problems(&report, "linkage");
    assert!(p.contains("reproduce a source record"), "{p}");

    // A membership file (as a buggy anonymizer would make it) whose class has 5 owners.
    let p = tmp();
    let text = fs::read_to_string(private().join("membership.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // "record",class,row,kept
    let row_of = |l: &str| l.rsplit(',').nth(1).unwrap().to_string();
    let target = row_of(&lines[1]);
    let members: Vec<usize> = (1..lines.len())
        .filter(|&i| row_of(&lines[i]) == target)
        .collect();
    let (rows_csv, released) = load(good());
    let _ = rows_csv;
    let cat = &released[target.parse::<usize>().unwrap()][0];
    // Move all but 5 members to another class row of the same category.
    let other = (1..lines.len())
        .map(|i| row_of(&lines[i]))
        .find(|r| r != &target && !r.is_empty() && &released[r.parse::<usize>().unwrap()][0] == cat)
        .unwrap();
    for &i in &members[5..] {
        let mut f = lines[i].rsplitn(3, ',');
        let (kept, _row, head) = (f.next().unwrap(), f.next(), f.next().unwrap());
        lines[i] = format!("{head},{other},{kept}");
    }
    fs::write(p.path().join("membership.csv"), lines.join("\n") + "\n").unwrap();
    let args = with_source(p.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, failed) = verify(good(), &args);
    assert_eq!((code, failed), (1, vec!["linkage".to_string()]));
    let (_, report) = verify_report(good(), &args);
    let p = problems(&report, "linkage");
    assert!(
        p.contains("a class holds only 5 distinct owners < k = 10"),
        "{p}"
    );
}

/// A leak drawn at random: its kind, where it goes, and a seed for its text.
#[derive(Debug, Clone)]
enum Leak {
    /// One cell (row, column) becomes an identifier-like or formula value.
    Cell(usize, usize, usize),
    /// A column of identifiers is added (name from a list).
    Column(usize),
    /// One byte of a file listed in SHA256SUMS changes (checksums left as they were).
    Byte(usize, usize),
    /// One row is removed from the CSV only.
    Row(usize),
    /// The Parquet metadata gains a value with hidden (bidi) characters or the noise key.
    Metadata(usize),
}

fn leak() -> impl proptest::strategy::Strategy<Value = Leak> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<usize>(), any::<usize>(), 0usize..5).prop_map(|(r, c, v)| Leak::Cell(r, c, v)),
        (0usize..4).prop_map(Leak::Column),
        (any::<usize>(), any::<usize>()).prop_map(|(f, b)| Leak::Byte(f, b)),
        any::<usize>().prop_map(Leak::Row),
        (0usize..2).prop_map(Leak::Metadata),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Every generated leak of a good release makes `opentape verify` exit 1:
    /// random cells, columns, bytes, rows and metadata.
    #[test]
    fn verify_fails_on_every_generated_leak(l in leak()) {
        let d = copy();
        let (mut header, mut rows) = load(d.path());
        match &l {
            Leak::Cell(r, c, v) => {
                let r = r % rows.len();
                let c = c % header.len();
                rows[r][c] = ["anna.meier@example.org", "=HYPERLINK(\"x\")", "+49 170 1234567",
                    "https://example.com/u/anna", "550e8400-e29b-41d4-a716-446655440000"][*v].into();
                save(d.path(), &header, &rows, &[]);
            }
            Leak::Column(n) => {
                header.push(["email", "username", "name", "notes"][*n].into());
                for (i, r) in rows.iter_mut().enumerate() {
                    r.push(format!("person{i}"));
                }
                save(d.path(), &header, &rows, &[]);
            }
            Leak::Byte(f, b) => {
                let sums = fs::read_to_string(d.path().join("SHA256SUMS")).unwrap();
                let names: Vec<&str> = sums.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
                let p = d.path().join(names[f % names.len()]);
                let mut bytes = fs::read(&p).unwrap();
                let i = b % bytes.len();
                bytes[i] ^= 0x20;
                fs::write(&p, bytes).unwrap();
            }
            Leak::Row(r) => {
                let r = r % rows.len();
                let text = fs::read_to_string(d.path().join("measurements.csv")).unwrap();
                let kept: String = text.lines().enumerate().filter(|(i, _)| *i != r + 1).map(|(_, l)| format!("{l}\n")).collect();
                fs::write(d.path().join("measurements.csv"), kept).unwrap();
            }
            Leak::Metadata(n) => {
                let value = if *n == 0 { "Ma\u{202E}le".to_string() } else { KEY.to_string() };
                save(d.path(), &header, &rows, &[("opentape.note", &value)]);
            }
        }
        let (code, failed) = verify(d.path(), &["--noise-key-file", &key_file(d.path())]);
        proptest::prop_assert_eq!(code, 1, "{:?} passed verify (failed checks: {:?})", l, failed);
    }
}

/// The noise key in a file outside any release (made once), so `secrets` searches for it.
fn key_file(_release: &Path) -> String {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let p = tmp().keep().join("noise.key");
        fs::write(&p, KEY).unwrap();
        p
    })
    .display()
    .to_string()
}

/// An empty key (file or environment) is a mistake, never "no key": the checker would look
/// for nothing and the reader decrypt nothing. Every command that takes a key says so the
/// same way (exit 2), because they all read keys with the checker's functions.
#[test]
fn an_empty_key_is_refused_by_every_command_that_takes_one() {
    let d = tmp();
    let empty = d.path().join("empty.key");
    fs::write(&empty, "  \n").unwrap();
    let e = empty.to_str().unwrap();
    let rel = good().to_str().unwrap();
    let out = d.path().join("out");
    let src = repo().join("data-samples/freesewing-v3");
    let pl = repo().join("pipelines/freesewing-v3.toml");
    let (src, pl, out) = (
        src.to_str().unwrap(),
        pl.to_str().unwrap(),
        out.to_str().unwrap(),
    );
    let runs: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "verify",
            vec!["verify", rel, "--noise-key-file", e],
            "noise key file is empty",
        ),
        (
            "verify",
            vec!["verify", rel, "--store-key-file", e],
            "store key file is empty",
        ),
        (
            "release",
            vec![
                "release",
                "--pipeline",
                pl,
                "--version",
                "1.0.0",
                "--out",
                out,
                "--noise-key-file",
                e,
            ],
            "noise key file is empty",
        ),
        (
            "report",
            vec![
                "report",
                rel,
                "--source",
                src,
                "--pipeline",
                pl,
                "--noise-key-file",
                e,
            ],
            "noise key file is empty",
        ),
        (
            "inspect",
            vec!["inspect", "--pipeline", pl, "--store-key-file", e],
            "store key file is empty",
        ),
    ];
    for (name, args, says) in runs {
        let r = opentape(d.path(), &args);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{name}: {}", r.stderr);
    }
    // The same from the environment.
    let r = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .args(["verify", rel])
        .env("OPENTAPE_NOISE_KEY", "")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("OPENTAPE_NOISE_KEY is set but empty"));
    assert!(!Path::new(out).exists(), "release wrote nothing");
}

/// Keys are for recomputing: `report` without --source refuses them rather than ignore them.
#[test]
fn report_refuses_keys_without_a_source() {
    let d = tmp();
    let k = d.path().join("k");
    fs::write(&k, KEY).unwrap();
    let r = opentape(
        d.path(),
        &[
            "report",
            good().to_str().unwrap(),
            "--noise-key-file",
            k.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("with --source only"), "{}", r.stderr);
}
