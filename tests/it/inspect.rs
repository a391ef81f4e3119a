//! `opentape inspect` on the shipped samples and on hand-made exports: readers, roles and
//! filters, end to end through the real binary.

use crate::common::*;
use std::fs;

fn inspect(args: &[&str]) -> Run {
    let mut a = vec!["inspect"];
    a.extend_from_slice(args);
    opentape(&repo(), &a)
}

#[test]
fn ansur2_reads_6068_people_with_gender_as_category() {
    let r = inspect(&["--pipeline", "pipelines/ansur2.toml", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["records_read"], 6068);
    assert_eq!(s["eligible_people"], 6068);
    assert_eq!(s["categories"]["Gender"]["Male"]["people"], 4082);
    assert_eq!(s["categories"]["Gender"]["Female"]["people"], 1986);
    assert_eq!(s["measurements"], 93);
    // 93 measurements to the millimetre: everyone is unique before anonymization.
    assert_eq!(s["uniqueness"][0]["unique_people"], 6068);
    let u50 = s["uniqueness"][3]["unique_people"].as_u64().unwrap();
    assert!(u50 > 0 && u50 <= 6068);
}

#[test]
fn freesewing_samples_give_sensible_counts() {
    for p in ["freesewing-v3", "freesewing-v2"] {
        let r = inspect(&[
            "--pipeline",
            &format!("pipelines/{p}.toml"),
            "--as-of",
            AS_OF,
            "--json",
        ]);
        assert_eq!(r.code, 0, "{p}: {}", r.stderr);
        let s = r.json();
        let read = s["records_read"].as_u64().unwrap();
        assert!(read >= 2000, "{p}: {read}");
        for (stage, reason) in [
            ("consent", "no-consent"),
            ("retention", "stale-owner"),
            ("dedupe", "duplicate"),
        ] {
            assert!(dropped(&s, stage, reason) > 0, "{p}: no {stage}/{reason}");
        }
        let eligible = s["eligible_people"].as_u64().unwrap();
        assert!(
            eligible > read / 2 && eligible < read,
            "{p}: {eligible} of {read}"
        );
        let total: u64 = dropped(&s, "read", "malformed-json")
            + s["dropped"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|m| m.as_object().unwrap().values())
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>();
        assert!(total > 0);
        let cats = &s["categories"]["has_breasts"];
        assert!(cats["true"]["people"].as_u64().unwrap() > 100, "{p}");
        assert!(cats["false"]["people"].as_u64().unwrap() > 100, "{p}");
        assert!(s["rejected_share"].as_f64().unwrap() <= s["max_rejected"].as_f64().unwrap());
    }
}

#[test]
fn retention_follows_as_of() {
    let p = "pipelines/freesewing-v3.toml";
    let now = inspect(&["--pipeline", p, "--as-of", AS_OF, "--json"]).json();
    let later = inspect(&["--pipeline", p, "--as-of", "2027-11-29", "--json"]).json();
    assert!(
        dropped(&later, "retention", "stale-owner") > dropped(&now, "retention", "stale-owner")
    );
    let bad = inspect(&["--pipeline", p, "--as-of", "29/11/2026"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("--as-of"), "{}", bad.stderr);
}

/// A small v3 export written by hand; returns (dir, sets path, users path).
fn v3_export(
    sets: &[serde_json::Value],
    users: &[serde_json::Value],
) -> (tempfile::TempDir, String) {
    let dir = tmp();
    let lines =
        |v: &[serde_json::Value]| v.iter().map(|x| x.to_string() + "\n").collect::<String>();
    fs::write(dir.path().join("sets.ndjson"), lines(sets)).unwrap();
    fs::write(dir.path().join("users.ndjson"), lines(users)).unwrap();
    let d = dir.path().display().to_string();
    (dir, d)
}

fn measies() -> serde_json::Value {
    serde_json::json!({
        "ankle": 240, "biceps": 300, "bustPointToUnderbust": 70, "chest": 960, "crossSeam": 780, "crossSeamFront": 390,
        "crotchDepth": 290, "heel": 330, "head": 570, "hips": 880, "hpsToBust": 280,
        "hpsToWaistBack": 420, "inseam": 770, "knee": 390, "neck": 360, "seat": 1010,
        "seatBack": 530, "shoulderSlope": 13, "shoulderToElbow": 350, "shoulderToShoulder": 430,
        "shoulderToWrist": 600, "upperLeg": 590, "waist": 780, "waistBack": 390,
        "waistToArmpit": 190, "waistToFloor": 1100, "waistToHips": 128, "waistToKnee": 620,
        "waistToSeat": 260, "waistToUpperLeg": 310, "wrist": 170
    })
}

fn user(id: u64) -> serde_json::Value {
    serde_json::json!({"id": id, "email": format!("someone{id}@example.com"), "username": "someone",
        "consent": 2, "status": 1, "lastSeen": "2026-10-01T10:00:00.000Z"})
}

/// A body other than [`measies`]'s.
fn other_body() -> serde_json::Value {
    let mut m = measies();
    m["chest"] = serde_json::json!(m["chest"].as_f64().unwrap() + 20.0);
    m
}

fn set(id: u64, owner: u64, measies: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"id": id, "userId": owner, "name": "Me", "notes": "private note",
        "measies": measies})
}

