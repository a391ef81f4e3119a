//! The keys a release must not contain, read as the writer reads them. `opentape` reads
//! its keys with these functions too, so the writer and the checker never disagree on
//! what a key file holds.

use crate::prelude::*;

/// The FreeSewing backend's key string from a file or `BACKEND_ENC_KEY`, trimmed as the
/// backend trims its `encryption.key` file. `None` when neither is given; an empty key is
/// an error (it would decrypt nothing, and a search for it finds nothing).
pub fn load_store_key(file: Option<&Path>) -> Result<Option<String>, ReadError> {
    let s = match file {
        Some(f) => String::from_utf8(std::fs::read(f).map_err(|e| rerr(f, e))?)
            .map_err(|_| rerr(f, "the store key file is not UTF-8 text"))?,
        None => match std::env::var("BACKEND_ENC_KEY") {
            Ok(s) => s,
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(_) => return Err(ReadError("BACKEND_ENC_KEY is not UTF-8 text".into())),
        },
    };
    let s = s.trim();
    if s.is_empty() {
        return Err(empty("store", file, "BACKEND_ENC_KEY"));
    }
    Ok(Some(s.to_string()))
}

/// The noise key from a file (trailing whitespace trimmed) or `OPENTAPE_NOISE_KEY`. `None`
/// when neither is given; an empty key is an error.
pub fn load_key(file: Option<&Path>) -> Result<Option<Vec<u8>>, ReadError> {
    let mut b = match file {
        Some(f) => std::fs::read(f).map_err(|e| rerr(f, e))?,
        None => match std::env::var_os("OPENTAPE_NOISE_KEY") {
            Some(v) => v.into_encoded_bytes(),
            None => return Ok(None),
        },
    };
    while b.last().is_some_and(|c| c.is_ascii_whitespace()) {
        b.pop();
    }
    if b.is_empty() {
        return Err(empty("noise", file, "OPENTAPE_NOISE_KEY"));
    }
    Ok(Some(b))
}

fn empty(which: &str, file: Option<&Path>, env: &str) -> ReadError {
    match file {
        Some(f) => rerr(f, format!("the {which} key file is empty")),
        None => ReadError(format!(
            "{env} is set but empty: unset it, or give the {which} key"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_trimmed_and_an_empty_one_refused() {
        let d = std::env::temp_dir().join(format!("opentape-verify-key-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("k");
        std::fs::write(&f, "secret-key \n").unwrap();
        assert_eq!(load_key(Some(&f)).unwrap().unwrap(), b"secret-key");
        assert_eq!(load_store_key(Some(&f)).unwrap().unwrap(), "secret-key");
        std::fs::write(&f, " \n\t").unwrap();
        assert!(load_key(Some(&f))
            .unwrap_err()
            .0
            .contains("noise key file is empty"));
        assert!(load_store_key(Some(&f))
            .unwrap_err()
            .0
            .contains("store key file is empty"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
