//! The public report holds only aggregates over at least k people, even with outliers.

use crate::common::*;
use std::fs;
use std::process::Command;

/// Every number in `report.json` that counts people is at least k; hidden bins are null.
fn check_aggregates(v: &serde_json::Value, k: u64, path: &str) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(n) = m.get("n").and_then(|n| n.as_u64()) {
                assert!(
                    n >= k || path.ends_with("counts]"),
                    "{path}: computed from {n} < k people"
                );
            }
            for (key, x) in m {
                if key == "original" || key == "released" {
                    if let Some(bins) = x.as_array() {
                        for b in bins {
                            assert!(
                                b.is_null() || b.as_u64().unwrap() >= k,
                                "{path}.{key}: a bin of {b} < k people"
                            );
                        }
                    }
                }
                check_aggregates(x, k, &format!("{path}.{key}"));
            }
        }
        serde_json::Value::Array(a) => {
            for x in a {
                check_aggregates(x, k, path);
            }
        }
        _ => {}
    }
}

#[test]
fn report_shows_only_aggregates_of_k_people_even_with_outliers() {
    let d = tmp();
    let input = d.path().join("in");
    fs::create_dir_all(&input).unwrap();
    let src = repo().join("data-samples/freesewing-v3");
    fs::copy(src.join("users.ndjson"), input.join("users.ndjson")).unwrap();
    let mut sets = fs::read_to_string(src.join("sets.ndjson")).unwrap();
    // Three outliers with distinctive, plausible values, owned by eligible owners.
    let users = fs::read_to_string(src.join("users.ndjson")).unwrap();
    let owners: Vec<u64> = users
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|u| u["consent"] == 3 && u["lastSeen"].as_str().unwrap() > "2026-06-01")
        .map(|u| u["id"].as_u64().unwrap())
        .take(3)
        .collect();
    let template = sets
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|s| s["measies"].is_object() && s["measies"].get("underbust").is_none())
        .unwrap();
    for (i, o) in owners.iter().enumerate() {
        let mut s = template.clone();
        s["id"] = (900_000 + i).into();
        s["userId"] = (*o).into();
        s["measies"]["chest"] = (1777 + i as u64).into();
        s["measies"]["waist"] = (1633 + i as u64).into();
        sets.push_str(&format!("{s}\n"));
    }
    fs::write(input.join("sets.ndjson"), sets).unwrap();
    let out = d.path().join("rel");
    let r = release_cmd(
        "pipelines/freesewing-v3.toml",
        "1.0.0",
        &out,
        "report-test-key-0123456789",
    )
    .arg("--input")
    .arg(&input)
    .output()
    .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v = out.join("1.0.0");
    let json_text = fs::read_to_string(v.join("report.json")).unwrap();
    let html = fs::read_to_string(v.join("report.html")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json_text).unwrap();
    let k = report["k"].as_u64().unwrap();
    assert_eq!(k, 10);
    check_aggregates(&report, k, "report");
    // The linkage figures of the release's own check are reported, within 1/k.
    let link = &report["risk"]["linkage"];
    assert!(link["nearest_neighbour_share"].as_f64().unwrap() <= 0.1);
    assert!(link["min_owners_per_class"].as_u64().unwrap() >= k);
    // The unweighted hit rate too (a share: at least the weighted figure, at most 1), and
    // in the HTML as a percentage.
    let hit = link["nearest_neighbour_hit_rate"].as_f64().unwrap();
    assert!(hit >= link["nearest_neighbour_share"].as_f64().unwrap() && hit <= 1.0);
    assert!(html.contains(&format!("<b>{:.1}%</b> of people (hit rate)", hit * 100.0)));
    // What the checks show and do not show, in words; per-measurement errors including
    // the quartiles.
    assert!(html.contains("What these checks show, and what they do not"));
    let m0 = &report["strata"][0]["measurements"][0];
    for key in ["mean_error_pct", "std_error_pct"] {
        assert!(m0[key].is_number(), "{key}: {m0}");
    }
    for key in ["p5", "p25", "p50", "p75", "p95"] {
        assert!(m0["released"][key].is_number(), "{key}: {m0}");
        // The eligible people's percentiles are exact figures of them: not published.
        assert!(m0["original"][key].is_null(), "{key}: {m0}");
    }
    assert!(m0["percentile_error_sd"].is_null(), "{m0}");
    assert!(m0["mean_abs_change"].is_null(), "{m0}");
    // Some bins are hidden: the outliers' tails are not shown.
    assert!(json_text.contains("null"));
    // The outliers' own values appear nowhere in the public report: no number in it is
    // one of them (digits inside a longer number, as in 0.75089163, are another number).
    let numbers = |text: &str| -> Vec<f64> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter_map(|w| w.parse::<f64>().ok())
            .collect()
    };
    let (in_json, in_html) = (numbers(&json_text), numbers(&html));
    for needle in [1777.0, 1778.0, 1779.0, 1633.0, 1634.0, 1635.0] {
        assert!(
            !in_json.contains(&needle),
            "report.json shows an outlier's value {needle}"
        );
        assert!(
            !in_html.contains(&needle),
            "report.html shows an outlier's value {needle}"
        );
    }
    // The HTML shows every section, from the same figures as the JSON.
    for id in [
        "id=\"counts\"",
        "id=\"classes\"",
        "id=\"risk\"",
        "class=\"stratum\"",
        "<svg",
        "Correlation drift",
    ] {
        assert!(html.contains(id), "{id}");
    }
    assert!(!html.contains("<script"), "no scripts");
    for c in report["counts"].as_array().unwrap() {
        assert!(
            html.contains(&format!(">{}</text>", c["records"])),
            "count {} not in the HTML",
            c["records"]
        );
    }
    let first = &report["strata"][0]["measurements"][0];
    assert!(html.contains(&format!(
        "<td>{}</td><td>{}</td>",
        first["original"]["mean"], first["released"]["mean"]
    )));
}

