//! What a release knows of the current people: noisy figures, never exact ones.
//!
//! A series is published version after version, and an attacker holds them all: any figure
//! that is an exact function of the current people (a stratum's mean, its covariance, a
//! document's statistic) differenced between two versions one person apart is that
//! person's values. So everything a release computes from the current people and then
//! publishes, through its class rows or its documents, is taken from here:
//!
//! - every version: per category combination, noisy counts (holders of each measurement and
//!   of each pair) and noisy means;
//! - once per series: noisy spreads and correlations, which later versions carry over
//!   instead of recomputing (so no two versions can be differenced on them).
//!
//! Noise is Gaussian on sums taken in each measurement's public frame (centred on the
//! catalog range's midpoint, in eighths of its half-range: never from the data), keyed and
//! reproducible (same input, key and version, same draws). Its zCDP cost per person is
//! [`Budget`]: as formal differential privacy these budgets are large; the noise is sized
//! to hide one typical person's share of each figure, which the series attacks in
//! `benches/` measure.

use super::calibrate::Targets;
use super::moments::nearest_correlation;
use super::noise::NoiseKey;
use super::sums::{first_sums, second_sums};
use crate::filter::Eligible;
use crate::pipeline::{Pipeline, Series};
use rand::Rng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

/// Frame units per catalog half-range: an eighth of it is about one standard deviation of
/// a population (ANSUR II: 0.6 to 1.1 of the half-range's eighth, median 0.6).
pub const UNITS_PER_HALF_RANGE: f64 = crate::pipeline::UNITS_PER_HALF_RANGE;

/// Each released measurement's public frame (release positions): centre and unit, from the
/// catalog's plausible range.
#[derive(Debug, Clone)]
pub struct Frame {
    pub center: Vec<f64>,
    pub unit: Vec<f64>,
}

impl Frame {
    pub fn of(pl: &Pipeline) -> Frame {
        let defs = pl.measurements.iter().map(|&m| &pl.catalog.measurements[m]);
        Frame {
            center: defs.clone().map(|m| (m.min + m.max) / 2.0).collect(),
            unit: defs
                .map(|m| ((m.max - m.min) / 2.0 / UNITS_PER_HALF_RANGE).max(1e-9))
                .collect(),
        }
    }

    pub(super) fn d(&self) -> usize {
        self.center.len()
    }
}

/// A standard normal draw (Box-Muller on two uniform draws in (0, 1]).
pub fn gauss(rng: &mut ChaCha20Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The keyed noise stream of one category combination's figures in one version.
pub fn stream(
    key: &NoiseKey,
    dataset: &str,
    version: &str,
    categories: &[String],
    what: &str,
) -> ChaCha20Rng {
    let mut parts: Vec<[u8; 32]> = vec![key.pseudonym(version)];
    parts.extend(categories.iter().map(|c| key.pseudonym(c)));
    let seed = key.class_seed(&format!("{dataset}\0figures"), &parts);
    key.rng(&seed, what)
}

/// Noisy counts and means of one category combination (release positions; `mean` is NaN
/// where nobody holds the measurement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub d: usize,
    /// Exact holders of each measurement and pair: denominators only, never published
    /// (kept in the private series ledger).
    exact: (Vec<f64>, Vec<f64>),
    /// Holders of each measurement.
    pub count: Vec<f64>,
    /// Holders of each pair (row-major d x d, symmetric; the diagonal is `count`).
    pub both: Vec<f64>,
    #[serde(deserialize_with = "nan_for_null")]
    pub mean: Vec<f64>,
}

/// Spreads and correlations of one category combination (release positions), measured
/// once per series and carried over. NaN where unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Standard deviation of each measurement over its holders.
    #[serde(deserialize_with = "nan_for_null")]
    pub sd: Vec<f64>,
    /// Row-major d x d, 1 on the diagonal: each pair's correlation over the people holding
    /// both.
    #[serde(deserialize_with = "nan_for_null")]
    pub corr: Vec<f64>,
    /// Row-major d x d: at (i, j), the mean of measurement i over the people holding both i
    /// and j, minus its mean over all its holders (what being asked for j says of i).
    #[serde(deserialize_with = "nan_for_null")]
    pub offset: Vec<f64>,
    /// Row-major d x d: at (i, j), the standard deviation of i over the people holding both.
    #[serde(deserialize_with = "nan_for_null")]
    pub pair_sd: Vec<f64>,
}

