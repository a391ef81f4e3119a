//! Property-based fuzzing of the readers (bounded, runs in CI): malformed documents made by
//! mutating real records or from random bytes never panic; each ends in quarantine or an
//! error. Any crash found here becomes a case in tests/robustness.rs.

use crate::common::*;
use opentape::pipeline::Pipeline;
use proptest::prelude::*;
use std::fs;

fn pipeline(name: &str) -> Pipeline {
    Pipeline::load(&repo().join(format!("pipelines/{name}.toml"))).unwrap()
}

fn sample_lines() -> Vec<String> {
    fs::read_to_string(repo().join("data-samples/freesewing-v3/sets.ndjson"))
        .unwrap()
        .lines()
        .take(40)
        .map(String::from)
        .collect()
}

/// Reads `sets` (+ a valid users file) as a v3 export and filters it: must not panic.
fn run_v3(sets: &[u8]) {
    let d = tmp();
    fs::write(d.path().join("sets.ndjson"), sets).unwrap();
    fs::copy(
        repo().join("data-samples/freesewing-v3/users.ndjson"),
        d.path().join("users.ndjson"),
    )
    .unwrap();
    let pl = pipeline("freesewing-v3");
    if let Ok(export) = opentape::read::read(
        &pl,
        &[d.path().to_path_buf()],
        &Default::default(),
        &Default::default(),
    ) {
        let e = opentape::filter::apply(&pl, export, opentape::date::parse_date(AS_OF).unwrap());
        let _ = opentape::assess::risk::uniqueness(&e);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Real records with bytes flipped, cut or inserted.
    #[test]
    fn mutated_v3_records_never_panic(
        line in 0usize..40,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
    ) {
        let lines = sample_lines();
        let mut b = lines[line].clone().into_bytes();
        for (at, byte, op) in edits {
            if b.is_empty() { break; }
            let i = at.index(b.len());
            match op {
                0 => b[i] = byte,
                1 => { b.truncate(i); }
                _ => b.insert(i, byte),
            }
        }
        let mut doc = lines.join("\n").into_bytes();
        doc.push(b'\n');
        doc.extend_from_slice(&b);
        run_v3(&doc);
    }

    /// JSON values of random shape where a set belongs.
    #[test]
    fn random_json_shapes_never_panic(v in arb_json()) {
        let line = serde_json::json!({"id": 1, "userId": 1, "measies": v.clone(), "name": v}).to_string();
        run_v3(line.as_bytes());
    }

    /// Random bytes as a CSV table.
    #[test]
    fn random_csv_never_panics(body in prop::collection::vec(any::<u8>(), 0..2000)) {
        let d = tmp();
        let header = fs::read_to_string(repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv"))
            .unwrap().lines().next().unwrap().to_string();
        let mut bytes = format!("{header}\n").into_bytes();
        bytes.extend(body);
        let p = d.path().join("t.csv");
        fs::write(&p, bytes).unwrap();
        let pl = pipeline("ansur2");
        let _ = opentape::read::read(&pl, &[p], &Default::default(), &Default::default());
    }
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| serde_json::json!(x)),
        "[a-zA-Z0-9@.:/ ]{0,20}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("chest".to_string()),
                    Just("iv".to_string()),
                    Just("ct".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