#[test]
fn report_command_rebuilds_the_same_page_and_json_output_stays_clean() {
    let d = tmp();
    let out = d.path().join("rel");
    let r = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(repo())
        .args([
            "release",
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--as-of",
            AS_OF,
            "--json",
            "--out",
        ])
        .arg(&out)
        .env("OPENTAPE_NOISE_KEY", "report-test-key-0123456789")
        .output()
        .unwrap();
    assert!(r.status.success());
    // stdout is JSON only: progress and notes go to stderr.
    let outcome: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let page = d.path().join("page.html");
    let rel = out.join("1.0.0");
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(rel.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(outcome["rows"], manifest["counts"]["released_rows"]);
    assert!(outcome["rows"].as_u64().unwrap() > 1000);
    let run = opentape(
        &repo(),
        &[
            "report",
            &rel.display().to_string(),
            "--out",
            &page.display().to_string(),
            "--quiet",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::read(&page).unwrap(),
        fs::read(rel.join("report.html")).unwrap()
    );
}

fn release_with_key(out: &std::path::Path, key: &str) {
    let r = release_cmd("pipelines/freesewing-v3.toml", "1.0.0", out, key)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// `opentape report --source`: run with the release's key from a source, recomputing.
fn report_from_source(
    rel: &std::path::Path,
    source: &str,
    key: &str,
    json: &std::path::Path,
) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(repo())
        .arg("report")
        .arg(rel)
        .args([
            "--source",
            source,
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--quiet",
            "--json",
        ])
        .arg(json)
        .arg("--out")
        .arg(json.with_extension("html"))
        .env("OPENTAPE_NOISE_KEY", key)
        .output()
        .unwrap();
    Run::from(out)
}

#[test]
fn report_recomputed_from_the_source_matches_and_refuses_another_table() {
    let d = tmp();
    let out = d.path().join("rel");
    let key = "report-source-key-0123456789";
    release_with_key(&out, key);
    let rel = out.join("1.0.0");
    let published = fs::read(rel.join("report.json")).unwrap();
    // Spoil the stored figures: the recomputation must not read them.
    let mut spoiled: serde_json::Value = serde_json::from_slice(&published).unwrap();
    spoiled["k"] = 99.into();
    spoiled["counts"] = serde_json::json!([]);
    let copy = d.path().join("copy");
    fs::create_dir_all(&copy).unwrap();
    for f in fs::read_dir(&rel).unwrap() {
        let f = f.unwrap().path();
        fs::copy(&f, copy.join(f.file_name().unwrap())).unwrap();
    }
    fs::write(copy.join("report.json"), spoiled.to_string()).unwrap();

    let json = d.path().join("again.json");
    let r = report_from_source(&copy, "data-samples/freesewing-v3", key, &json);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("differ"), "{}", r.stderr);
    assert_eq!(fs::read(&json).unwrap(), published, "recomputed figures");
    assert_eq!(
        fs::read(json.with_extension("html")).unwrap(),
        fs::read(rel.join("report.html")).unwrap()
    );

    // Another key, or another export, makes another table: refused, nothing written.
    let other = d.path().join("other.json");
    let r = report_from_source(
        &rel,
        "data-samples/freesewing-v3",
        "another-key-0123456789ab",
        &other,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("differs from the one published"),
        "{}",
        r.stderr
    );
    assert!(!other.exists());
    let fewer = d.path().join("fewer");
    fs::create_dir_all(&fewer).unwrap();
    let src = repo().join("data-samples/freesewing-v3");
    fs::copy(src.join("users.ndjson"), fewer.join("users.ndjson")).unwrap();
    let sets = fs::read_to_string(src.join("sets.ndjson")).unwrap();
    let kept: String = sets.lines().skip(50).map(|l| format!("{l}\n")).collect();
    fs::write(fewer.join("sets.ndjson"), kept).unwrap();
    let r = report_from_source(&rel, &fewer.display().to_string(), key, &other);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!other.exists());
    // Without a key there is nothing to recompute with.
    let r = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(repo())
        .arg("report")
        .arg(&rel)
        .args([
            "--source",
            "data-samples/freesewing-v3",
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--json",
        ])
        .arg(&other)
        .env_remove("OPENTAPE_NOISE_KEY")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("noise key"));
}