/// Numbers written by JSON, where NaN (unknown) is written as null.
fn nan_for_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

/// Everything a release knows of one category combination's current people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Known {
    pub figures: Figures,
    pub spread: Spread,
}

/// The zCDP budget (rho) per person of the figures, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Counts and means: spent at every version a person's values are in.
    pub figures: f64,
    /// Spreads and correlations: spent once, where they are measured.
    pub spread: f64,
}

impl Budget {
    /// The Gaussian mechanism's rho for `d` measurements ([`Series::rho`]).
    pub fn of(s: &Series, d: usize) -> Budget {
        let (figures, spread) = s.rho(d);
        Budget { figures, spread }
    }

    pub fn total(&self) -> f64 {
        self.figures + self.spread
    }
}

/// Noisy counts and means of `people` (indices into `e.people`).
pub fn figures(
    e: &Eligible,
    people: &[u32],
    frame: &Frame,
    s: &Series,
    rng: &mut ChaCha20Rng,
) -> Figures {
    let d = frame.d();
    let t = first_sums(e, people, frame);
    // Draws in a fixed order: counts, pair counts (upper triangle), sums.
    let count: Vec<f64> = t
        .count
        .iter()
        .map(|&n| n + s.count_noise * gauss(rng))
        .collect();
    let mut both = vec![0.0; d * d];
    for a in 0..d {
        both[a * d + a] = count[a];
        for b in a + 1..d {
            let v = t.both[a * d + b] + s.count_noise * gauss(rng);
            both[a * d + b] = v;
            both[b * d + a] = v;
        }
    }
    let mean = (0..d)
        .map(|j| {
            let noisy = t.sum[j] + s.sum_noise * gauss(rng);
            if t.count[j] == 0.0 {
                // Nobody holds it: the draw is still taken (the stream does not depend on
                // who holds what), and nothing is known.
                return f64::NAN;
            }
            // Divided by the exact count: the noise is the sum's. (A noisy count would
            // move the mean in proportion to its distance from the frame's centre: a
            // measurement whose people sit four units off would carry four times the
            // noise.)
            let m = frame.center[j] + frame.unit[j] * noisy / t.count[j];
            m.clamp(
                frame.center[j] - UNITS_PER_HALF_RANGE * frame.unit[j],
                frame.center[j] + UNITS_PER_HALF_RANGE * frame.unit[j],
            )
        })
        .collect();
    Figures {
        d,
        exact: (t.count, t.both),
        count,
        both,
        mean,
    }
}

/// Noisy spreads and correlations of `people` around the noisy means `f.mean`: each
/// person's values centred on them, in frame units, clipped to norm `clip * sqrt(d)`; then
/// the sums of [`SecondSums`](super::sums::SecondSums), each with noise (`sum_noise` on
/// sums, `square_noise` on squares and products), divided by the exact holders.
pub fn spread(
    e: &Eligible,
    people: &[u32],
    f: &Figures,
    frame: &Frame,
    s: &Series,
    rng: &mut ChaCha20Rng,
) -> Spread {
    let d = frame.d();
    let mut t = second_sums(e, people, f, frame, s.clip * (d as f64).sqrt());
    // Draws in a fixed order: squares, then per pair (upper triangle) the product and both
    // sides' sums and squares.
    for q in t.sq.iter_mut() {
        *q += s.square_noise * gauss(rng);
    }
    for a in 0..d {
        for b in a + 1..d {
            t.product[a * d + b] += s.square_noise * gauss(rng);
            for k in [a * d + b, b * d + a] {
                t.pair_sum[k] += s.sum_noise * gauss(rng);
                t.pair_sq[k] += s.square_noise * gauss(rng);
            }
        }
    }
    // A variance under a hundredth of a unit is noise: held at that floor.
    const FLOOR: f64 = 1e-2;
    let (n, both) = (&f.exact.0, &f.exact.1);
    let sd: Vec<f64> = (0..d)
        .map(|j| {
            if f.mean[j].is_nan() {
                return f64::NAN;
            }
            frame.unit[j] * (t.sq[j] / n[j].max(1.0)).max(FLOOR).sqrt()
        })
        .collect();
    let mut corr = vec![f64::NAN; d * d];
    let mut offset = vec![f64::NAN; d * d];
    let mut pair_sd = vec![f64::NAN; d * d];
    for a in 0..d {
        if sd[a].is_nan() {
            continue;
        }
        corr[a * d + a] = 1.0;
        offset[a * d + a] = 0.0;
        pair_sd[a * d + a] = sd[a];
        for b in a + 1..d {
            let m = both[a * d + b];
            if sd[b].is_nan() || m < 3.0 {
                continue;
            }
            // In frame units, over the people holding both.
            let (oa, ob) = (t.pair_sum[a * d + b] / m, t.pair_sum[b * d + a] / m);
            let va = (t.pair_sq[a * d + b] / m - oa * oa).max(FLOOR);
            let vb = (t.pair_sq[b * d + a] / m - ob * ob).max(FLOOR);
            let r = ((t.product[a * d + b] / m - oa * ob) / (va * vb).sqrt()).clamp(-0.999, 0.999);
            corr[a * d + b] = r;
            corr[b * d + a] = r;
            offset[a * d + b] = oa * frame.unit[a];
            offset[b * d + a] = ob * frame.unit[b];
            pair_sd[a * d + b] = va.sqrt() * frame.unit[a];
            pair_sd[b * d + a] = vb.sqrt() * frame.unit[b];
        }
    }
    Spread {
        sd,
        corr,
        offset,
        pair_sd,
    }
}

