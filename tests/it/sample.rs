//! `opentape sample`: deterministic, shaped like real exports, readable by the pipelines.

use crate::common::*;
use std::fs;

fn sample(dir: &std::path::Path, format: &str, seed: &str, out: &str) -> Run {
    opentape(
        dir,
        &[
            "sample", "--format", format, "--people", "600", "--seed", seed, "--out", out,
            "--as-of", AS_OF,
        ],
    )
}

#[test]
fn same_seed_gives_byte_identical_files() {
    let d = tmp();
    for format in ["freesewing-v3", "freesewing-v2"] {
        assert_eq!(sample(d.path(), format, "5", "a").code, 0);
        assert_eq!(sample(d.path(), format, "5", "b").code, 0);
        assert_eq!(sample(d.path(), format, "6", "c").code, 0);
        let files: Vec<_> = fs::read_dir(d.path().join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files.len(), 2);
        for f in &files {
            let a = fs::read(d.path().join("a").join(f)).unwrap();
            assert_eq!(
                a,
                fs::read(d.path().join("b").join(f)).unwrap(),
                "{format} {f:?}"
            );
            assert_ne!(
                a,
                fs::read(d.path().join("c").join(f)).unwrap(),
                "{format} {f:?}"
            );
        }
        fs::remove_dir_all(d.path().join("a")).unwrap();
        fs::remove_dir_all(d.path().join("b")).unwrap();
        fs::remove_dir_all(d.path().join("c")).unwrap();
    }
}

#[test]
fn samples_look_like_real_exports_and_pass_the_pipelines() {
    let d = tmp();
    assert_eq!(sample(d.path(), "freesewing-v3", "9", "v3").code, 0);
    let users = fs::read_to_string(d.path().join("v3/users.ndjson")).unwrap();
    let sets = fs::read_to_string(d.path().join("v3/sets.ndjson")).unwrap();
    // Identifiers that the stripping must remove are there to be stripped.
    for needle in [
        "@example.",
        "\"username\"",
        "\"bio\"",
        "\"ehash\"",
        "\"password\"",
        "@freesewing.dev",
    ] {
        assert!(users.contains(needle), "{needle}");
    }
    assert!(sets.contains("https://images.example-sewing.test/"));
    assert!(
        sets.contains("\"notes\"") && sets.contains("\\\"chest\\\""),
        "measies as a JSON string"
    );
    assert!(
        sets.lines()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).is_err()),
        "a broken line"
    );

    let v3 = d.path().join("v3").display().to_string();
    let r = opentape(
        &repo(),
        &[
            "inspect",
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--input",
            &v3,
            "--as-of",
            AS_OF,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["records_read"], 601); // 600 people + the broken line
    assert_eq!(dropped(&s, "read", "malformed-json"), 1);
    assert!(
        s["eligible_owners"].as_u64().unwrap() < s["eligible_people"].as_u64().unwrap(),
        "owners with several people"
    );

    assert_eq!(sample(d.path(), "freesewing-v2", "9", "v2").code, 0);
    let people = fs::read_to_string(d.path().join("v2/people.json")).unwrap();
    assert!(people.contains("chestCircumference"), "legacy v2 names");
    let v2 = d.path().join("v2").display().to_string();
    let r = opentape(
        &repo(),
        &[
            "inspect",
            "--pipeline",
            "pipelines/freesewing-v2.toml",
            "--input",
            &v2,
            "--as-of",
            AS_OF,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["records_read"], 600);
}