#[test]
fn unknown_field_stops_with_exit_2_naming_field_and_file() {
    let mut u = user(1);
    u["phone"] = serde_json::json!("+31 6 5555 0000");
    let (_d, dir) = v3_export(&[set(10, 1, measies())], &[u]);
    let r = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--input",
        &dir,
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`phone`"), "{}", r.stderr);
    assert!(r.stderr.contains("users.ndjson"), "{}", r.stderr);
    assert!(r.stderr.contains("line 1"), "{}", r.stderr);
    // The message names the field, never its value.
    assert!(!r.stderr.contains("5555"), "{}", r.stderr);
}

#[test]
fn unknown_nested_and_measurement_fields_are_denied() {
    let mut m = measies();
    m["favouriteColour"] = serde_json::json!(3);
    let (_d, dir) = v3_export(&[set(10, 1, m)], &[user(1)]);
    let r = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--input",
        &dir,
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("measies.favouriteColour"), "{}", r.stderr);

    let dir = tmp();
    let people = serde_json::json!([{"handle": "abcde", "user": "owner", "breasts": false, "measurements": {"chestCircumference": 960}}]);
    let users = serde_json::json!([{"handle": "owner", "consent": {"openData": true, "profile": true, "measurements": true, "newThing": 1},
        "time": {"login": "2026-10-01"}}]);
    fs::write(dir.path().join("people.json"), people.to_string()).unwrap();
    fs::write(dir.path().join("users.json"), users.to_string()).unwrap();
    let d = dir.path().display().to_string();
    let r = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v2.toml",
        "--input",
        &d,
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("consent.newThing"), "{}", r.stderr);
}

