//! `opentape release` end to end through the real binary.

use crate::common::*;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn release(dir: &Path, args: &[&str], threads: Option<&str>) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opentape"));
    c.current_dir(repo()).arg("release").args(args);
    c.env("OPENTAPE_NOISE_KEY", KEY)
        .env("SOURCE_DATE_EPOCH", "1796000000");
    if let Some(t) = threads {
        c.env("RAYON_NUM_THREADS", t);
    }
    let _ = dir;
    let out = c.output().unwrap();
    Run::from(out)
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every distinct CSV row appears at least k times.
fn assert_k(csv: &Path, k: usize) -> usize {
    let text = fs::read_to_string(csv).unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for l in text.lines().skip(1) {
        *counts.entry(l).or_default() += 1;
    }
    let min = counts.values().copied().min().unwrap();
    assert!(
        min >= k,
        "{}: a row appears only {min} times",
        csv.display()
    );
    text.lines().count() - 1
}

#[test]
fn releases_the_samples_with_k_10_and_little_suppression() {
    let d = tmp();
    for (p, extra) in [
        ("freesewing-v3", true),
        ("freesewing-v2", true),
        ("ansur2", false),
    ] {
        let out = d.path().join(p);
        let o = out.display().to_string();
        let private = d.path().join(format!("{p}-private"));
        let pr = private.display().to_string();
        let mut args = vec![
            "--pipeline",
            &*Box::leak(format!("pipelines/{p}.toml").into_boxed_str()),
            "--version",
            "1.0.0",
            "--out",
            &o,
            "--private-dir",
            &pr,
        ];
        if extra {
            args.extend(["--as-of", AS_OF]);
        }
        let r = release(d.path(), &args, None);
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        let v = out.join("1.0.0");
        let m = manifest(&v);
        let eligible = m["counts"]["eligible_people"].as_u64().unwrap();
        let suppressed = m["counts"]["suppressed"].as_u64().unwrap();
        let limit = m["parameters"]["max_suppressed"].as_f64().unwrap();
        assert!(
            (suppressed as f64) < limit * eligible as f64,
            "{p}: {suppressed} of {eligible}"
        );
        assert_eq!(m["parameters"]["k"], 10);
        assert!(m["counts"]["owners_per_class_min"].as_u64().unwrap() >= 10);
        // The default method (`quantile`), and its utility against the released people: the
        // measured ANSUR II figures with room for the samples' smaller strata.
        assert_eq!(m["parameters"]["moments"]["method"], "quantile", "{p}");
        assert_eq!(m["parameters"]["partition_space"], "whitened", "{p}");
        assert_eq!(m["parameters"]["cut"], "auto", "{p}");
        // ANSUR II is complete: its figures per stratum. The FreeSewing samples hold what
        // owners entered: their figures over the whole table, per measurement and pair,
        // against the eligible people holding it (the sparse sets' targets: mean 0.5%, std
        // 3%; correlations 0.05, which the 1,100-person samples do not reach: BENCHMARKS).
        // Against the people themselves: the private utility.json (the manifest compares
        // with the release's noisy figures, and gives no exact figure of the people).
        let exact: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(private.join("utility.json")).unwrap())
                .unwrap();
        let w = if p == "ansur2" {
            assert!(m["utility"].get("pooled").is_none());
            assert!(exact.get("pooled").is_none());
            &exact["worst"]
        } else {
            assert!(m["utility"]["pooled"]["worst"]["mean_error_pct"].is_number());
            &exact["pooled"]["worst"]
        };
        let (mean, std, corr) = (
            w["mean_error_pct"].as_f64().unwrap(),
            w["std_error_pct"].as_f64().unwrap(),
            w["correlation_change"].as_f64().unwrap(),
        );
        let (max_mean, max_std, max_corr) = if p == "ansur2" {
            (0.05, 2.5, 0.04)
        } else {
            (0.5, 3.0, 0.25)
        };
        assert!(
            mean <= max_mean && std <= max_std && corr <= max_corr,
            "{p}: {w}"
        );
        let rows = assert_k(&v.join("measurements.csv"), 10);
        assert_eq!(rows as u64, m["counts"]["released_rows"].as_u64().unwrap());
        assert_eq!(rows as u64 + suppressed, eligible);
        // SHA256SUMS passes `sha256sum -c`.
        let s = Command::new("sha256sum")
            .arg("-c")
            .arg("SHA256SUMS")
            .current_dir(&v)
            .output()
            .unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stdout));
        assert!(fs::read_to_string(out.join("CHANGELOG.md"))
            .unwrap()
            .contains("## [1.0.0]"));
        // Nothing but the release files, and no staging folder left behind.
        let names: Vec<String> = files(&out)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1.0.0", "CHANGELOG.md", "latest"]);
        assert_eq!(fs::read_to_string(out.join("latest")).unwrap(), "1.0.0\n");
    }
}

