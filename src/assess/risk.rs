//! Raw re-identification risk before anonymization: how many people are unique on their
//! categories and measurements, and how coarse a rounding keeps them unique.

use crate::filter::Eligible;
use rayon::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Uniqueness {
    /// Rounding step, in the catalog unit (mm).
    pub rounding: f64,
    /// People whose rounded record no one else shares.
    pub unique_people: usize,
    pub share: f64,
}

pub const ROUNDINGS: [f64; 4] = [1.0, 5.0, 10.0, 50.0];

pub fn uniqueness(e: &Eligible) -> Vec<Uniqueness> {
    let n = e.people.len();
    let mut cat_codes: HashMap<&[u32], i64> = HashMap::new();
    let codes: Vec<i64> = (0..n)
        .map(|i| {
            let next = cat_codes.len() as i64;
            *cat_codes.entry(e.people.codes(i)).or_insert(next)
        })
        .collect();
    // Per rounding: each record's key (category code, rounded values) is hashed, record
    // indices are sorted by hash and, where hashes tie, by the key itself (recomputed, so
    // the count is exact), and runs of one are counted. Memory: 32 bytes per record
    // while the (hash, record) pairs are sorted.
    let d = e.people.measurements();
    ROUNDINGS
        .iter()
        .map(|&step| {
            let cell = |i: u32, j: usize| -> i64 {
                let v = e.people.values(i as usize)[j] as f64;
                if v.is_nan() {
                    i64::MIN
                } else {
                    crate::num::round_i64(v / step)
                }
            };
            let key_cmp = |a: u32, b: u32| {
                codes[a as usize].cmp(&codes[b as usize]).then_with(|| {
                    (0..d)
                        .map(|j| cell(a, j).cmp(&cell(b, j)))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                })
            };
            let hashes: Vec<u64> = (0..n as u32)
                .into_par_iter()
                .map(|i| {
                    use std::hash::{Hash, Hasher};
                    // Any hash will do: ties are settled on the key itself.
                    let mut h = rustc_hash::FxHasher::default();
                    codes[i as usize].hash(&mut h);
                    for j in 0..d {
                        cell(i, j).hash(&mut h);
                    }
                    h.finish()
                })
                .collect();
            // By hash (a radix sort of (hash, record) pairs), then each run of equal
            // hashes, nearly always one key, by the key itself.
            let mut order: Vec<(u64, u32)> = hashes.iter().copied().zip(0..n as u32).collect();
            drop(hashes);
            radsort::sort_by_key(&mut order, |e| e.0);
            let mut a = 0;
            while a < n {
                let mut b = a + 1;
                while b < n && order[b].0 == order[a].0 {
                    b += 1;
                }
                if b - a > 1 {
                    order[a..b].sort_unstable_by(|x, y| key_cmp(x.1, y.1));
                }
                a = b;
            }
            let same = |a: (u64, u32), b: (u64, u32)| a.0 == b.0 && key_cmp(a.1, b.1).is_eq();
            let mut unique_people = 0;
            let mut i = 0;
            while i < n {
                let mut j = i + 1;
                while j < n && same(order[j], order[i]) {
                    j += 1;
                }
                if j - i == 1 {
                    unique_people += 1;
                }
                i = j;
            }
            Uniqueness {
                rounding: step,
                unique_people,
                share: unique_people as f64 / n.max(1) as f64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::People;
    use crate::record::{RecordRef, Tally};

    #[test]
    fn counts_unique_records_per_rounding() {
        let mut people = People::new(1, 2);
        let male = people.intern(0, "Male");
        for v in [101.0, 102.0, 102.0, 180.0] {
            let at = RecordRef {
                file: 0,
                n: 0,
                sub: None,
            };
            people.push(at, 0, &[male], &[v, 100.0]);
        }
        let e = Eligible {
            people,
            tally: Tally::default(),
            dropped: vec![],
            records_read: 4,
            users_read: 0,
            files: vec![],
            owner_keys: Default::default(),
            consent_value_owners: None,
        };
        let u = uniqueness(&e);
        assert_eq!(u[0].unique_people, 2); // 101 and 180 at 1 mm
        assert_eq!(u[1].unique_people, 1); // 101 and 102 merge at 5 mm (100), 180 alone
        assert_eq!(u[3].unique_people, 1); // 180 still alone at 50 mm (200 vs 100)
    }
}
