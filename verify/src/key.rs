//! The keys a release must not contain, read as the writer reads them.

use crate::prelude::*;

/// The FreeSewing backend's key string from a file or `BACKEND_ENC_KEY`, trimmed as the
/// backend trims its `encryption.key` file.
pub fn load_store_key(file: Option<&Path>) -> Result<Option<String>, ReadError> {
    let s = match file {
        Some(f) => String::from_utf8(std::fs::read(f).map_err(|e| rerr(f, e))?)
            .map_err(|_| rerr(f, "the store key file is not UTF-8 text"))?,
        None => match std::env::var("BACKEND_ENC_KEY") {
            Ok(s) => s,
            Err(_) => return Ok(None),
        },
    };
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
}

/// The noise key from a file (trailing whitespace trimmed) or `OPENTAPE_NOISE_KEY`.
pub fn load_key(file: Option<&Path>) -> Result<Option<Vec<u8>>, ReadError> {
    match file {
        Some(f) => {
            let mut b = std::fs::read(f).map_err(|e| rerr(f, e))?;
            while b.last().is_some_and(|c| c.is_ascii_whitespace()) {
                b.pop();
            }
            Ok(Some(b))
        }
        None => Ok(std::env::var_os("OPENTAPE_NOISE_KEY").map(|v| v.into_encoded_bytes())),
    }
}