impl Known {
    /// What calibration aims at: per measurement the noisy count, this version's mean and
    /// the series' spread; per pair the noisy count, and the series' correlation, and each
    /// side's mean (this version's measurement mean plus the series' offset) and spread
    /// over the people holding both.
    pub fn targets(&self) -> Targets {
        let f = &self.figures;
        let d = f.d;
        let mut pair_mean = vec![f64::NAN; d * d];
        let mut pair_var = vec![f64::NAN; d * d];
        for i in 0..d {
            for j in 0..d {
                let k = i * d + j;
                if i != j && !self.spread.offset[k].is_nan() {
                    pair_mean[k] = f.mean[i] + self.spread.offset[k];
                    pair_var[k] = self.spread.pair_sd[k].powi(2);
                }
            }
        }
        let mut corr = self.spread.corr.clone();
        for i in 0..d {
            corr[i * d + i] = f64::NAN;
        }
        Targets {
            d,
            count: f.count.iter().map(|&n| n.max(0.0)).collect(),
            mean: f.mean.clone(),
            sd: self
                .spread
                .sd
                .iter()
                .map(|&s| if s.is_nan() { 0.0 } else { s })
                .collect(),
            both: f.both.iter().map(|&n| n.max(0.0)).collect(),
            corr,
            pair_mean,
            pair_var,
        }
    }

    /// A stratum's moment targets over its measurements `dims`: mean, and covariance
    /// (row-major) from the spreads and correlations, a correlation not known taken as 0
    /// and the correlation matrix made positive semi-definite.
    pub fn stratum_target(&self, dims: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let d = self.figures.d;
        let n = dims.len();
        let mu: Vec<f64> = dims.iter().map(|&p| self.figures.mean[p]).collect();
        let sd: Vec<f64> = dims
            .iter()
            .map(|&p| {
                let s = self.spread.sd[p];
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            })
            .collect();
        let mut r = vec![0.0; n * n];
        for (a, &pa) in dims.iter().enumerate() {
            r[a * n + a] = 1.0;
            for (b, &pb) in dims.iter().enumerate().skip(a + 1) {
                let c = self.spread.corr[pa * d + pb];
                let c = if c.is_nan() { 0.0 } else { c };
                r[a * n + b] = c;
                r[b * n + a] = c;
            }
        }
        let r = nearest_correlation(&r, n);
        let mut cov = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..n {
                cov[a * n + b] = r[a * n + b] * sd[a] * sd[b];
            }
        }
        (mu, cov)
    }
}

/// Category values of every category combination: spreads, keyed by them.
pub type Spreads = std::collections::BTreeMap<Vec<String>, Spread>;

/// What a release knows of all its current people, per category combination.
#[derive(Debug, Clone)]
pub struct Knowledge {
    pub by_category: std::collections::BTreeMap<Vec<String>, Known>,
    /// Category combinations whose spreads were measured in this version (the others were
    /// carried over): their people spend [`Budget::spread`].
    pub measured: Vec<Vec<String>>,
    pub budget: Budget,
    pub frame: Frame,
}

