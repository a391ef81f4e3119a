//! Documents as `mongoexport` writes v2's collections.

use super::accounts::hexid;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

/// A document as `mongoexport` writes it (relaxed Extended JSON): an ObjectId, a version
/// key, and dates as `{"$date": ISO}`.
pub(super) fn mongo_doc(rng: &mut ChaCha8Rng, v: Value) -> Value {
    let Value::Object(o) = v else { return v };
    let mut out = Map::new();
    out.insert(
        "_id".into(),
        json!({"$oid": format!("{:08x}{}", rng.random::<u32>(), hexid(rng))}),
    );
    for (k, v) in o {
        let v = match (k.as_str(), v) {
            ("createdAt" | "updatedAt", Value::String(s)) => json!({"$date": s}),
            ("time", Value::Object(t)) => Value::Object(
                t.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => (k, json!({"$date": s})),
                        v => (k, v),
                    })
                    .collect(),
            ),
            (_, v) => v,
        };
        out.insert(k, v);
    }
    out.insert("__v".into(), json!(0));
    Value::Object(out)
}

/// A `users` document: e-mail and social accounts are inside mongoose-encryption's `_ct`
/// (random bytes here: a reader never needs them); some owners predate the 2019 rename
/// of `consent.measurements` (`model`), some are frozen (restricted processing).
pub(super) fn mongo_user(rng: &mut ChaCha8Rng, v: Value, n: u64) -> Value {
    use base64::Engine;
    let mut d = mongo_doc(rng, v);
    let o = d.as_object_mut().expect("a user document");
    o.remove("email");
    o.remove("social");
    o.insert(
        "ehash".into(),
        json!(format!(
            "{}{}{}{}",
            hexid(rng),
            hexid(rng),
            hexid(rng),
            hexid(rng)
        )),
    );
    o.insert(
        "password".into(),
        json!(format!("$2b$10${}{}", hexid(rng), hexid(rng))),
    );
    let b64 = |rng: &mut ChaCha8Rng| {
        let bytes: [u8; 48] = rng.random();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    o.insert(
        "_ct".into(),
        json!({"$binary": {"base64": b64(rng), "subType": "00"}}),
    );
    o.insert(
        "_ac".into(),
        json!({"$binary": {"base64": b64(rng), "subType": "00"}}),
    );
    let consent = o["consent"].as_object_mut().expect("consent");
    if n % 17 == 3 {
        let m = consent.remove("measurements").unwrap_or(json!(true));
        consent.insert("model".into(), m);
    }
    if n % 29 == 5 {
        o.insert("status".into(), json!("frozen"));
    }
    d
}
