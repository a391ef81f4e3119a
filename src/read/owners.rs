//! Owner keys as the reader tells them apart: canonical decimal keys by number.

/// Owner keys, as [`Reader::intern`] tells them apart.
#[derive(Default)]
pub(crate) struct KeptOwners {
    pub(super) numbers: rustc_hash::FxHashSet<u64>,
    pub(super) texts: rustc_hash::FxHashSet<String>,
}

impl KeptOwners {
    pub(crate) fn contains(&self, key: &str) -> bool {
        match canonical_u64(key) {
            Some(n) => self.numbers.contains(&n),
            None => self.texts.contains(key),
        }
    }

    pub(crate) fn contains_number(&self, n: u64) -> bool {
        self.numbers.contains(&n)
    }
}

/// The number a key spells when it is a canonical decimal integer (digits only, no
/// leading zero, fits in u64): then `n.to_string()` gives the key back.
pub(super) fn canonical_u64(key: &str) -> Option<u64> {
    let b = key.as_bytes();
    let digits = !b.is_empty() && b.len() <= 20 && b.iter().all(u8::is_ascii_digit);
    if !digits || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    key.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integer_keys_round_trip_and_nothing_else_is_one() {
        for k in ["0", "7", "1001", "18446744073709551615"] {
            let n = canonical_u64(k).unwrap();
            assert_eq!(n.to_string(), k);
        }
        for k in [
            "",
            "01",
            "00",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "18446744073709551616",
            "abc",
            "١",
        ] {
            assert_eq!(canonical_u64(k), None, "{k:?}");
        }
    }
}
