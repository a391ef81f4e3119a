//! FreeSewing v2 data as `mongoexport` writes it: one document per line in a `.json` file
//! (or `--jsonArray`), in relaxed, canonical or legacy Extended JSON. All forms of the
//! same collections must read to the same people and publish the same bytes.

use crate::common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

const KEY: &str = "mongoexport-test-key-0123456789";

/// Relaxed -> canonical: every number typed, every date as milliseconds.
fn canonical(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_i64() => json!({"$numberInt": n.to_string()}),
        Value::Number(n) => json!({"$numberDouble": n.to_string()}),
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        Value::Object(o) => {
            if let Some(Value::String(iso)) = o.get("$date") {
                return json!({"$date": {"$numberLong": millis(iso).to_string()}});
            }
            if o.contains_key("$oid") || o.contains_key("$binary") {
                return Value::Object(o);
            }
            Value::Object(o.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        v => v,
    }
}

/// Relaxed -> legacy "strict" (mongoexport before 4.2): dates as `$numberLong`
/// milliseconds, Binary as `{"$binary": base64, "$type": "00"}`, numbers plain.
fn legacy(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(legacy).collect()),
        Value::Object(o) => {
            if let Some(Value::String(iso)) = o.get("$date") {
                return json!({"$date": {"$numberLong": millis(iso).to_string()}});
            }
            if let Some(Value::Object(b)) = o.get("$binary") {
                return json!({"$binary": b["base64"], "$type": b["subType"]});
            }
            Value::Object(o.into_iter().map(|(k, v)| (k, legacy(v))).collect())
        }
        v => v,
    }
}

/// Milliseconds since 1970 of `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn millis(iso: &str) -> i64 {
    let n = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant), written again here.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + n(20, 23)
}

fn convert(from: &Path, to: &Path, f: fn(Value) -> Value, array: bool) {
    fs::create_dir_all(to).unwrap();
    for name in ["people.json", "users.json"] {
        let docs: Vec<Value> = fs::read_to_string(from.join(name))
            .unwrap()
            .lines()
            .map(|l| f(serde_json::from_str(l).unwrap()))
            .collect();
        // A pre-2.2 dump names the people collection `models`.
        let out = if name == "people.json" && array {
            "models.json"
        } else {
            name
        };
        let text = if array {
            serde_json::to_string(&docs).unwrap()
        } else {
            docs.iter().map(|d| d.to_string() + "\n").collect()
        };
        fs::write(to.join(out), text).unwrap();
    }
}

fn release(d: &Path, input: &Path) -> std::path::PathBuf {
    let out = d.join(format!(
        "rel-{}",
        input.file_name().unwrap().to_string_lossy()
    ));
    let r = release_cmd("pipelines/freesewing-v2.toml", "1.0.0", &out, KEY)
        .arg("--input")
        .arg(input)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out.join("1.0.0")
}

#[test]
fn relaxed_canonical_and_legacy_extended_json_publish_the_same_bytes() {
    let d = tmp();
    let relaxed = d.path().join("relaxed");
    let r = opentape(
        d.path(),
        &[
            "sample",
            "--format",
            "freesewing-v2-mongoexport",
            "--people",
            "1500",
            "--seed",
            "3",
            "--out",
            &relaxed.display().to_string(),
            "--as-of",
            AS_OF,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = fs::read_to_string(relaxed.join("users.json")).unwrap();
    let doc: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert!(
        doc["_id"]["$oid"].is_string() && doc["_ct"]["$binary"].is_object(),
        "{doc}"
    );
    assert!(doc.get("email").is_none());
    let canon = d.path().join("canonical");
    convert(&relaxed, &canon, canonical, false);
    let old = d.path().join("legacy");
    convert(&relaxed, &old, legacy, false);
    let arrays = d.path().join("arrays");
    convert(&relaxed, &arrays, legacy, true);
    let canon_text = fs::read_to_string(canon.join("people.json")).unwrap();
    assert!(canon_text.contains("\"$numberInt\"") && canon_text.contains("\"$numberLong\""));

    let want = release(d.path(), &relaxed);
    let m: Value =
        serde_json::from_str(&fs::read_to_string(want.join("manifest.json")).unwrap()).unwrap();
    // The sample's frozen accounts, owners with the pre-2019 `consent.model` and the
    // orphan person are all read as such.
    assert!(
        m["counts"]["dropped"]["account"]["not-active"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        m["counts"]
    );
    assert_eq!(
        m["counts"]["dropped"]["consent"]["no-user-record"], 1,
        "{}",
        m["counts"]
    );
    assert!(
        m["counts"]["eligible_people"].as_u64().unwrap() > 900,
        "{}",
        m["counts"]
    );
    for other in [&canon, &old, &arrays] {
        let got = release(d.path(), other);
        for f in ["measurements.csv", "measurements.parquet"] {
            assert!(
                fs::read(want.join(f)).unwrap() == fs::read(got.join(f)).unwrap(),
                "{f} differs for {}",
                other.display()
            );
        }
    }
}

#[test]
fn a_non_finite_extended_json_measurement_is_quarantined() {
    let d = tmp();
    let dir = d.path().join("in");
    let r = opentape(
        d.path(),
        &[
            "sample",
            "--format",
            "freesewing-v2-mongoexport",
            "--people",
            "300",
            "--seed",
            "4",
            "--out",
            &dir.display().to_string(),
            "--as-of",
            AS_OF,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let people = fs::read_to_string(dir.join("people.json")).unwrap();
    // Every person's neck is NaN: none may be read as a number.
    let lines: Vec<String> = people
        .lines()
        .map(|l| {
            let mut doc: Value = serde_json::from_str(l).unwrap();
            doc["measurements"]["neck"] = json!({"$numberDouble": "NaN"});
            doc.to_string()
        })
        .collect();
    fs::write(dir.join("people.json"), lines.join("\n") + "\n").unwrap();
    let r = opentape(
        &repo(),
        &[
            "inspect",
            "--pipeline",
            "pipelines/freesewing-v2.toml",
            "--input",
            &dir.display().to_string(),
            "--as-of",
            AS_OF,
            "--json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    assert!(
        dropped(&s, "plausibility", "non-numeric") > 100,
        "{}",
        s["dropped"]
    );
    assert_eq!(s["eligible_people"], 0, "{s}");
}