#[test]
fn malformed_records_are_quarantined_with_reasons_not_fatal() {
    let mut string = measies();
    string["chest"] = serde_json::json!("95cm");
    let mut negative = measies();
    negative["chest"] = serde_json::json!(-950);
    let mut inches = measies();
    inches["chest"] = serde_json::json!(38);
    let mut missing = measies();
    missing.as_object_mut().unwrap().remove("waist");
    let encrypted = serde_json::json!({"iv": "00ff", "ct": "abcdef"});
    let sets = [
        set(10, 1, measies()),
        set(11, 1, string),
        set(12, 1, negative),
        set(13, 1, inches),
        set(14, 1, missing),
        set(15, 1, encrypted),
        // measies as a JSON string is fine (another body: an exact copy of owner 1's
        // set would be a clone, not a second person)
        set(16, 2, serde_json::Value::String(other_body().to_string())),
        // A set never filled in.
        set(17, 3, serde_json::json!({})),
    ];
    let (d, dir) = v3_export(&sets, &[user(1), user(2), user(3)]);
    // A truncated line in the middle.
    let p = d.path().join("sets.ndjson");
    let mut text = fs::read_to_string(&p).unwrap();
    text.insert_str(0, "{\"id\": 9, \"userId\": 1, \"measies\": {\"chest\n");
    fs::write(&p, text).unwrap();

    let r = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--input",
        &dir,
        "--as-of",
        AS_OF,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["records_read"], 9);
    assert_eq!(dropped(&s, "read", "malformed-json"), 1);
    assert_eq!(dropped(&s, "read", "encrypted"), 1);
    assert_eq!(dropped(&s, "plausibility", "non-numeric"), 1);
    assert_eq!(dropped(&s, "plausibility", "negative"), 1);
    assert_eq!(dropped(&s, "plausibility", "out-of-range"), 1);
    // A missing measurement is not a fault: the set without a waist is owner 1's body
    // again (its values a subset of set 10's), counted once.
    assert_eq!(dropped(&s, "plausibility", "missing-required"), 0);
    assert_eq!(dropped(&s, "dedupe", "duplicate"), 1);
    assert_eq!(dropped(&s, "plausibility", "too-few-measurements"), 1);
    assert_eq!(s["eligible_people"], 2);
    assert_eq!(s["eligible_owners"], 2);
}

#[test]
fn consent_retention_and_dedupe_filters() {
    // Consent 1 is account data only; 2 adds "share anonymized measurements as open data".
    let mut no_consent = user(2);
    no_consent["consent"] = serde_json::json!(1);
    let mut stale = user(3);
    stale["lastSeen"] = serde_json::json!("2024-01-01T00:00:00Z");
    let mut near = measies();
    near["chest"] = serde_json::json!(963); // within the 5 mm tolerance: same body
    let mut other = measies();
    other["chest"] = serde_json::json!(1000);
    let sets = [
        set(10, 1, measies()),
        set(11, 1, near),
        set(12, 1, other),
        set(13, 2, measies()),
        set(14, 3, measies()),
        set(15, 4, measies()), // owner 4 has no user record
    ];
    let (_d, dir) = v3_export(&sets, &[user(1), no_consent, stale]);
    let s = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--input",
        &dir,
        "--as-of",
        AS_OF,
        "--json",
    ])
    .json();
    assert_eq!(dropped(&s, "dedupe", "duplicate"), 1);
    assert_eq!(dropped(&s, "consent", "no-consent"), 1);
    assert_eq!(dropped(&s, "consent", "no-user-record"), 1);
    assert_eq!(dropped(&s, "retention", "stale-owner"), 1);
    assert_eq!(s["eligible_people"], 2);
    assert_eq!(s["eligible_owners"], 1);
    assert_eq!(s["categories"]["has_breasts"]["false"]["people"], 2);
}

#[test]
fn v3_account_folder_and_v2_login_payloads() {
    let dir = tmp();
    let mut acc = user(7);
    acc["sets"] = serde_json::json!([{"id": 1, "name": "Me", "measies": measies()},
        {"id": 2, "name": "Partner", "measies": {"iv": "1", "ct": "2"}}]);
    fs::write(
        dir.path().join("account-7.json"),
        serde_json::to_string_pretty(&acc).unwrap(),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    let s = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v3.toml",
        "--input",
        &d,
        "--as-of",
        AS_OF,
        "--json",
    ])
    .json();
    assert_eq!(s["records_read"], 2);
    assert_eq!(s["eligible_people"], 1);
    assert_eq!(dropped(&s, "read", "encrypted"), 1);

    // v2 login payload with legacy names.
    let mut legacy = serde_json::Map::new();
    for (k, v) in measies().as_object().unwrap() {
        let k = match k.as_str() {
            "chest" => "chestCircumference",
            "waist" => "naturalWaist",
            "crotchDepth" => "seatDepth",
            "waistToArmpit" => "waistToArmhole",
            k => k,
        };
        legacy.insert(k.to_string(), v.clone());
    }
    let payload = serde_json::json!({
        "account": {"handle": "owner", "email": "a@example.com", "status": "active", "consent": {"openData": true, "profile": true, "measurements": true},
                    "time": {"login": "2026-11-01T00:00:00Z", "created": "2020-01-01"}, "social": {"mastodon": "@a@example.social"}},
        "people": {"pqrst": {"handle": "pqrst", "name": "Me", "breasts": false, "measurements": legacy}}
    });
    let dir = tmp();
    fs::write(dir.path().join("login.json"), payload.to_string()).unwrap();
    let d = dir.path().display().to_string();
    let r = inspect(&[
        "--pipeline",
        "pipelines/freesewing-v2.toml",
        "--input",
        &d,
        "--as-of",
        AS_OF,
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["records_read"], 1);
    assert_eq!(s["eligible_people"], 1, "{s}");
}

