//! FreeSewing's real store: the backend's SQLite database, encrypted at rest. The fixture
//! in tests/fixtures/freesewing-store was made by an independent Python script
//! (make_freesewing_store.py: stdlib sqlite3 + cryptography, from STORES.md alone), so
//! these tests check that opentape reads FreeSewing's format, not only its own.

use crate::common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const NOISE_KEY: &str = "store-test-noise-key-0123456789";
const AS_OF: &str = "2026-12-01";

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/freesewing-store")
}

fn expected() -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(fixture().join("expected.json")).unwrap()).unwrap()
}

/// `opentape <args>` from the repository, with the noise key; the store key from `key`
/// (a file) when given.
fn run(args: &[&str], key: Option<&Path>) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opentape"));
    c.current_dir(repo())
        .args(args)
        .env("OPENTAPE_NOISE_KEY", NOISE_KEY)
        .env_remove("BACKEND_ENC_KEY");
    if let Some(k) = key {
        c.arg("--store-key-file").arg(k);
    }
    let out = c.output().unwrap();
    Run::from(out)
}

fn release(d: &Path, db: &Path, key: Option<&Path>) -> Run {
    release_with(d, db, key, &repo().join("pipelines/freesewing-sqlite.toml"))
}

fn release_with(d: &Path, db: &Path, key: Option<&Path>, pipeline: &Path) -> Run {
    let out = d.join("rel").display().to_string();
    let private = d.join("private").display().to_string();
    let db = db.display().to_string();
    let pipeline = pipeline.display().to_string();
    run(
        &[
            "release",
            "--pipeline",
            &pipeline,
            "--version",
            "1.0.0",
            "--as-of",
            AS_OF,
            "--quiet",
            "--out",
            &out,
            "--private-dir",
            &private,
            "--input",
            &db,
        ],
        key,
    )
}

fn key_file() -> PathBuf {
    fixture().join("encryption.key")
}

/// Set ids in the private membership file (the people placed in classes or suppressed).
fn members(private: &Path) -> BTreeSet<u64> {
    let text = fs::read_to_string(private.join("membership.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let rec = l.split(',').next().unwrap().trim_matches('"');
            rec.rsplit('#').next().unwrap().parse().unwrap()
        })
        .collect()
}

/// One release of the fixture, made once for the tests that read it.
fn fixture_release() -> &'static (tempfile::TempDir, Run) {
    static DONE: std::sync::OnceLock<(tempfile::TempDir, Run)> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let d = tmp();
        let r = release(
            d.path(),
            &fixture().join("backend.sqlite"),
            Some(&key_file()),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        (d, r)
    })
}

/// A copy of the fixture database in `d`, changed by `sql`.
fn changed(d: &Path, sql: &str) -> PathBuf {
    let p = d.join("backend.sqlite");
    fs::copy(fixture().join("backend.sqlite"), &p).unwrap();
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(sql).unwrap();
    drop(c);
    p
}

#[test]
fn the_independent_fixture_store_publishes_exactly_the_expected_people() {
    let (d, _) = fixture_release();
    let e = expected();
    let want: BTreeSet<u64> = e["published_sets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(members(&d.path().join("private")), want);
    let rel = d.path().join("rel/1.0.0");
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(rel.join("manifest.json")).unwrap()).unwrap();
    let mut got = serde_json::Map::new();
    for (_, reasons) in m["counts"]["dropped"].as_object().unwrap() {
        for (reason, n) in reasons.as_object().unwrap() {
            got.insert(reason.clone(), n.clone());
        }
    }
    assert_eq!(serde_json::Value::Object(got), e["dropped"]);
    assert_eq!(m["counts"]["eligible_people"], want.len());
    assert_eq!(
        m["counts"]["eligible_owners_with_counted_consent"],
        e["consent_3_owners"]
    );
    assert_eq!(m["parameters"]["filters"]["consent"]["at_least"], 2.0);
    let sheet = fs::read_to_string(rel.join("DATASHEET.md")).unwrap();
    assert!(sheet.contains("`user.consent` >= 2"), "{sheet}");
    assert!(sheet.contains("`user.status` = 1"), "{sheet}");
    // The checker, given both keys: k = 10, linkage against the source, no key anywhere.
    let private = d.path().join("private").display().to_string();
    let db = fixture().join("backend.sqlite").display().to_string();
    let rel_s = rel.display().to_string();
    let v = run(
        &[
            "verify",
            &rel_s,
            "--min-k",
            "10",
            "--json",
            "--source",
            &db,
            "--pipeline",
            "pipelines/freesewing-sqlite.toml",
            "--private-dir",
            &private,
            "--as-of",
            AS_OF,
        ],
        Some(&key_file()),
    );
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let report = v.json();
    let secrets = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "secrets")
        .unwrap();
    assert!(
        secrets["detail"].as_str().unwrap().contains("key forms"),
        "{secrets}"
    );
}