/// Identifier values of a sample export: what must never appear in a release.
fn identifier_strings(v2_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut take = |v: &serde_json::Value| {
        if let Some(s) = v.as_str() {
            if s.len() >= 5 {
                out.push(s.to_string());
            }
        }
    };
    let users: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(v2_dir.join("users.json")).unwrap()).unwrap();
    for u in users.as_array().unwrap() {
        for f in ["handle", "email", "username", "bio", "picture"] {
            take(&u[f]);
        }
        for (_, s) in u["social"].as_object().unwrap() {
            take(s);
        }
        take(&u["time"]["login"]);
        take(&u["time"]["created"]);
    }
    let people: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(v2_dir.join("people.json")).unwrap()).unwrap();
    for p in people.as_array().unwrap() {
        for f in ["handle", "name", "picture", "notes", "createdAt"] {
            take(&p[f]);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn no_identifier_from_the_input_appears_in_any_release_file() {
    let d = tmp();
    let out = d.path().join("rel");
    let o = out.display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            "pipelines/freesewing-v2.toml",
            "--version",
            "1.0.0",
            "--out",
            &o,
            "--as-of",
            AS_OF,
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let needles = identifier_strings(&repo().join("data-samples/freesewing-v2"));
    assert!(needles.len() > 5000, "{}", needles.len());
    // Raw bytes of every file (the CSV, manifest, sums, changelog)...
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for f in files(&out.join("1.0.0"))
        .into_iter()
        .chain([out.join("CHANGELOG.md")])
    {
        haystacks.push((
            f.display().to_string(),
            String::from_utf8_lossy(&fs::read(&f).unwrap()).into_owned(),
        ));
    }
    // ...and the decoded Parquet: every cell, column name and metadata value (its pages
    // are compressed, so its raw bytes alone prove nothing).
    use polars::prelude::*;
    let pq = out.join("1.0.0/measurements.parquet");
    let mut reader = ParquetReader::new(fs::File::open(&pq).unwrap());
    let meta = format!("{:?}", reader.get_metadata().unwrap().key_value_metadata());
    let df = reader.finish().unwrap();
    let csv_of_parquet = format!("{:?} {meta}", df);
    haystacks.push(("decoded parquet".into(), csv_of_parquet));
    for (name, text) in &haystacks {
        for n in &needles {
            assert!(
                !text.contains(n.as_str()),
                "{name} contains an input identifier"
            );
        }
    }
    // The test can fail: the needles are in the input.
    let input = fs::read_to_string(repo().join("data-samples/freesewing-v2/users.json")).unwrap();
    assert!(needles.iter().any(|n| input.contains(n.as_str())));
}

#[test]
fn same_input_and_key_give_byte_identical_releases_on_1_and_2_threads() {
    let d = tmp();
    let mut outs = Vec::new();
    for t in ["1", "2"] {
        let out = d.path().join(format!("t{t}"));
        let o = out.display().to_string();
        let r = release(
            d.path(),
            &[
                "--pipeline",
                "pipelines/freesewing-v3.toml",
                "--version",
                "1.0.0",
                "--out",
                &o,
                "--as-of",
                AS_OF,
            ],
            Some(t),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        outs.push(out.join("1.0.0"));
    }
    for (a, b) in files(&outs[0]).iter().zip(files(&outs[1])) {
        assert_eq!(
            fs::read(a).unwrap(),
            fs::read(&b).unwrap(),
            "{}",
            a.display()
        );
    }
    assert_eq!(
        manifest(&outs[0])["parameters"]["noise"]["reproducible"],
        true
    );
}

#[test]
fn an_existing_version_is_refused_and_left_untouched() {
    let d = tmp();
    let o = d.path().join("rel").display().to_string();
    let args = [
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--version",
        "1.0.0",
        "--out",
        &o,
        "--as-of",
        AS_OF,
    ];
    assert_eq!(release(d.path(), &args, None).code, 0);
    let v = d.path().join("rel/1.0.0");
    let before: Vec<Vec<u8>> = files(&v).iter().map(|f| fs::read(f).unwrap()).collect();
    let r = release(d.path(), &args, None);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("never overwritten"), "{}", r.stderr);
    let after: Vec<Vec<u8>> = files(&v).iter().map(|f| fs::read(f).unwrap()).collect();
    assert_eq!(before, after);
    let bad = release(
        d.path(),
        &[
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "v1",
            "--out",
            &o,
        ],
        None,
    );
    assert_eq!(bad.code, 2);
}

#[test]
fn too_much_suppression_is_refused_with_the_figures() {
    // 30 owners without breasts and 4 with: the small stratum cannot hold k = 10 owners.
    let d = tmp();
    let sample = d.path().join("in");
    fs::create_dir_all(&sample).unwrap();
    let src = fs::read_to_string(repo().join("data-samples/freesewing-v3/sets.ndjson")).unwrap();
    let mut sets = String::new();
    let (mut with, mut without) = (0, 0);
    let mut users = String::new();
    for line in src.lines() {
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let m = match &v["measies"] {
            serde_json::Value::String(s) => serde_json::from_str(s).unwrap(),
            m => m.clone(),
        };
        // Complete sets only (31 measurements without breasts, 38 with): one pattern each.
        let breasts = ["underbust", "highBust", "bustSpan", "bustFront"]
            .iter()
            .any(|b| m.get(b).is_some());
        let held = m.as_object().map_or(0, |o| o.len());
        if m.get("iv").is_some() || held != if breasts { 38 } else { 31 } {
            continue;
        }
        if (breasts && with >= 4) || (!breasts && without >= 30) {
            continue;
        }
        let owner = with + without + 1;
        if breasts {
            with += 1
        } else {
            without += 1
        }
        v["userId"] = serde_json::json!(owner);
        sets.push_str(&format!("{v}\n"));
        users.push_str(&format!(
            "{}\n",
            serde_json::json!({"id": owner, "consent": 2, "status": 1, "lastSeen": "2026-11-01"})
        ));
    }
    fs::write(sample.join("sets.ndjson"), sets).unwrap();
    fs::write(sample.join("users.ndjson"), users).unwrap();
    let o = d.path().join("rel").display().to_string();
    let i = sample.display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--out",
            &o,
            "--input",
            &i,
            "--as-of",
            AS_OF,
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("4 of 34 eligible people"), "{}", r.stderr);
    assert!(!d.path().join("rel/1.0.0").exists());
}

#[test]
fn private_outputs_never_go_inside_the_release_folder() {
    let d = tmp();
    let o = d.path().join("rel").display().to_string();
    let p = d.path().join("rel/private").display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--out",
            &o,
            "--private-dir",
            &p,
            "--as-of",
            AS_OF,
        ],
        None,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!d.path().join("rel/1.0.0").exists());
    assert!(!d.path().join("rel/private").exists());

    let p = d.path().join("private").display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--out",
            &o,
            "--private-dir",
            &p,
            "--as-of",
            AS_OF,
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dropped = fs::read_to_string(d.path().join("private/dropped.csv")).unwrap();
    assert!(
        dropped.contains("sets.ndjson, line")
            && dropped.contains("no-consent")
            && dropped.contains("encrypted")
    );
}