/// Runs `args` under a pseudo-terminal (util-linux `script`), returning what it printed.
fn on_terminal(args: &str) -> Option<String> {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_opentape"));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(repo())
        .env("OPENTAPE_PROGRESS_AFTER_MS", "0")
        .env("OPENTAPE_NOISE_KEY", "progress-test-key-0123456789")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_shows_stages_and_bars_on_a_terminal_unless_quiet() {
    let d = tmp();
    let out = d.path().join("rel").display().to_string();
    let args = format!(
        "release --pipeline pipelines/ansur2.toml --version 1.0.0 --as-of {AS_OF} --out {out}"
    );
    let shown = on_terminal(&args)
        .expect("prerequisite missing: util-linux `script` (runs the command on a terminal)");
    assert!(shown.contains("reading the export"), "{shown}");
    assert!(shown.contains("published"), "{shown}");
    let quiet = on_terminal(&format!(
        // A re-cut: a patch would need the series ledger of a --private-dir.
        "{} --version 2.0.0 --quiet",
        args.replace(" --version 1.0.0", "")
    ))
    .unwrap();
    assert!(!quiet.contains("reading the export"), "{quiet}");
    assert!(quiet.contains("published"), "{quiet}");
    // Not a terminal: nothing but the result, even with the wait set to zero.
    let r = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(repo())
        .args(["verify", "--all", &format!("{}/rel", d.path().display())])
        .env("OPENTAPE_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    assert!(r.status.success());
    assert!(
        r.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// The report's first screen, on the real ANSUR II table: what was released, each
/// guarantee's verdict and the worst errors come before any detail; the correlation
/// picture stays light (one rectangle per cell made the page 1.2 MB).
#[test]
fn the_report_opens_with_its_summary_and_stays_light() {
    let d = tmp();
    let out = d.path().join("rel");
    let r = release_cmd("pipelines/ansur2.toml", "1.0.0", &out, KEY)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let rel = out.join("1.0.0");
    let html = fs::read_to_string(rel.join("report.html")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(rel.join("report.json")).unwrap()).unwrap();
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
    // The summary first, then the details it links to.
    assert!(at("id=\"summary\"") < at("id=\"counts\""));
    assert!(at("id=\"summary\"") < at("id=\"risk\""));
    for anchor in ["#risk", "#series", "#counts", "#classes", "#utility"] {
        assert!(html.contains(&format!("href=\"{anchor}\"")), "{anchor}");
    }
    assert!(html.contains("Released <b>6,068</b> rows of <b>6,068</b> eligible people"));
    assert_eq!(report["people"]["released"], 6068);
    assert_eq!(html.matches("class=\"ok\">holds").count(), 4);
    assert!(!html.contains("FAILS"));
    assert!(html.contains("worst error of the released rows"));
    assert!(html.len() < 150_000, "report.html is {} bytes", html.len());
}