impl Knowledge {
    /// Noisy figures of the eligible people of every category combination, drawn from the
    /// key's streams for this `version`; spreads carried over from `carried` where it has
    /// the combination (measured otherwise).
    pub fn measure(
        pl: &Pipeline,
        e: &Eligible,
        key: &NoiseKey,
        version: &str,
        carried: Option<&Spreads>,
    ) -> Knowledge {
        let frame = Frame::of(pl);
        let d = frame.d();
        let mut groups: rustc_hash::FxHashMap<&[u32], Vec<u32>> = Default::default();
        for i in 0..e.people.len() {
            groups.entry(e.people.codes(i)).or_default().push(i as u32);
        }
        let mut by_cat: std::collections::BTreeMap<Vec<String>, Vec<u32>> = Default::default();
        for (codes, people) in groups {
            let cats = codes
                .iter()
                .enumerate()
                .map(|(c, &code)| e.people.value_of(c, code).unwrap_or_default().to_string())
                .collect();
            by_cat.insert(cats, people);
        }
        let mut measured = Vec::new();
        let by_category = by_cat
            .into_iter()
            .map(|(cats, people)| {
                let mut rng = stream(key, &pl.dataset.name, version, &cats, "figures");
                let figures = figures(e, &people, &frame, &pl.series, &mut rng);
                let spread = match carried.and_then(|c| c.get(&cats)) {
                    Some(s) if s.sd.len() == d => s.clone(),
                    _ => {
                        measured.push(cats.clone());
                        let mut rng = stream(key, &pl.dataset.name, version, &cats, "spread");
                        spread(e, &people, &figures, &frame, &pl.series, &mut rng)
                    }
                };
                (cats, Known { figures, spread })
            })
            .collect();
        Knowledge {
            by_category,
            measured,
            budget: Budget::of(&pl.series, d),
            frame,
        }
    }

    /// What an earlier version knew, carried over unchanged (no new noise, no budget): a
    /// series' patch and minor versions keep the figures of the last cut.
    pub fn carried(pl: &Pipeline, known: Vec<(Vec<String>, Known)>) -> Knowledge {
        let frame = Frame::of(pl);
        Knowledge {
            by_category: known.into_iter().collect(),
            measured: Vec::new(),
            budget: Budget::of(&pl.series, frame.d()),
            frame,
        }
    }

    /// The spreads, to carry over to the next version.
    pub fn spreads(&self) -> Spreads {
        self.by_category
            .iter()
            .map(|(c, k)| (c.clone(), k.spread.clone()))
            .collect()
    }

    /// What is known of a category combination, if anyone of it is eligible.
    pub fn get(&self, categories: &[String]) -> Option<&Known> {
        self.by_category.get(categories)
    }

    /// What is known of a category combination (its values as the partition spells them).
    pub fn of(&self, categories: &[String]) -> &Known {
        self.by_category
            .get(categories)
            .expect("every category combination with people is measured")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::moments::BLOCK;
    use crate::anonymize::sums::SecondSums;
    use crate::anonymize::testing;
    use rand::SeedableRng;

    /// `n` people of one stratum, each measurement about a frame unit around the centre
    /// plus a shared size (so they correlate).
    fn people(pl: &Pipeline, n: u32) -> Eligible {
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..n).map(|i| (i, "Male", vec![0.0])).collect();
        let mut e = testing::eligible(pl, &rows);
        let frame = Frame::of(pl);
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for i in 0..e.people.len() {
            let size = gauss(&mut rng);
            for (j, v) in e.people.values_mut(i).iter_mut().enumerate() {
                let y = 0.8 * size + 0.6 * gauss(&mut rng);
                *v = (frame.center[j] + frame.unit[j] * y).round() as f32;
            }
        }
        e
    }

    #[test]
    fn figures_are_near_the_truth_and_never_equal_to_it() {
        let pl = testing::pipeline();
        let e = people(&pl, 2000);
        let frame = Frame::of(&pl);
        let people: Vec<u32> = (0..e.people.len() as u32).collect();
        let s = Series::default();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let f = figures(&e, &people, &frame, &s, &mut rng);
        let sp = spread(&e, &people, &f, &frame, &s, &mut rng);
        let d = frame.d();
        let n = people.len() as f64;
        for j in 0..d {
            let v: Vec<f64> = people
                .iter()
                .map(|&i| e.people.values(i as usize)[j] as f64)
                .collect();
            let m = v.iter().sum::<f64>() / n;
            let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt();
            // Noise of sum_noise units on the sum, a few units on the squares.
            assert!((f.mean[j] - m).abs() < 6.0 * s.sum_noise * frame.unit[j] / n + 1e-9);
            assert_ne!(f.mean[j], m);
            assert!((sp.sd[j] / sd - 1.0).abs() < 0.05, "{} vs {sd}", sp.sd[j]);
            assert!((f.count[j] - n).abs() < 6.0 * s.count_noise);
        }
        // Same stream, same figures; another stream, others.
        let mut again = ChaCha20Rng::seed_from_u64(3);
        assert_eq!(figures(&e, &people, &frame, &s, &mut again), f);
        let mut other = ChaCha20Rng::seed_from_u64(4);
        assert_ne!(figures(&e, &people, &frame, &s, &mut other), f);
    }