#[test]
fn consent_2_is_published_and_consent_1_restricted_and_test_accounts_are_not() {
    let (d, _) = fixture_release();
    let e = expected();
    let placed = members(&d.path().join("private"));
    // The first eligible owner has consent 2; 3 is counted and kept.
    assert!(placed.contains(&e["published_sets"][0].as_u64().unwrap()));
    for reason in [
        "no-consent",
        "not-active",
        "test-account",
        "refused-role",
        "curated-set-copy",
        "other-owners-copy",
    ] {
        for id in e["dropped_sets"][reason].as_array().unwrap() {
            assert!(
                !placed.contains(&id.as_u64().unwrap()),
                "{reason}: set {id} placed in a class"
            );
        }
    }
    // Where each went, by reason, in the private quarantine (no values).
    let dropped = fs::read_to_string(d.path().join("private/dropped.csv")).unwrap();
    for (reason, ids) in e["dropped_sets"].as_object().unwrap() {
        for id in ids.as_array().unwrap() {
            let line = dropped
                .lines()
                .find(|l| l.contains(&format!("table Set, id {id}\"")))
                .unwrap_or_else(|| panic!("set {id} not in dropped.csv"));
            assert!(line.ends_with(&format!(",{reason}")), "{line}");
        }
    }
}

#[test]
fn no_key_plaintext_or_identifier_reaches_any_output() {
    let (d, r) = fixture_release();
    let key = fs::read_to_string(key_file()).unwrap().trim().to_string();
    // The key, e-mails, set notes, bios, usernames, UUIDs.
    let planted = [
        key.as_str(),
        "@example.org",
        "measured at home",
        "I sew",
        "user1",
        "10000000-0000-4000",
    ];
    // A test account's address: test_ and 16 hex digits.
    let test_address = |t: &str| {
        t.match_indices("test_").any(|(i, _)| {
            t[i + 5..]
                .chars()
                .take(16)
                .filter(char::is_ascii_hexdigit)
                .count()
                == 16
        })
    };
    let mut files = Vec::new();
    for dir in [d.path().join("rel"), d.path().join("private")] {
        for e in walk(&dir) {
            files.push(e);
        }
    }
    assert!(files.len() > 5);
    for f in files {
        let text = String::from_utf8_lossy(&fs::read(&f).unwrap()).into_owned();
        for p in planted {
            assert!(!text.contains(p), "{} holds {p:?}", f.display());
        }
        assert!(!test_address(&text), "{} holds a test address", f.display());
    }
    for p in planted {
        assert!(!r.stdout.contains(p) && !r.stderr.contains(p));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Exit 2, a message holding `want`, nothing published.
fn refused_with(d: &Path, r: &Run, want: &str) {
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(want), "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!d.join("rel/1.0.0").exists());
}

#[test]
fn a_wrong_key_and_no_key_are_clear_errors() {
    let d = tmp();
    let wrong = d.path().join("wrong.key");
    fs::write(&wrong, "not-the-backend-key\n").unwrap();
    let r = release(d.path(), &fixture().join("backend.sqlite"), Some(&wrong));
    refused_with(
        d.path(),
        &r,
        "the key does not decrypt this database (is it BACKEND_ENC_KEY?)",
    );
    let r = release(d.path(), &fixture().join("backend.sqlite"), None);
    refused_with(d.path(), &r, "BACKEND_ENC_KEY");
    assert!(r.stderr.contains("backend.sqlite"), "{}", r.stderr);
}

#[test]
fn files_that_are_not_a_backend_database_are_clear_errors() {
    let d = tmp();
    let text = d.path().join("notes.sqlite");
    fs::write(&text, "this is not a database\n".repeat(200)).unwrap();
    let r = release(d.path(), &text, Some(&key_file()));
    refused_with(d.path(), &r, "notes.sqlite");
    assert!(r.stderr.contains("not a database"), "{}", r.stderr);

    let bytes = fs::read(fixture().join("backend.sqlite")).unwrap();
    let cut = d.path().join("cut.sqlite");
    fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let r = release(d.path(), &cut, Some(&key_file()));
    refused_with(d.path(), &r, "cut.sqlite");

    let e = tmp();
    let no_sets = changed(e.path(), "DROP TABLE \"Set\";");
    let r = release(e.path(), &no_sets, Some(&key_file()));
    refused_with(e.path(), &r, "table Set is missing");

    let f = tmp();
    let new_col = changed(f.path(), "ALTER TABLE \"User\" ADD COLUMN \"phone\" TEXT;");
    let r = release(f.path(), &new_col, Some(&key_file()));
    refused_with(f.path(), &r, "field `phone` has no role");
    assert!(r.stderr.contains("table User"), "{}", r.stderr);
    assert!(r.stderr.contains("[roles.user]"), "{}", r.stderr);

    let g = tmp();
    let no_seen = changed(g.path(), "ALTER TABLE \"User\" DROP COLUMN \"lastSeen\";");
    let r = release(g.path(), &no_seen, Some(&key_file()));
    refused_with(g.path(), &r, "table User has no column lastSeen");
}

#[test]
fn a_locked_database_is_a_clear_error() {
    let d = tmp();
    let p = changed(d.path(), "");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch(
        "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE \"User\" SET control = 3;",
    )
    .unwrap();
    let r = release(d.path(), &p, Some(&key_file()));
    refused_with(d.path(), &r, "backend.sqlite");
    assert!(
        r.stderr.contains("locked") || r.stderr.contains("busy"),
        "{}",
        r.stderr
    );
    drop(c);
}

#[test]
fn garbage_and_oversized_measies_are_quarantined_by_row() {
    let d = tmp();
    let big = "x".repeat(100 << 20);
    let p = changed(
        d.path(),
        &format!(
            "UPDATE \"Set\" SET measies = '{{\"iv\":\"00112233445566778899aabbccddeeff\",\"ct\":\"zz\"}}' WHERE id = 101;\
             UPDATE \"Set\" SET measies = '{{\"chest\":' || '{big}' || '}}' WHERE id = 102;"
        ),
    );
    // Four of 67 records quarantined: over the shipped 5%, so this run allows 10%.
    let pl = edited_pipeline(
        d.path(),
        "freesewing-sqlite",
        &[("max_rejected = 0.05", "max_rejected = 0.10")],
    );
    let r = release_with(d.path(), &p, Some(&key_file()), &pl);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dropped = fs::read_to_string(d.path().join("private/dropped.csv")).unwrap();
    let line = |id: u32| {
        dropped
            .lines()
            .find(|l| l.contains(&format!("table Set, id {id}\"")))
            .unwrap_or_else(|| panic!("{dropped}"))
            .to_string()
    };
    assert!(line(101).ends_with(",undecryptable"), "{}", line(101));
    assert!(line(102).ends_with(",too-large"), "{}", line(102));
    assert!(!r.stderr.contains("xxxx"));
}

#[test]
fn the_shipped_sample_database_releases_with_its_demo_key() {
    let d = tmp();
    let sample = repo().join("data-samples/freesewing-sqlite");
    let r = release(
        d.path(),
        &sample.join("backend.sqlite"),
        Some(&sample.join("encryption.key")),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(d.path().join("rel/1.0.0/manifest.json")).unwrap(),
    )
    .unwrap();
    let dropped = &m["counts"]["dropped"];
    for (stage, reason) in [
        ("consent", "no-consent"),
        ("account", "not-active"),
        ("retention", "no-last-seen"),
        ("retention", "stale-owner"),
        ("consent", "no-user-record"),
        ("read", "undecryptable"),
    ] {
        assert!(
            dropped[stage][reason].as_u64().unwrap_or(0) > 0,
            "{stage}/{reason}: {dropped}"
        );
    }
}

#[test]
fn the_sample_database_is_what_opentape_sample_writes() {
    let d = tmp();
    let out = d.path().display().to_string();
    let r = run(
        &[
            "sample",
            "--format",
            "freesewing-sqlite",
            "--people",
            "2000",
            "--seed",
            "1",
            "--out",
            &out,
            "--as-of",
            crate::common::AS_OF,
        ],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let shipped = repo().join("data-samples/freesewing-sqlite");
    for f in ["backend.sqlite", "encryption.key"] {
        assert!(
            fs::read(d.path().join(f)).unwrap() == fs::read(shipped.join(f)).unwrap(),
            "{f} differs from `opentape sample --format freesewing-sqlite --people 2000 --seed 1 --as-of 2026-11-29`"
        );
    }
}
