//! Owner keys as the reader tells them apart: canonical decimal keys by number.

/// Owner keys by interned id, in one block of text: a `String` each would take about 40
/// bytes a key (270 MB at 6.7M owners); never released.
#[derive(Debug, Clone, Default)]
pub struct OwnerKeys {
    text: String,
    ends: Vec<usize>,
}

impl OwnerKeys {
    pub fn push(&mut self, key: &str) {
        self.text.push_str(key);
        self.ends.push(self.text.len());
    }

    /// Owner `i`'s key.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for OwnerKeys {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut k = OwnerKeys::default();
        for s in iter {
            k.push(s.as_ref());
        }
        k
    }
}

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
    fn owner_keys_give_each_key_back() {
        let keys: OwnerKeys = ["7", "", "user-12", "1001"].into_iter().collect();
        assert_eq!(keys.len(), 4);
        assert_eq!(
            (0..4).map(|i| keys.get(i)).collect::<Vec<_>>(),
            ["7", "", "user-12", "1001"]
        );
    }

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
