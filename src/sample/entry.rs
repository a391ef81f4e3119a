//! Which measurements a synthetic set holds. FreeSewing stores what the owner entered: the
//! set editor lists all 38, but a design checks its own needs only when the set is used for
//! it, so a real set holds what its owner's designs asked for (`schemas/freesewing-designs.json`,
//! from FreeSewing's source): a few sets are complete, people imported from v2 never had
//! the v3-only measurements, and people without breasts hold no breasts-only ones.

use super::body::{BODY, BREASTS_ONLY};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How sets are filled in (`opentape sample --entry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Entry {
    /// As owners really enter them: the measurements their designs need (FreeSewing 3.0 and
    /// v2 designs), a few complete sets, some from v2.
    #[default]
    Designs,
    /// Every measurement that applies to the body (the samples before realistic entry).
    Complete,
}

/// One bit per measurement, in catalog (BODY) order.
pub(crate) type Held = u64;

/// Every measurement.
pub(crate) const ALL: Held = (1 << BODY.len()) - 1;

/// Measurements that v3 added: no person imported from v2 holds them.
const V3_ONLY: [&str; 2] = ["waistToArmpit", "bustPointToUnderbust"];
/// [`V3_ONLY`] as bits (waistToArmpit is measurement 30, bustPointToUnderbust 3).
pub(crate) const V3_ONLY_BITS: Held = 1 << 30 | 1 << 3;

/// Share of sets that hold every measurement that applies (FreeSewing's curated sets, and
/// owners who filled in the whole editor).
const COMPLETE: f64 = 0.08;
/// Share of a v3 store's sets that came from v2 (copied into v3 as they were).
const FROM_V2: f64 = 0.10;
/// How many designs an owner made for a set: 1, 2, 3, 4 or 5, with these weights.
const DESIGNS_MADE: [(usize, f64); 5] = [(1, 0.35), (2, 0.25), (3, 0.2), (4, 0.1), (5, 0.1)];
/// Chance that an optional measurement of a design is entered.
const OPTIONAL: f64 = 0.5;
/// Chance that an owner also fills in a few measurements no design of theirs asked for.
const EXTRA: f64 = 0.15;

#[derive(Deserialize)]
struct DesignFile {
    #[serde(rename = "v3.0")]
    v3: BTreeMap<String, DesignDef>,
    v2: BTreeMap<String, DesignDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DesignDef {
    measurements: Vec<String>,
    optional_measurements: Vec<String>,
}

/// A design's needs as bit sets.
#[derive(Debug, Clone, Copy)]
struct Design {
    required: Held,
    optional: Held,
}

/// The designs of FreeSewing 3.0 and v2, as bit sets over the catalog.
pub(crate) struct Designs {
    v3: Vec<Design>,
    v2: Vec<Design>,
}

fn bit(name: &str) -> Held {
    let i = BODY
        .iter()
        .position(|b| b.0 == name)
        .unwrap_or_else(|| panic!("designs name the unknown measurement {name}"));
    1 << i
}

fn bits<'a>(names: impl IntoIterator<Item = &'a str>) -> Held {
    names.into_iter().map(bit).fold(0, |a, b| a | b)
}

impl Designs {
    pub(crate) fn load() -> Designs {
        let file: DesignFile =
            serde_json::from_str(include_str!("../../schemas/freesewing-designs.json"))
                .expect("schemas/freesewing-designs.json is valid");
        // A design that needs no measurement (a bag, a plushie) needs no set either.
        let list = |m: &BTreeMap<String, DesignDef>| {
            m.values()
                .filter(|d| !d.measurements.is_empty() || !d.optional_measurements.is_empty())
                .map(|d| Design {
                    required: bits(d.measurements.iter().map(String::as_str)),
                    optional: bits(d.optional_measurements.iter().map(String::as_str)),
                })
                .collect()
        };
        Designs {
            v3: list(&file.v3),
            v2: list(&file.v2),
        }
    }

    /// The measurements one set holds: from v2 (`v2`, or by chance in a v3 store) or v3
    /// designs, or complete; never a breasts-only one for a body without breasts.
    pub(crate) fn held(&self, rng: &mut ChaCha8Rng, v2: bool, breasts: bool) -> Held {
        let breasts_only = bits(BREASTS_ONLY);
        let applies = if breasts { ALL } else { ALL & !breasts_only };
        let from_v2 = v2 || rng.random::<f64>() < FROM_V2;
        let era = if from_v2 { ALL & !bits(V3_ONLY) } else { ALL };
        if rng.random::<f64>() < COMPLETE {
            return applies & era;
        }
        let designs = if from_v2 { &self.v2 } else { &self.v3 };
        let mut x = rng.random::<f64>();
        let mut made = DESIGNS_MADE[0].0;
        for &(n, p) in &DESIGNS_MADE {
            made = n;
            if x < p {
                break;
            }
            x -= p;
        }
        let mut held = 0;
        let mut tries = 0;
        let mut done = 0;
        while done < made && tries < 50 {
            tries += 1;
            let d = designs[rng.random_range(0..designs.len())];
            // Bra and bodice blocks are seldom made for a body without breasts.
            if !breasts && d.required & breasts_only != 0 && rng.random::<f64>() < 0.9 {
                continue;
            }
            done += 1;
            held |= d.required;
            for i in 0..BODY.len() {
                if d.optional >> i & 1 == 1 && rng.random::<f64>() < OPTIONAL {
                    held |= 1 << i;
                }
            }
        }
        if rng.random::<f64>() < EXTRA {
            for _ in 0..rng.random_range(1..=3) {
                held |= 1 << rng.random_range(0..BODY.len());
            }
        }
        held & applies & era
    }

    /// What a set of the same owner holds when the same body is measured again for a new
    /// design: what it held, and perhaps one design's more.
    pub(crate) fn again(&self, rng: &mut ChaCha8Rng, held: Held, v2: bool, breasts: bool) -> Held {
        if held == ALL || rng.random::<f64>() < 0.5 {
            return held;
        }
        let designs = if v2 { &self.v2 } else { &self.v3 };
        let d = designs[rng.random_range(0..designs.len())];
        let applies = if breasts {
            ALL
        } else {
            ALL & !bits(BREASTS_ONLY)
        };
        let era = if v2 { ALL & !bits(V3_ONLY) } else { ALL };
        (held | d.required) & applies & era
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Sets hold what designs ask for: on average well under the 38, a few complete, never
    /// a v3-only measurement from v2, never a breasts-only one without breasts.
    #[test]
    fn sets_hold_their_designs_measurements() {
        let d = Designs::load();
        assert_eq!(bits(V3_ONLY), V3_ONLY_BITS);
        // 51 and 38 designs, less those that need no measurement at all.
        assert_eq!(d.v3.len(), 46);
        assert_eq!(d.v2.len(), 34);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut total, mut complete) = (0u32, 0);
        let bo = bits(BREASTS_ONLY);
        let n = 5000;
        for i in 0..n {
            let breasts = i % 2 == 0;
            let h = d.held(&mut rng, false, breasts);
            total += h.count_ones();
            complete += u32::from(h == ALL || h == ALL & !bo);
            if !breasts {
                assert_eq!(h & bo, 0);
            }
            let v2 = d.held(&mut rng, true, breasts);
            assert_eq!(v2 & bits(V3_ONLY), 0);
            let again = d.again(&mut rng, h, false, breasts);
            assert_eq!(again & h, h, "a set measured again holds what it held");
        }
        let mean = total as f64 / n as f64;
        assert!((10.0..20.0).contains(&mean), "mean held {mean}");
        let share = complete as f64 / n as f64;
        assert!((0.05..0.12).contains(&share), "complete {share}");
    }
}