#[test]
fn a_release_that_fails_verification_is_not_published() {
    // A category released under a name that looks like an identifier: the independent
    // checker's schema check fails on the staged files, so nothing is published.
    let d = tmp();
    let p = edited_pipeline(
        d.path(),
        "ansur2",
        &[(
            "Gender = { field = \"row.Gender\",",
            "subject_name = { field = \"row.Gender\",",
        )],
    );
    let o = d.path().join("rel").display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            &p.display().to_string(),
            "--version",
            "1.0.0",
            "--out",
            &o,
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("fails verification (schema)"),
        "{}",
        r.stderr
    );
    assert!(!d.path().join("rel/1.0.0").exists());
    let left: Vec<PathBuf> = files(&d.path().join("rel"));
    assert!(left.is_empty(), "staging left behind: {left:?}");
}

#[test]
fn versions_must_not_understate_the_change() {
    let d = tmp();
    let o = d.path().join("rel").display().to_string();
    // A pipeline that leaves `wrist` out, to add it back later.
    let names: Vec<String> =
        fs::read_to_string(repo().join("schemas/freesewing-measurements.toml"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.strip_prefix("name = \"")
                    .map(|n| n.trim_end_matches('"').to_string())
            })
            .filter(|n| n != "freesewing" && n != "wrist")
            .collect();
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let measurements = format!("[release]\nmeasurements = [{list}]\n");
    let without = edited_pipeline(d.path(), "freesewing-v3", &[("[release]\n", &measurements)]);
    let without = without.display().to_string();
    let with = "pipelines/freesewing-v3.toml";
    // A smaller export: the first 1,200 lines of the sample.
    let part = d.path().join("part");
    fs::create_dir_all(&part).unwrap();
    let sets = fs::read_to_string(repo().join("data-samples/freesewing-v3/sets.ndjson")).unwrap();
    let first: String = sets.lines().take(1200).map(|l| format!("{l}\n")).collect();
    fs::write(part.join("sets.ndjson"), first).unwrap();
    fs::copy(
        repo().join("data-samples/freesewing-v3/users.ndjson"),
        part.join("users.ndjson"),
    )
    .unwrap();
    let part = part.display().to_string();
    let private = d.path().join("private").display().to_string();
    let run = |pipeline: &str, v: &str, input: Option<&str>| {
        let mut a = vec![
            "--pipeline",
            pipeline,
            "--out",
            &o,
            "--private-dir",
            &private,
            "--as-of",
            AS_OF,
            "--version",
            v,
        ];
        if let Some(i) = input {
            a.extend(["--input", i]);
        }
        release(d.path(), &a, None)
    };
    assert_eq!(run(&without, "1.0.0", Some(&part)).code, 0);
    // A column added: 1.0.1 is refused, naming the major bump it needs.
    let r = run(with, "1.0.1", Some(&part));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("needs a major bump (2.0.0 or later)"),
        "{}",
        r.stderr
    );
    assert!(!d.path().join("rel/1.0.1").exists());
    // More people in a patch: it keeps every row of 1.0.0 unchanged, and the new people
    // wait for a minor version, which adds their classes.
    let r = run(&without, "1.0.1", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("series: patch"), "{}", r.stdout);
    let csv = |v: &str| fs::read(d.path().join("rel").join(v).join("measurements.csv")).unwrap();
    assert_eq!(csv("1.0.1"), csv("1.0.0"));
    let r = run(&without, "1.1.0", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("series: minor"), "{}", r.stdout);
    assert!(csv("1.1.0").len() > csv("1.0.0").len());
    assert_eq!(
        fs::read_to_string(d.path().join("rel/latest")).unwrap(),
        "1.1.0\n"
    );
    let r = run(with, "2.0.0", None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = fs::read_to_string(d.path().join("rel/CHANGELOG.md")).unwrap();
    assert!(
        log.find("## [2.0.0]").unwrap() < log.find("## [1.1.0]").unwrap(),
        "newest first"
    );
    assert!(log.contains("column `wrist`"), "{log}");
    assert!(log.contains("rows ("), "{log}");

    // diff names the added column and the row change.
    let a = d.path().join("rel/1.0.0").display().to_string();
    let b = d.path().join("rel/2.0.0").display().to_string();
    let out = opentape(&repo(), &["diff", &a, &b, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    assert_eq!(j["columns_added"], serde_json::json!(["wrist"]));
    assert_eq!(j["needed_bump"], "major");
    assert!(j["rows"][1].as_u64() > j["rows"][0].as_u64());
    assert!(!j["measurement_shifts"].as_array().unwrap().is_empty());
}

#[test]
fn range_representation_releases_class_bounds() {
    let d = tmp();
    let p = edited_pipeline(
        d.path(),
        "ansur2",
        &[(
            "representation = \"centroid\"",
            "representation = \"range\"",
        )],
    );
    let o = d.path().join("rel").display().to_string();
    let r = release(
        d.path(),
        &[
            "--pipeline",
            &p.display().to_string(),
            "--version",
            "1.0.0",
            "--out",
            &o,
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = d.path().join("rel/1.0.0");
    let m = manifest(&v);
    assert_eq!(m["parameters"]["representation"], "range");
    assert_eq!(m["parameters"]["moments"]["method"], "none");
    let header = fs::read_to_string(v.join("measurements.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert!(
        header.starts_with(
            "Gender,abdominalextensiondepthsitting_min,abdominalextensiondepthsitting_max,"
        ),
        "{header}"
    );
    assert_k(&v.join("measurements.csv"), 10);
    // The report measures information loss of ranges as normalized certainty penalty.
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(v.join("report.json")).unwrap()).unwrap();
    let ncp = report["strata"][0]["measurements"][0]["ncp"]
        .as_f64()
        .unwrap();
    assert!(ncp > 0.0 && ncp < 1.0, "{ncp}");
    // Every lower bound is at most its upper bound.
    let text = fs::read_to_string(v.join("measurements.csv")).unwrap();
    for line in text.lines().skip(1).take(500) {
        let cells: Vec<i64> = line
            .split(',')
            .skip(1)
            .map(|c| c.parse().unwrap())
            .collect();
        for pair in cells.chunks(2) {
            assert!(pair[0] <= pair[1], "{line}");
        }
    }
}

/// The shipped ANSUR II female table with the `Gender` cell of row `i` (1-based, data rows)
/// replaced by `v` for each `(i, v)`, written into `dir`; returns both input paths.
fn ansur_with_gender(dir: &Path, edits: &[(usize, String)]) -> [String; 2] {
    let src = repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv");
    let text = fs::read_to_string(src).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let col = lines[0].split(',').position(|h| h == "Gender").unwrap();
    for (i, v) in edits {
        let mut cells: Vec<&str> = lines[*i].split(',').collect();
        assert_eq!(cells[col], "Female");
        cells[col] = v;
        lines[*i] = cells.join(",");
    }
    let female = dir.join("ANSUR_II_FEMALE_Public.csv");
    fs::write(&female, lines.join("\n") + "\n").unwrap();
    [
        repo()
            .join("data-samples/ansur2/ANSUR_II_MALE_Public.csv")
            .display()
            .to_string(),
        female.display().to_string(),
    ]
}

/// The example: 39 women's `Gender` read `=1+1`, 40 read a formula that runs a
/// command; `count` of them are written (the first `count` of those 79).
fn formula_edits(count: usize) -> Vec<(usize, String)> {
    (1..=79)
        .map(|i| {
            let v = if i <= 39 {
                "=1+1"
            } else {
                "@SUM(1+1)*cmd|' /C calc'!A0"
            };
            (i * 20, v.to_string())
        })
        .take(count)
        .collect()
}

fn release_ansur(d: &Path, pipeline: &Path, inputs: &[String]) -> Run {
    let o = d.join("rel").display().to_string();
    let p = pipeline.display().to_string();
    let mut args = vec![
        "--pipeline",
        &p,
        "--version",
        "1.0.0",
        "--out",
        &o,
        "--private-dir",
    ];
    let private = d.join("private").display().to_string();
    args.push(&private);
    args.push("--input");
    args.extend(inputs.iter().map(String::as_str));
    release(d, &args, None)
}

#[test]
fn formula_category_values_are_quarantined_never_published() {
    let d = tmp();
    // 50 of the 79 cells: 0.82% of 6,068 records, under max_rejected = 1%.
    let inputs = ansur_with_gender(d.path(), &formula_edits(50));
    let r = release_ansur(d.path(), &repo().join("pipelines/ansur2.toml"), &inputs);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rel = d.path().join("rel/1.0.0");
    let m = manifest(&rel);
    assert_eq!(
        m["counts"]["dropped"]["plausibility"]["undeclared-category"], 50,
        "{}",
        m["counts"]
    );
    for f in files(&rel) {
        let bytes = fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("=1+1") && !text.contains("cmd|"),
            "{}",
            f.display()
        );
    }
    let csv = fs::read_to_string(rel.join("measurements.csv")).unwrap();
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.starts_with("Female,") || l.starts_with("Male,")));
    let dp: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(rel.join("datapackage.json")).unwrap()).unwrap();
    assert_eq!(
        dp["resources"][0]["schema"]["fields"][0]["constraints"]["enum"],
        serde_json::json!(["Female", "Male"])
    );
    // The private quarantine names the reason and field, never the value.
    let dropped = fs::read_to_string(d.path().join("private/dropped.csv")).unwrap();
    assert_eq!(dropped.matches("undeclared-category").count(), 50);
    assert!(!dropped.contains("=1+1"));
}

