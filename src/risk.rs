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
    let mut cat_codes: HashMap<&[Option<String>], i64> = HashMap::new();
    let codes: Vec<i64> = e
        .people
        .iter()
        .map(|p| {
            let next = cat_codes.len() as i64;
            *cat_codes.entry(p.categories.as_slice()).or_insert(next)
        })
        .collect();
    // Per rounding: every record as a flat key (category code, rounded values), record
    // indices sorted by key, and runs of one counted. Exact, and one key table at a time.
    let w = e.people.first().map_or(0, |p| p.values.len()) + 1;
    ROUNDINGS
        .iter()
        .map(|&step| {
            let mut keys = vec![0i64; n * w];
            keys.par_chunks_mut(w.max(1))
                .zip(&e.people)
                .zip(&codes)
                .for_each(|((k, p), &c)| {
                    k[0] = c;
                    for (x, v) in k[1..].iter_mut().zip(&p.values) {
                        *x = if v.is_nan() {
                            i64::MIN
                        } else {
                            (v / step).round() as i64
                        };
                    }
                });
            let key = |i: u32| &keys[i as usize * w..(i as usize + 1) * w];
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.par_sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
            let mut unique_people = 0;
            let mut i = 0;
            while i < n {
                let mut j = i + 1;
                while j < n && key(order[j]) == key(order[i]) {
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
    use crate::model::{Person, RecordRef, Tally};

    #[test]
    fn counts_unique_records_per_rounding() {
        let person = |v: f64| Person {
            at: RecordRef {
                file: 0,
                n: 0,
                sub: None,
            },
            owner: 0,
            categories: vec![Some("Male".into())],
            values: vec![v, 100.0],
            problem: None,
            filters: vec![],
            has_user: true,
        };
        let e = Eligible {
            people: vec![person(101.0), person(102.0), person(102.0), person(180.0)],
            tally: Tally::default(),
            dropped: vec![],
            records_read: 4,
            users_read: 0,
            files: vec![],
            owner_keys: vec![],
        };
        let u = uniqueness(&e);
        assert_eq!(u[0].unique_people, 2); // 101 and 180 at 1 mm
        assert_eq!(u[1].unique_people, 1); // 101 and 102 merge at 5 mm (100), 180 alone
        assert_eq!(u[3].unique_people, 1); // 180 still alone at 50 mm (200 vs 100)
    }
}
