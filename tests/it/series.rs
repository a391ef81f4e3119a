//! A release series through the real binary: a withdrawal (patch), a join (minor) and a
//! re-cut (major) on the v3 sample, each attacked by differencing two versions (the small
//! case of `benches/series_attacks.py`); and the ledger the series needs.

use crate::common::*;
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;

fn release(input: &Path, version: &str, out: &Path, private: Option<&Path>) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opentape"));
    c.current_dir(repo())
        .args(["release", "--pipeline", "pipelines/freesewing-v3.toml"]);
    c.args(["--as-of", AS_OF, "--version", version]);
    c.arg("--input").arg(input).arg("--out").arg(out);
    if let Some(p) = private {
        c.arg("--private-dir").arg(p);
    }
    c.env("OPENTAPE_NOISE_KEY", KEY);
    let o = c.output().unwrap();
    Run::from(o)
}

/// The sample without set line `skip` (1-based; none: all of it).
fn input(dir: &Path, skip: Option<usize>) -> std::path::PathBuf {
    let src = repo().join("data-samples/freesewing-v3");
    fs::create_dir_all(dir).unwrap();
    fs::copy(src.join("users.ndjson"), dir.join("users.ndjson")).unwrap();
    let sets: String = fs::read_to_string(src.join("sets.ndjson"))
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| Some(i + 1) != skip)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    fs::write(dir.join("sets.ndjson"), sets).unwrap();
    dir.to_path_buf()
}

/// A version's CSV: column names and rows (None: empty cell).
fn table(v: &Path) -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let text = fs::read_to_string(v.join("measurements.csv")).unwrap();
    let mut lines = text.lines();
    let names: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|x| x.parse::<f64>().ok()).collect())
        .collect();
    (names, rows)
}

fn manifest(v: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(v.join("manifest.json")).unwrap()).unwrap()
}

