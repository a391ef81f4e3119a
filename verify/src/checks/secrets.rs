//! `secrets`: neither key, in any common encoding, appears in any file.

use crate::prelude::*;

/// Forms in which a key could leak: raw, hex (both cases), base64 (standard, URL-safe,
/// with and without padding).
pub(crate) fn key_forms(key: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let n = base64::engine::general_purpose::STANDARD_NO_PAD;
    vec![
        key.to_vec(),
        hex::encode(key).into_bytes(),
        hex::encode_upper(key).into_bytes(),
        e.encode(key).into_bytes(),
        u.encode(key).into_bytes(),
        n.encode(key).into_bytes(),
    ]
}

/// FreeSewing's key derivation (scrypt, salt "FreeSewing", N = 16384, r = 8, p = 1, 32
/// bytes), written here again so the checker shares no code with the reader.
pub(crate) fn derive_store_key(key: &str) -> Vec<u8> {
    let params = scrypt::Params::new(14, 8, 1).expect("scrypt parameters");
    let mut out = vec![0u8; 32];
    scrypt::scrypt(key.as_bytes(), b"FreeSewing", &params, &mut out).expect("32 bytes");
    out
}

pub(crate) fn check_secrets(
    forms: &[Vec<u8>],
    t: Option<&Parquet>,
    files: &[files::FileInfo],
) -> Check {
    if forms.is_empty() {
        return check(
            "secrets",
            vec![],
            "no key given (--noise-key-file or OPENTAPE_NOISE_KEY): nothing to look for".into(),
        );
    }
    let mut problems = Vec::new();
    for f in files {
        if f.has_key {
            problems.push(format!(
                "{} contains the noise key or the store key",
                f.name
            ));
        }
    }
    // Parquet pages are compressed: look in the decoded cells (each distinct value) and
    // the metadata too.
    let contains = |s: &str| {
        forms
            .iter()
            .any(|f| !f.is_empty() && memchr::memmem::find(s.as_bytes(), f).is_some())
    };
    match t {
        Some(t) => {
            let g = &t.grouped;
            let in_cells = (0..g.columns.len()).any(|j| {
                if g.text[j] {
                    g.dicts[j].iter().any(|s| contains(s))
                } else {
                    let values: std::collections::HashSet<i64> =
                        g.rows.iter().map(|r| r[j]).collect();
                    values.into_iter().any(|v| contains(&g.cell_text(j, v)))
                }
            });
            let in_metadata = t.metadata.iter().any(|(k, v)| contains(k) || contains(v));
            if in_cells || in_metadata {
                problems.push(
                    "a decoded Parquet cell or metadata entry contains the noise key or the store key"
                        .into(),
                );
            }
        }
        None => problems
            .push("the Parquet file cannot be decoded, so its cells cannot be searched".into()),
    }
    check(
        "secrets",
        problems,
        format!(
            "{} files searched for {} key forms",
            files.len(),
            forms.len()
        ),
    )
}
