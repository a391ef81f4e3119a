//! The public report holds only aggregates over at least k people, even with outliers.

mod common;
use common::*;
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
    let r = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(repo())
        .args([
            "release",
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--as-of",
            "2026-11-29",
            "--input",
        ])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .env("OPENTAPE_NOISE_KEY", "report-test-key-0123456789")
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
    // Some bins are hidden: the outliers' tails are not shown.
    assert!(json_text.contains("null"));
    // The outliers' own values appear nowhere in the public report.
    for needle in ["1777", "1778", "1779", "1633", "1634", "1635"] {
        assert!(
            !json_text.contains(needle),
            "report.json shows an outlier's value {needle}"
        );
        assert!(
            !html.contains(needle),
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
            "2026-11-29",
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
    assert_eq!(outcome["rows"], 1237);
    let page = d.path().join("page.html");
    let rel = out.join("1.0.0");
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
