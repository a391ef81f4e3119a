//! k-anonymity by strict multidimensional Mondrian (LeFevre et al. 2006), with k counted in
//! distinct owners, inside each combination of category values (`partition`); then
//! generalization (class values or ranges) and keyed noise (`generalize`).

pub mod calibrate;
pub mod generalize;
pub mod known;
pub mod moments;
pub mod noise;
pub mod partition;
pub mod patterns;
pub mod quantile;
pub mod reproduction;
mod sums;
pub mod table;
pub mod targets;

pub use generalize::{generalize, Table};
pub use partition::{partition, Class, Partition};

/// Builders shared by the stage tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{partition, Partition};
    use crate::filter::Eligible;
    use crate::pipeline::Pipeline;
    use crate::read::People;
    use crate::record::{RecordRef, Tally};

    pub fn pipeline() -> Pipeline {
        Pipeline::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/ansur2.toml"),
        )
        .unwrap()
    }

    pub fn eligible(pl: &Pipeline, people: &[(u32, &str, Vec<f64>)]) -> Eligible {
        let n = pl.measurements.len();
        let mut store = People::new(1, n);
        for (i, (owner, cat, vals)) in people.iter().enumerate() {
            let at = RecordRef {
                file: 0,
                n: i as u64,
                sub: None,
            };
            let code = store.intern(0, cat);
            let values: Vec<f32> = (0..n)
                .map(|j| (vals[j % vals.len()] + j as f64) as f32)
                .collect();
            store.push(at, *owner, &[code], &values);
        }
        // Owners `o0`, `o1`, ...: the keys their pseudonyms (and so the noise) derive from.
        let owners = people.iter().map(|p| p.0 as usize + 1).max().unwrap_or(0);
        Eligible {
            people: store,
            tally: Tally::default(),
            dropped: vec![],
            records_read: people.len() as u64,
            users_read: 0,
            files: vec![],
            owner_keys: (0..owners).map(|i| format!("o{i}")).collect(),
            consent_value_owners: None,
        }
    }

    /// [`generalize`](super::generalize) with what a release would know of `e` (its noisy
    /// figures, drawn for a version "test").
    pub fn release_table(
        pl: &Pipeline,
        e: &Eligible,
        part: &mut Partition,
        key: &crate::anonymize::noise::NoiseKey,
    ) -> super::Table {
        let known = super::known::Knowledge::measure(pl, e, key, "test", None);
        super::generalize(pl, e, part, key, &known)
    }

    /// 60 people in two strata with plausible, correlated values (catalog mid-range plus
    /// offsets).
    pub fn classes_of(pl: &Pipeline) -> (Eligible, Partition) {
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..60)
            .map(|i| (i, if i % 3 == 0 { "Female" } else { "Male" }, vec![0.0]))
            .collect();
        let mut e = eligible(pl, &rows);
        for i in 0..e.people.len() {
            let values = e.people.values_mut(i);
            for (pos, &m) in pl.measurements.iter().enumerate() {
                let def = &pl.catalog.measurements[m];
                let mid = (def.min + def.max) / 2.0;
                let spread = (def.max - def.min) / 20.0;
                values[pos] = (mid
                    + spread * (((i * 7 + pos * 3) % 11) as f64 / 11.0 - 0.5)
                    + (i % 5) as f64)
                    .round() as f32;
            }
        }
        let part = partition(pl, &e, &Default::default());
        (e, part)
    }

    /// 400 people in one stratum, 3 measurements: correlated, so whitening changes them.
    pub fn correlated(pl: &mut Pipeline, n: u32) -> Eligible {
        pl.measurements.truncate(3);
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..n).map(|i| (i, "Male", vec![0.0])).collect();
        let mut e = eligible(pl, &rows);
        for i in 0..e.people.len() {
            let a = ((i * 37) % 101) as f32;
            let b = ((i * 53) % 89) as f32;
            let c = ((i * 29) % 97) as f32;
            e.people.values_mut(i).copy_from_slice(&[
                300.0 + a,
                1300.0 + 0.8 * a + 0.2 * b,
                300.0 + 0.1 * a + b + 0.3 * c,
            ]);
        }
        e
    }
}