/// Mean absolute difference over the measurements both hold.
fn mae(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> f64 {
    let d: Vec<f64> = a
        .iter()
        .filter_map(|(k, x)| b.get(k).map(|y| (x - y).abs()))
        .collect();
    assert!(!d.is_empty());
    d.iter().sum::<f64>() / d.len() as f64
}

/// Per measurement, the sum of a version's column over the rows holding it.
fn sums(v: &Path) -> HashMap<String, f64> {
    let (names, rows) = table(v);
    let mut s = HashMap::new();
    for r in &rows {
        for (n, x) in names.iter().zip(r) {
            if let Some(x) = x {
                *s.entry(n.clone()).or_insert(0.0) += x;
            }
        }
    }
    s
}

/// Per measurement, holders x the eligible mean the manifest gives.
fn document_sums(v: &Path) -> HashMap<String, f64> {
    let m = manifest(v);
    m["measurements"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(n, x)| {
            let mean = x["mean"][0].as_f64()?;
            Some((n.clone(), x["holders"].as_f64()? * mean))
        })
        .collect()
}

fn diff(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> HashMap<String, f64> {
    a.iter()
        .map(|(k, x)| (k.clone(), x - b.get(k).copied().unwrap_or(0.0)))
        .collect()
}

#[test]
fn no_two_versions_can_be_differenced_to_recover_a_person() {
    let d = tmp();
    let all = input(&d.path().join("in-all"), None);
    let base = d.path().join("base");
    let r = release(
        &all,
        "1.0.0",
        &base.join("out"),
        Some(&base.join("private")),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v1 = base.join("out/1.0.0");
    let (names, rows) = table(&v1);
    // People released in 1.0.0: (set line, their class's row).
    let membership = fs::read_to_string(base.join("private/membership.csv")).unwrap();
    let placed: Vec<(usize, usize)> = membership
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.rsplitn(4, ',');
            let _kept = f.next()?;
            let row = f.next()?.parse().ok()?;
            let _class = f.next()?;
            let line = f
                .next()?
                .trim_matches('"')
                .rsplit('#')
                .next()?
                .parse()
                .ok()?;
            Some((line, row))
        })
        .collect();
    assert!(placed.len() > 500);
    let sets: Vec<String> = fs::read_to_string(all.join("sets.ndjson"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    for &(line, row) in placed.iter().step_by(placed.len() / 3).take(3) {
        let set: serde_json::Value = serde_json::from_str(&sets[line - 1]).unwrap();
        let truth: HashMap<String, f64> = set["measies"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
            .filter(|(k, _)| names.contains(k))
            .collect();
        let class_row: HashMap<String, f64> = names
            .iter()
            .zip(&rows[row])
            .filter_map(|(n, x)| x.map(|x| (n.clone(), x)))
            .collect();
        // What one release tells: the better of the class row and the mean of the rows of
        // the person's category holding each measurement.
        let category = &fs::read_to_string(v1.join("measurements.csv"))
            .unwrap()
            .lines()
            .nth(row + 1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        let lines = fs::read_to_string(v1.join("measurements.csv")).unwrap();
        let mut sum: HashMap<String, (f64, f64)> = HashMap::new();
        for (l, r) in lines.lines().skip(1).zip(&rows) {
            if l.split(',').next() == Some(category.as_str()) {
                for (n, x) in names.iter().zip(r) {
                    if let Some(x) = x {
                        let e = sum.entry(n.clone()).or_default();
                        e.0 += x;
                        e.1 += 1.0;
                    }
                }
            }
        }
        let released_mean: HashMap<String, f64> =
            sum.into_iter().map(|(n, (s, c))| (n, s / c)).collect();
        let one_release = mae(&class_row, &truth).min(mae(&released_mean, &truth));
        let without = input(&d.path().join(format!("in-{line}")), Some(line));

        // Withdrawal: the patch publishes 1.0.0's table byte for byte, so differencing its
        // sums, squares, sorted columns or rows finds nothing; the documents' figures are
        // noisy.
        let w = d.path().join(format!("withdrawal-{line}"));
        copy_dir(&base, &w);
        let r = release(&without, "1.0.1", &w.join("out"), Some(&w.join("private")));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains("1 people left"), "{}", r.stdout);
        let v2 = w.join("out/1.0.1");
        assert!(
            fs::read(v1.join("measurements.csv")).unwrap()
                == fs::read(v2.join("measurements.csv")).unwrap(),
            "the patch changed the table"
        );
        let est = diff(&document_sums(&v1), &document_sums(&v2));
        assert!(
            mae(&est, &truth) >= one_release,
            "withdrawal of line {line}: documents estimate {} mm, class row {one_release} mm",
            mae(&est, &truth)
        );
        assert_eq!(manifest(&v2)["series"]["kind"], "patch");

        // Join: the new person forms classes with other new or waiting people only (or
        // waits, when fewer than k are new): every row of 1.0.0 stays, and the rows added
        // come in groups of at least k identical rows.
        let j = d.path().join(format!("join-{line}"));
        let r = release(&without, "1.0.0", &j.join("out"), Some(&j.join("private")));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = release(&all, "1.1.0", &j.join("out"), Some(&j.join("private")));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let count = |v: &Path| {
            let mut c: HashMap<String, usize> = HashMap::new();
            for l in fs::read_to_string(v.join("measurements.csv"))
                .unwrap()
                .lines()
                .skip(1)
            {
                *c.entry(l.to_string()).or_default() += 1;
            }
            c
        };
        let (before, after) = (count(&j.join("out/1.0.0")), count(&j.join("out/1.1.0")));
        for (row, n) in &before {
            assert!(
                after.get(row).copied().unwrap_or(0) >= *n,
                "a row of 1.0.0 changed"
            );
        }
        for (row, n) in &after {
            let added = n - before.get(row).copied().unwrap_or(0);
            assert!(added == 0 || added >= 10, "{added} new rows {row}");
        }
        let est = diff(
            &document_sums(&j.join("out/1.1.0")),
            &document_sums(&j.join("out/1.0.0")),
        );
        assert!(
            mae(&est, &truth) >= one_release,
            "join of line {line}: documents estimate {} mm, class row {one_release} mm",
            mae(&est, &truth)
        );

        // Re-cut: every row changes, but the sums follow noisy targets, not the people.
        let c = d.path().join(format!("recut-{line}"));
        copy_dir(&base, &c);
        let r = release(&without, "2.0.0", &c.join("out"), Some(&c.join("private")));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v3 = c.join("out/2.0.0");
        for (what, est) in [
            ("sums", diff(&sums(&v1), &sums(&v3))),
            ("documents", diff(&document_sums(&v1), &document_sums(&v3))),
        ] {
            assert!(
                mae(&est, &truth) >= one_release,
                "re-cut without line {line}: {what} estimate {} mm, class row {one_release} mm",
                mae(&est, &truth)
            );
        }
        assert_eq!(manifest(&v3)["series"]["kind"], "major");
    }
}

#[test]
fn a_patch_needs_the_ledger_and_a_re_cut_does_not() {
    let d = tmp();
    let all = input(&d.path().join("in"), None);
    let out = d.path().join("out");
    let r = release(&all, "1.0.0", &out, Some(&d.path().join("private")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ledger: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.path().join("private/series/ledger.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["versions"][0]["version"], "1.0.0");
    // Fingerprints, never ids: no set or user id from the sample is in the ledger.
    let text = fs::read_to_string(d.path().join("private/series/ledger.json")).unwrap();
    assert!(!text.contains("\"userId\"") && !text.contains("sets.ndjson"));
    // Without the ledger, a patch or minor version is refused (exit 2) and the message
    // says what to do.
    for v in ["1.0.1", "1.1.0"] {
        let r = release(&all, v, &out, Some(&d.path().join("elsewhere")));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("--version 2.0.0"), "{}", r.stderr);
        assert!(!out.join(v).exists());
    }
    let r = release(&all, "1.0.1", &out, None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    // A re-cut starts a new ledger.
    let r = release(&all, "2.0.0", &out, Some(&d.path().join("elsewhere")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(d.path().join("elsewhere/series/ledger.json").exists());
}

/// The ids of the checks a `verify --json` run failed.
fn failed_checks(r: &Run) -> Vec<String> {
    r.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &p);
        } else if e.file_type().unwrap().is_symlink() {
            let target = fs::read_link(e.path()).unwrap();
            std::os::unix::fs::symlink(target, &p).unwrap();
        } else {
            fs::copy(e.path(), &p).unwrap();
        }
    }
}

#[test]
fn verify_series_checks_a_whole_series_and_catches_a_changed_row() {
    let d = tmp();
    let all = input(&d.path().join("in-all"), None);
    let fewer = input(&d.path().join("in-fewer"), Some(3));
    let (out, private) = (d.path().join("out"), d.path().join("private"));
    let (o, p) = (out.display().to_string(), private.display().to_string());
    for (input, v) in [
        (&all, "1.0.0"),
        (&fewer, "1.0.1"),
        (&all, "1.1.0"),
        (&fewer, "1.1.1"),
    ] {
        let r = release(input, v, &out, Some(&private));
        assert_eq!(r.code, 0, "{v}: {}", r.stderr);
        // Each version passes `verify --source` against its own people (the classes kept
        // from the version before were checked when they were made).
        let rel = out.join(v).display().to_string();
        let src = input.display().to_string();
        let args = [
            "verify",
            &rel,
            "--source",
            &src,
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--private-dir",
            &p,
            "--as-of",
            AS_OF,
        ];
        let r = opentape(&repo(), &args);
        assert_eq!(r.code, 0, "{v}: {}{}", r.stdout, r.stderr);
    }
    let r = opentape(
        &repo(),
        &["verify", "--series", &o, "--private-dir", &p, "--json"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let j = r.json();
    let ids: Vec<&str> = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ledger", "unchanged", "k", "budget", "documents"]);
    // A class row changed between a version and its patch: caught twice (the table is not
    // its ledger's, and the class the patch should keep changed).
    let snap = private.join("series/1.1.1.json");
    let mut l: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&snap).unwrap()).unwrap();
    let values = l["classes"][0]["values"].as_array_mut().unwrap();
    let at = values.iter().position(|v| v.is_i64()).unwrap();
    values[at] = serde_json::json!(values[at].as_i64().unwrap() + 1);
    fs::write(&snap, serde_json::to_string(&l).unwrap()).unwrap();
    let r = opentape(
        &repo(),
        &["verify", "--series", &o, "--private-dir", &p, "--json"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(failed_checks(&r), ["ledger", "unchanged"]);
    // An exact figure of the eligible people in a document (a percentile error, as the
    // manifest gave before series): caught.
    let m = out.join("1.0.0/manifest.json");
    let mut v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&m).unwrap()).unwrap();
    v["utility"]["worst"]["percentile_error_sd"] = serde_json::json!(0.15);
    fs::write(&m, serde_json::to_string(&v).unwrap()).unwrap();
    let r = opentape(
        &repo(),
        &["verify", "--series", &o, "--private-dir", &p, "--json"],
    );
    assert_eq!(failed_checks(&r), ["ledger", "unchanged", "documents"]);
}

/// A patch or minor version keeps classes made under the series' k and noise: a pipeline
/// that changes them needs a major version (a re-cut).
#[test]
fn a_changed_k_needs_a_re_cut() {
    let d = tmp();
    let all = input(&d.path().join("in"), None);
    let (out, private) = (d.path().join("out"), d.path().join("private"));
    let r = release(&all, "1.0.0", &out, Some(&private));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let k12 = edited_pipeline(d.path(), "freesewing-v3", &[("k = 10", "k = 12")]);
    let run = |v: &str| {
        Command::new(env!("CARGO_BIN_EXE_opentape"))
            .current_dir(repo())
            .args(["release", "--pipeline"])
            .arg(&k12)
            .args(["--as-of", AS_OF, "--version", v, "--input"])
            .arg(&all)
            .arg("--out")
            .arg(&out)
            .arg("--private-dir")
            .arg(&private)
            .env("OPENTAPE_NOISE_KEY", KEY)
            .output()
            .unwrap()
    };
    let r = run("1.1.0");
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("k = 10") && err.contains("major bump (2.0.0"),
        "{err}"
    );
    assert!(!out.join("1.1.0").exists());
    assert!(run("2.0.0").status.success());
}