#[test]
fn formula_category_values_over_max_rejected_refuse_the_release() {
    // All 79 (1.30% of the records, over max_rejected = 1%): refused, nothing published.
    let d = tmp();
    let inputs = ansur_with_gender(d.path(), &formula_edits(79));
    let r = release_ansur(d.path(), &repo().join("pipelines/ansur2.toml"), &inputs);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("max_rejected"), "{}", r.stderr);
    assert!(!d.path().join("rel/1.0.0").exists());
}

#[test]
fn declared_spellings_are_released_as_their_mapped_value() {
    let d = tmp();
    let p = edited_pipeline(
        d.path(),
        "ansur2",
        &[(
            "values = [\"Female\", \"Male\"] }",
            "values = [\"Female\", \"Male\"], map = { F = \"Female\", woman = \"Female\" } }",
        )],
    );
    let edits: Vec<(usize, String)> = (1..=30)
        .map(|i| (i * 7, if i % 2 == 0 { "F" } else { "woman" }.to_string()))
        .chain([(500, "female".to_string())])
        .collect();
    let inputs = ansur_with_gender(d.path(), &edits);
    let r = release_ansur(d.path(), &p, &inputs);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rel = d.path().join("rel/1.0.0");
    let m = manifest(&rel);
    // Only the undeclared spelling (case matters) is quarantined.
    assert_eq!(
        m["counts"]["dropped"]["plausibility"]["undeclared-category"],
        1
    );
    let csv = fs::read_to_string(rel.join("measurements.csv")).unwrap();
    let women = csv.lines().filter(|l| l.starts_with("Female,")).count();
    let suppressed = m["counts"]["suppressed"].as_u64().unwrap_or(0) as usize;
    assert!(women + suppressed >= 1985, "{women} women released");
    assert!(csv
        .lines()
        .skip(1)
        .all(|l| l.starts_with("Female,") || l.starts_with("Male,")));
}