    /// The sums over people are the plain per-person sums (to rounding), where every block
    /// of people holds everything (no products for the sides) and where some lack values.
    #[test]
    fn pair_sums_are_the_plain_sums_with_and_without_gaps() {
        let pl = testing::pipeline();
        let frame = Frame::of(&pl);
        let d = frame.d();
        let s = Series::default();
        for gaps in [false, true] {
            let mut e = people(&pl, 3 * BLOCK as u32 + 17);
            if gaps {
                for i in (0..e.people.len()).step_by(7) {
                    e.people.values_mut(i)[i % d] = f32::NAN;
                }
            }
            let people: Vec<u32> = (0..e.people.len() as u32).collect();
            let mut rng = ChaCha20Rng::seed_from_u64(5);
            let f = figures(&e, &people, &frame, &s, &mut rng);
            let clip = s.clip * (d as f64).sqrt();
            let t = second_sums(&e, &people, &f, &frame, clip);
            let mut want = SecondSums::new(d);
            let mut both = vec![0.0; d * d];
            for &i in &people {
                let v = e.people.values(i as usize);
                let y: Vec<Option<f64>> = (0..d)
                    .map(|j| (!v[j].is_nan()).then(|| (v[j] as f64 - f.mean[j]) / frame.unit[j]))
                    .collect();
                let norm = y.iter().flatten().map(|y| y * y).sum::<f64>().sqrt();
                let scale = if norm > clip { clip / norm } else { 1.0 };
                for a in 0..d {
                    let Some(ya) = y[a].map(|y| y * scale) else {
                        continue;
                    };
                    want.sq[a] += ya * ya;
                    for b in 0..d {
                        if a != b && y[b].is_some() {
                            let yb = y[b].unwrap() * scale;
                            want.product[a * d + b] += ya * yb;
                            want.pair_sum[a * d + b] += ya;
                            want.pair_sq[a * d + b] += ya * ya;
                            both[a * d + b] += 1.0;
                        }
                    }
                }
            }
            let close = |x: &[f64], y: &[f64]| {
                x.iter()
                    .zip(y)
                    .all(|(a, b)| (a - b).abs() <= 1e-9 * (1.0 + b.abs()))
            };
            assert!(close(&t.sq, &want.sq), "gaps {gaps}");
            assert!(close(&t.product, &want.product), "gaps {gaps}");
            assert!(close(&t.pair_sum, &want.pair_sum), "gaps {gaps}");
            assert!(close(&t.pair_sq, &want.pair_sq), "gaps {gaps}");
            // Pair counts exactly (upper triangle), whole blocks or not.
            for a in 0..d {
                for b in a + 1..d {
                    assert_eq!(f.exact.1[a * d + b], both[a * d + b], "gaps {gaps}");
                }
            }
        }
    }

    #[test]
    fn a_correlation_matrix_stays_one_and_a_broken_one_is_mended() {
        let good = vec![1.0, 0.5, 0.5, 1.0];
        assert_eq!(nearest_correlation(&good, 2), good);
        // Not positive semi-definite: pairwise correlations that cannot hold together.
        let bad = vec![1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0];
        let fixed = nearest_correlation(&bad, 3);
        let (l, _) = crate::anonymize::moments::sym_eigen(&fixed, 3);
        assert!(l.iter().all(|&x| x > 0.0), "{l:?}");
        for a in 0..3 {
            assert!((fixed[a * 3 + a] - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn the_budget_grows_as_the_noise_shrinks() {
        let s = Series::default();
        let b = Budget::of(&s, 38);
        let half = Series {
            sum_noise: s.sum_noise / 2.0,
            square_noise: s.square_noise / 2.0,
            ..s
        };
        let b2 = Budget::of(&half, 38);
        assert!(b2.spread > 3.9 * b.spread && b2.figures > b.figures);
        assert!(Budget::of(&s, 93).total() > b.total());
    }
}