#[test]
fn table_reader_handles_bom_crlf_and_parquet() {
    let dir = tmp();
    let header =
        fs::read_to_string(repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv")).unwrap();
    let mut lines = header.split("\r\n");
    let head = lines.next().unwrap();
    let rows: Vec<&str> = lines.take(3).collect();
    // BOM, CRLF, no final newline; one row with a non-numeric cell.
    let mut cells: Vec<&str> = rows[2].split(',').collect();
    cells[1] = "abc";
    let bad = cells.join(",");
    let text = format!("\u{feff}{head}\r\n{}\r\n{}\r\n{bad}", rows[0], rows[1]);
    let p = dir.path().join("t.csv");
    fs::write(&p, text).unwrap();
    let s = inspect(&[
        "--pipeline",
        "pipelines/ansur2.toml",
        "--input",
        &p.display().to_string(),
        "--json",
    ])
    .json();
    assert_eq!(s["records_read"], 3);
    assert_eq!(s["eligible_people"], 2);
    assert_eq!(dropped(&s, "plausibility", "non-numeric"), 1);

    // The same rows as Parquet.
    use polars::prelude::*;
    let mut df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(
            repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv"),
        ))
        .unwrap()
        .finish()
        .unwrap()
        .head(Some(25));
    let pq = dir.path().join("t.parquet");
    ParquetWriter::new(fs::File::create(&pq).unwrap())
        .finish(&mut df)
        .unwrap();
    let s = inspect(&[
        "--pipeline",
        "pipelines/ansur2.toml",
        "--input",
        &pq.display().to_string(),
        "--json",
    ])
    .json();
    assert_eq!(s["records_read"], 25);
    assert_eq!(s["eligible_people"], 25);

    // An extra column without a role stops the run.
    let p2 = dir.path().join("extra.csv");
    fs::write(&p2, format!("{head},phone\r\n{},0612345678\r\n", rows[0])).unwrap();
    let r = inspect(&[
        "--pipeline",
        "pipelines/ansur2.toml",
        "--input",
        &p2.display().to_string(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("`phone`") && r.stderr.contains("extra.csv"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("0612345678"));
}

#[test]
fn table_reader_reads_ndjson_tables() {
    let dir = tmp();
    let text =
        fs::read_to_string(repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv")).unwrap();
    let mut lines = text.split("\r\n");
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut out = String::new();
    for row in lines.take(12) {
        let obj: serde_json::Map<String, serde_json::Value> = head
            .iter()
            .zip(row.split(','))
            .map(|(h, v)| {
                let v = v
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .unwrap_or_else(|_| v.into());
                (h.to_string(), v)
            })
            .collect();
        out.push_str(&serde_json::Value::Object(obj).to_string());
        out.push('\n');
    }
    let p = dir.path().join("t.ndjson");
    fs::write(&p, out).unwrap();
    let r = inspect(&[
        "--pipeline",
        "pipelines/ansur2.toml",
        "--input",
        &p.display().to_string(),
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert_eq!(s["records_read"], 12);
    assert_eq!(s["eligible_people"], 12);
    assert_eq!(s["categories"]["Gender"]["Female"]["people"], 12);
}