/// Golden cases: each shipped pipeline released from its shipped sample with a fixed key,
/// date and SOURCE_DATE_EPOCH must give exactly the checked-in SHA256SUMS and manifest
/// (tests/golden/<pipeline>/). A change to published bytes shows here; when it is intended,
/// `OPENTAPE_UPDATE_GOLDEN=1 cargo test --test tests golden` rewrites the files, and the
/// commit says why.
#[test]
fn golden_releases_are_byte_identical() {
    let d = tmp();
    let update = std::env::var_os("OPENTAPE_UPDATE_GOLDEN").is_some();
    let mut changed = Vec::new();
    for p in [
        "ansur2",
        "freesewing-v3",
        "freesewing-v2",
        "freesewing-sqlite",
    ] {
        let out = d.path().join(p).display().to_string();
        let pipeline = format!("pipelines/{p}.toml");
        let mut args = vec![
            "--pipeline",
            &pipeline,
            "--version",
            "1.0.0",
            "--out",
            &out,
            "--as-of",
            AS_OF,
        ];
        if p == "freesewing-sqlite" {
            args.extend([
                "--store-key-file",
                "data-samples/freesewing-sqlite/encryption.key",
            ]);
        }
        let r = release(d.path(), &args, None);
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        let golden = repo().join("tests/golden").join(p);
        for f in ["SHA256SUMS", "manifest.json"] {
            let got = fs::read_to_string(d.path().join(p).join("1.0.0").join(f)).unwrap();
            if update {
                fs::create_dir_all(&golden).unwrap();
                fs::write(golden.join(f), &got).unwrap();
            } else if fs::read_to_string(golden.join(f)).ok().as_deref() != Some(&got) {
                changed.push(format!("{p}/{f}"));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "published bytes differ from tests/golden for {changed:?}; if intended, rerun with \
         OPENTAPE_UPDATE_GOLDEN=1 and say why in the commit"
    );
}

/// The complete samples (every set holding every measurement that applies to it, as
/// `opentape sample --entry complete` writes them: the shipped samples before measurement
/// patterns), released with every measurement required as the pipelines did then
/// (tests/golden/complete/<pipeline>/<pipeline>.toml), publish exactly the bytes they
/// published before patterns: a complete table is one pattern per category combination.
#[test]
fn complete_samples_publish_the_bytes_they_did_before_patterns() {
    use sha2::{Digest, Sha256};
    let d = tmp();
    let update = std::env::var_os("OPENTAPE_UPDATE_GOLDEN").is_some();
    let mut changed = Vec::new();
    for (p, seed) in [
        ("freesewing-v3", "1"),
        ("freesewing-v2", "2"),
        ("freesewing-sqlite", "1"),
    ] {
        let golden = repo().join("tests/golden/complete").join(p);
        let input = d.path().join(format!("{p}-input"));
        let input_s = input.display().to_string();
        let r = opentape(
            d.path(),
            &[
                "sample", "--format", p, "--people", "2000", "--seed", seed, "--out", &input_s,
                "--as-of", AS_OF, "--entry", "complete",
            ],
        );
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        // The complete entry writes the bytes the shipped samples had.
        for line in fs::read_to_string(golden.join("INPUTS")).unwrap().lines() {
            let (sha, name) = line.split_once("  ").unwrap();
            let got = hex::encode(Sha256::digest(fs::read(input.join(name)).unwrap()));
            assert_eq!(got, sha, "{p}: {name} differs from the complete sample");
        }
        let dir = d.path().join(p);
        fs::create_dir_all(&dir).unwrap();
        let text = fs::read_to_string(golden.join(format!("{p}.toml")))
            .unwrap()
            .replace("\"../schemas/", &format!("\"{}/schemas/", repo().display()));
        let pipeline = dir.join(format!("{p}.toml"));
        fs::write(&pipeline, text).unwrap();
        let out = dir.join("out").display().to_string();
        let pipeline_s = pipeline.display().to_string();
        let mut args = vec![
            "--pipeline",
            &pipeline_s,
            "--version",
            "1.0.0",
            "--out",
            &out,
            "--as-of",
            AS_OF,
            "--input",
        ];
        let db = input.join("backend.sqlite").display().to_string();
        let key = input.join("encryption.key").display().to_string();
        if p == "freesewing-sqlite" {
            args.extend([db.as_str(), "--store-key-file", key.as_str()]);
        } else {
            args.push(&input_s);
        }
        let r = release(d.path(), &args, None);
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        for f in ["SHA256SUMS", "manifest.json"] {
            let got = fs::read_to_string(dir.join("out/1.0.0").join(f)).unwrap();
            if update {
                fs::write(golden.join(f), &got).unwrap();
            } else if fs::read_to_string(golden.join(f)).ok().as_deref() != Some(&got) {
                changed.push(format!("complete/{p}/{f}"));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "published bytes differ from tests/golden/complete for {changed:?}"
    );
}
