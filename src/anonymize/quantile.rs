//! Quantile-preserving exact moment restoration and mean-exact rounding (`moments =
//! "quantile"`; measured in BENCHMARKS.md "Privacy-utility frontier on ANSUR II").
//!
//! Per stratum, from the class means: one exact linear map to the people's mean and
//! covariance; then rounds of (per measurement, give the classes the people's k-smoothed
//! quantiles by rank) alternating with the exact map, ending on the map, so the class points
//! carry the stratum's exact mean and covariance and close to its marginal shapes. Every
//! value a quantile step hands out is a mean of k people's values. Noise is added before the
//! last map (the map absorbs its variance, so the moments stay exact), and the grid rounding
//! keeps each measurement's weighted sum on target. Nothing is clamped to a member's value.

use super::moments;
use rayon::prelude::*;

/// One stratum's input: its classes' means and weights, and its people's values.
pub struct Stratum<'a> {
    /// Class means, row-major `classes x d`, in the measurements' unit.
    pub means: Vec<f64>,
    /// Class sizes (members).
    pub weights: Vec<f64>,
    /// People in the stratum.
    pub n: usize,
    /// What the class points are moved to: mean, and covariance (row-major `d x d`). Never
    /// the people's exact moments: noisy figures (`known`).
    pub target: (Vec<f64>, Vec<f64>),
    /// The people's values column by column (each column in any order): the quantile
    /// tables sort them in place.
    pub columns: &'a (dyn Fn() -> Vec<Vec<f32>> + Sync),
    pub d: usize,
    /// Each measurement's grid step.
    pub resolution: Vec<f64>,
    /// Smoothing of the quantile tables: each value handed out is a mean of this many
    /// people's values (k).
    pub k: usize,
    pub rounds: usize,
    /// Keyed noise per class and measurement, in grid steps (`classes x d`; zeros for none).
    pub noise: Vec<i64>,
}

/// The classes' released values on the grid (`classes x d`, before any catalog clamp).
pub fn restore(s: Stratum) -> Vec<i64> {
    restore_points(s).round()
}

/// A stratum's class points before rounding to the grid.
pub struct Points {
    /// Class points, row-major `classes x d`, in the measurements' unit.
    pub p: Vec<f64>,
    /// What the rounding keeps each measurement's weighted sum on.
    pub target: Vec<f64>,
    pub weights: Vec<f64>,
    pub resolution: Vec<f64>,
    pub d: usize,
}

impl Points {
    /// Mean-exact rounding to the grid ([`mean_exact_round`]).
    pub fn round(&self) -> Vec<i64> {
        if self.d == 0 || self.weights.is_empty() {
            return Vec::new();
        }
        mean_exact_round(
            &self.p,
            &self.target,
            &self.weights,
            &self.resolution,
            self.d,
        )
    }
}

/// The class points of [`restore`], before rounding.
pub fn restore_points(mut s: Stratum) -> Points {
    let d = s.d;
    let nc = s.weights.len();
    if d == 0 || nc == 0 {
        return Points {
            p: Vec::new(),
            target: Vec::new(),
            weights: s.weights,
            resolution: s.resolution,
            d,
        };
    }
    let n = s.n;
    let (mu, mut target) = std::mem::take(&mut s.target);
    // Rounding adds a step^2 / 12 to every variance: aim below by that much.
    for j in 0..d {
        target[j * d + j] = (target[j * d + j] - s.resolution[j].powi(2) / 12.0).max(0.0);
    }
    let mut p = s.means.clone();
    if nc >= 2 {
        exact_map(&mut p, &s.weights, &mu, &target, d);
        let tables = Tables::new((s.columns)(), s.k.min(n).max(1));
        for round in 0..s.rounds {
            tables.assign(&mut p, &s.weights, n as f64);
            if round + 1 == s.rounds {
                add_noise(&mut p, &s);
            }
            exact_map(&mut p, &s.weights, &mu, &target, d);
        }
    } else {
        add_noise(&mut p, &s);
    }
    let target = if nc >= 2 { p.clone() } else { s.means.clone() };
    Points {
        p,
        target,
        weights: s.weights,
        resolution: s.resolution,
        d,
    }
}

fn add_noise(p: &mut [f64], s: &Stratum) {
    for (c, row) in p.chunks_mut(s.d).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v += s.noise[c * s.d + j] as f64 * s.resolution[j];
        }
    }
}

/// Moves `p` (weighted rows) to mean `mu` and covariance `target`: exactly when the rows
/// span every direction (more rows than measurements), `p <- mu + A (p - m)` with m and S_p
/// their weighted mean and covariance and `A = target^{1/2} S_p^{-1/2}`. With no more rows
/// than measurements no map can; then the covariance becomes the best approximation of
/// that rank ([`truncated_map`]).
fn exact_map(p: &mut [f64], w: &[f64], mu: &[f64], target: &[f64], d: usize) {
    if w.len() <= d {
        return truncated_map(p, w, mu, target, d);
    }
    let (m, s_p) = moments::moments(p, w, d);
    let a = moments::restoring_map(&s_p, target, d, 1.0);
    moments::map_rows(p, d, &a, |j, v| v - m[j], |i, s| mu[i] + s);
}

/// For `c <= d` rows: with `target = D R D` (D the standard deviations, R the
/// correlations, `R = V L V^T`), keep R's `r = c - 1` largest components: the rows' scores
/// `y = V_r^T D^{-1} (p - m)` are mapped to covariance `L_r` and back, so the rows get mean
/// `mu` and covariance `D V_r L_r V_r^T D`, the closest matrix of rank r to the target (the
/// dropped components are the smallest: on ANSUR II's women, 78 of 93 components keep
/// every standard deviation within 0.9% and every correlation within 0.02).
fn truncated_map(p: &mut [f64], w: &[f64], mu: &[f64], target: &[f64], d: usize) {
    let r = w.len().saturating_sub(1).min(d);
    let (m, _) = moments::moments(p, w, d);
    let sd: Vec<f64> = (0..d).map(|j| target[j * d + j].max(0.0).sqrt()).collect();
    let inv = |j: usize| if sd[j] > 0.0 { 1.0 / sd[j] } else { 0.0 };
    let corr: Vec<f64> = (0..d * d)
        .map(|ij| target[ij] * inv(ij / d) * inv(ij % d))
        .collect();
    let (l, v) = moments::sym_eigen(&corr, d);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| l[b].total_cmp(&l[a]).then(a.cmp(&b)));
    let top = &order[..r];
    let (v, m, inv) = (&v, &m, &inv);
    // Scores on the kept components, their covariance, and the map to L_r.
    let scores: Vec<f64> = p
        .chunks(d)
        .flat_map(|row| {
            top.iter().map(move |&k| {
                (0..d)
                    .map(|j| v[j * d + k] * (row[j] - m[j]) * inv(j))
                    .sum::<f64>()
            })
        })
        .collect();
    let (_, c_y) = moments::moments(&scores, w, r);
    let mut l_r = vec![0.0; r * r];
    for (i, &k) in top.iter().enumerate() {
        l_r[i * r + i] = l[k].max(0.0);
    }
    let a = moments::restoring_map(&c_y, &l_r, r, 1.0);
    for (row, y) in p.chunks_mut(d).zip(scores.chunks(r)) {
        let y2: Vec<f64> = (0..r)
            .map(|i| (0..r).map(|j| a[i * r + j] * y[j]).sum())
            .collect();
        for j in 0..d {
            let z: f64 = top.iter().zip(&y2).map(|(&k, &s)| v[j * d + k] * s).sum();
            row[j] = mu[j] + sd[j] * z;
        }
    }
}

/// Each measurement's people's values, sorted: the k-smoothed quantile at grid point
/// `u_i = (i + 0.5) / n` is the mean of the k sorted values starting at
/// `clamp(i - k / 2, 0, n - k)`.
struct Tables {
    sorted: Vec<Vec<f32>>,
    k: usize,
}

impl Tables {
    /// Sorts each measurement's values in place: by radix on the bits, in the order of
    /// `f32::total_cmp` (the order is a total one, so any sort gives the same column).
    fn new(mut sorted: Vec<Vec<f32>>, k: usize) -> Tables {
        sorted.par_iter_mut().for_each(|col| radsort::sort(col));
        Tables { sorted, k }
    }

    fn at(&self, j: usize, i: usize) -> f64 {
        let col = &self.sorted[j];
        let start = i.saturating_sub(self.k / 2).min(col.len() - self.k);
        col[start..start + self.k]
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
            / self.k as f64
    }

    /// Per measurement: the classes ordered by their value (ties by class index), each
    /// given the smoothed quantile at the middle of its weight, interpolated linearly.
    fn assign(&self, p: &mut [f64], w: &[f64], n: f64) {
        let d = self.sorted.len();
        let nc = w.len();
        let cols: Vec<Vec<f64>> = (0..d)
            .into_par_iter()
            .map(|j| {
                // By value in the order of `f64::total_cmp`, ties by class: a stable radix
                // sort of the values in class order (each read once, not at every compare).
                let mut keyed: Vec<(f64, u32)> =
                    (0..nc).map(|c| (p[c * d + j], c as u32)).collect();
                radsort::sort_by_key(&mut keyed, |e| e.0);
                let order = keyed.into_iter().map(|(_, c)| c as usize);
                let last = self.sorted[j].len() - 1;
                let mut out = vec![0.0; nc];
                let mut cum = 0.0;
                for c in order {
                    cum += w[c];
                    // u_c n - 0.5, with u_c = (W_c - w_c / 2) / n.
                    let x = (cum - w[c] / 2.0 - 0.5).clamp(0.0, (n - 1.0).max(0.0));
                    let i0 = (x.floor() as usize).min(last);
                    let i1 = (i0 + 1).min(last);
                    let f = x - i0 as f64;
                    out[c] = self.at(j, i0) * (1.0 - f) + self.at(j, i1) * f;
                }
                out
            })
            .collect();
        for (j, col) in cols.iter().enumerate() {
            for (c, &v) in col.iter().enumerate() {
                p[c * d + j] = v;
            }
        }
    }
}

/// Rounds `p` (`classes x d`, in the measurements' unit) to the grid so that each
/// measurement's weighted sum stays within half the largest class weight of grid steps of
/// the weighted sum of `target`: each value goes down or up (never further than one step),
/// classes with the largest fractional part first (ties by class index).
pub fn mean_exact_round(
    p: &[f64],
    target: &[f64],
    w: &[f64],
    resolution: &[f64],
    d: usize,
) -> Vec<i64> {
    let nc = w.len();
    let mut out = vec![0i64; nc * d];
    let cols: Vec<Vec<i64>> = (0..d)
        .into_par_iter()
        .map(|j| {
            let t: Vec<f64> = (0..nc).map(|c| p[c * d + j] / resolution[j]).collect();
            let floor: Vec<f64> = t.iter().map(|x| x.floor()).collect();
            let mut v: Vec<i64> = floor.iter().map(|&x| x as i64).collect();
            let mut need: f64 = (0..nc)
                .map(|c| w[c] * (target[c * d + j] / resolution[j] - v[c] as f64))
                .sum();
            let mut order: Vec<usize> = (0..nc).collect();
            // Each fraction once (not at every compare: `floor` is a call into libm).
            let frac: Vec<f64> = t.iter().zip(&floor).map(|(x, f)| x - f).collect();
            order.sort_unstable_by(|&a, &b| frac[b].total_cmp(&frac[a]).then(a.cmp(&b)));
            for c in order {
                if w[c] / 2.0 <= need {
                    v[c] += 1;
                    need -= w[c];
                }
            }
            v
        })
        .collect();
    for (j, col) in cols.iter().enumerate() {
        for (c, &v) in col.iter().enumerate() {
            out[c * d + j] = v;
        }
    }
    out
}

/// After [`mean_exact_round`] of one measurement (`x` its values in the unit, `v` on the
/// grid of `step`): trades rounding choices in pairs, one class up a step and one down
/// (each value staying within a step of `x`), while the weighted spread moves toward
/// `target_sd` and the weighted sum stays within half the largest weight of steps of
/// `x`'s. On a fine grid nothing changes (the spread is already within 0.2%).
pub fn spread_exact_round(x: &[f64], w: &[f64], step: f64, target_sd: f64, v: &mut [i64]) {
    let n = v.len();
    let total: f64 = w.iter().sum();
    if n < 2 || total <= 0.0 || target_sd <= 0.0 {
        return;
    }
    let t: Vec<f64> = x.iter().map(|x| x / step).collect();
    let target = (target_sd / step).powi(2);
    let want_sum: f64 = t.iter().zip(w).map(|(t, w)| t * w).sum();
    let slack = w.iter().cloned().fold(0.0, f64::max) / 2.0;
    let var = |v: &[i64]| {
        let m = v.iter().zip(w).map(|(&v, w)| v as f64 * w).sum::<f64>() / total;
        v.iter()
            .zip(w)
            .map(|(&v, w)| w * (v as f64 - m).powi(2))
            .sum::<f64>()
            / total
    };
    for _ in 0..n {
        let now = var(v);
        if (now - target).abs() <= 0.002 * target {
            return;
        }
        let widen = now < target;
        let mean = v.iter().zip(w).map(|(&v, w)| v as f64 * w).sum::<f64>() / total;
        // A class may go up if rounded down, down if rounded up. To widen, the highest
        // go up and the lowest down; to narrow, the reverse.
        let sum: f64 = v.iter().zip(w).map(|(&v, w)| v as f64 * w).sum();
        let mut up: Vec<usize> = (0..n).filter(|&c| (v[c] as f64) < t[c]).collect();
        let mut down: Vec<usize> = (0..n).filter(|&c| (v[c] as f64) > t[c]).collect();
        let key = |c: usize| (v[c] as f64 - mean) * w[c];
        // To widen: the highest first up, the lowest first down; to narrow, the reverse.
        up.sort_by(|&a, &b| {
            let o = key(b).total_cmp(&key(a));
            if widen { o } else { o.reverse() }.then(a.cmp(&b))
        });
        down.sort_by(|&a, &b| {
            let o = key(a).total_cmp(&key(b));
            if widen { o } else { o.reverse() }.then(a.cmp(&b))
        });
        let mut done = false;
        'pairs: for &a in up.iter().take(8) {
            for &b in down.iter().take(8) {
                if (sum + w[a] - w[b] - want_sum).abs() > slack {
                    continue;
                }
                v[a] += 1;
                v[b] -= 1;
                if (var(v) - target).abs() < (now - target).abs() {
                    done = true;
                    break 'pairs;
                }
                v[a] -= 1;
                v[b] += 1;
            }
        }
        if !done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    /// Row-major `people x d` values as `d` columns.
    fn columns_of(people: &[f32], d: usize) -> Vec<Vec<f32>> {
        (0..d)
            .map(|j| people.iter().skip(j).step_by(d).copied().collect())
            .collect()
    }

    /// Correlated people, grouped into classes of consecutive rows (their means).
    fn stratum(seed: u64, d: usize, classes: usize, size: usize) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let l: Vec<f64> = (0..d * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let n = classes * size;
        let mut people = vec![0f32; n * d];
        for r in 0..n {
            let z: Vec<f64> = (0..d)
                .map(|_| rng.random_range(-1.0f64..1.0).powi(3))
                .collect();
            for i in 0..d {
                people[r * d + i] =
                    (500.0 + 40.0 * (0..d).map(|j| l[i * d + j] * z[j]).sum::<f64>()) as f32;
            }
        }
        let mut means = vec![0.0; classes * d];
        for c in 0..classes {
            for i in 0..d {
                means[c * d + i] = (0..size)
                    .map(|r| people[(c * size + r) * d + i] as f64)
                    .sum::<f64>()
                    / size as f64;
            }
        }
        (people, means, vec![size as f64; classes])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Before rounding, the class points carry the target mean and covariance exactly;
        /// after the mean-exact rounding, each measurement's mean is within half a step.
        #[test]
        fn exact_map_hits_the_target_and_rounding_keeps_the_mean(
            seed in 0u64..1000,
            d in 2usize..7,
            extra in 1usize..30,
            size in 3usize..12,
        ) {
            let classes = d + extra;
            let (people, means, w) = stratum(seed, d, classes, size);
            let n = people.len() / d;
            let (mu, cov) = moments::moments(&people, &vec![1.0; n], d);
            let mut p = means.clone();
            exact_map(&mut p, &w, &mu, &cov, d);
            let (m2, c2) = moments::moments(&p, &w, d);
            for i in 0..d {
                prop_assert!((m2[i] - mu[i]).abs() < 1e-6 * mu[i].abs().max(1.0));
                for j in 0..d {
                    let scale = (cov[i * d + i] * cov[j * d + j]).sqrt();
                    prop_assert!((c2[i * d + j] - cov[i * d + j]).abs() < 1e-6 * scale,
                        "cov[{},{}] {} vs {}", i, j, c2[i * d + j], cov[i * d + j]);
                }
            }
            let res = vec![1.0; d];
            let v = mean_exact_round(&p, &p, &w, &res, d);
            for j in 0..d {
                let sum: f64 = (0..classes).map(|c| w[c] * v[c * d + j] as f64).sum();
                let want: f64 = (0..classes).map(|c| w[c] * p[c * d + j]).sum();
                prop_assert!((sum - want).abs() / n as f64 <= 0.5, "mean off by {}", (sum - want) / n as f64);
                for c in 0..classes {
                    prop_assert!((v[c * d + j] as f64 - p[c * d + j]).abs() < 1.0);
                }
            }
        }

        /// The whole method: the released grid values keep the people's mean within half a
        /// step and their covariance close (only the rounding's own error is left).
        #[test]
        fn restored_classes_keep_mean_and_covariance(seed in 0u64..1000, d in 2usize..6) {
            let classes = 3 * d + 10;
            let (people, means, w) = stratum(seed, d, classes, 8);
            let columns = || columns_of(&people, d);
            let n = people.len() / d;
            let (mu, cov) = moments::moments(&people, &vec![1.0; n], d);
            let s = Stratum {
                means, weights: w.clone(), n, target: (mu.clone(), cov.clone()), columns: &columns, d,
                resolution: vec![1.0; d], k: 8, rounds: 5, noise: vec![0; classes * d],
            };
            let v = restore(s);
            let vf: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            let (m2, c2) = moments::moments(&vf, &w, d);
            for i in 0..d {
                prop_assert!((m2[i] - mu[i]).abs() <= 0.5, "mean {} vs {}", m2[i], mu[i]);
                let sd = cov[i * d + i].sqrt();
                prop_assert!((c2[i * d + i].sqrt() - sd).abs() < 0.02 * sd + 0.5);
            }
        }
    }

    /// No more classes than measurements: the map gives the closest covariance of the
    /// classes' rank, so with one class short of full rank it keeps the target's standard
    /// deviations and correlations nearly, and the mean exactly.
    #[test]
    fn few_classes_get_the_closest_covariance_of_their_rank() {
        let d = 6;
        let (people, means, w) = stratum(11, d, 6, 10);
        let n = people.len() / d;
        let (mu, cov) = moments::moments(&people, &vec![1.0; n], d);
        let mut p = means.clone();
        exact_map(&mut p, &w, &mu, &cov, d);
        let (m2, c2) = moments::moments(&p, &w, d);
        // The expected covariance: the target's correlation without its smallest component.
        let sd: Vec<f64> = (0..d).map(|j| cov[j * d + j].sqrt()).collect();
        let corr: Vec<f64> = (0..d * d)
            .map(|ij| cov[ij] / (sd[ij / d] * sd[ij % d]))
            .collect();
        let (l, v) = moments::sym_eigen(&corr, d);
        let small = (0..d).min_by(|&a, &b| l[a].total_cmp(&l[b])).unwrap();
        for i in 0..d {
            assert!((m2[i] - mu[i]).abs() < 1e-6 * mu[i].abs());
            for j in 0..d {
                let want =
                    cov[i * d + j] - sd[i] * sd[j] * l[small] * v[i * d + small] * v[j * d + small];
                assert!(
                    (c2[i * d + j] - want).abs() < 1e-6 * sd[i] * sd[j],
                    "cov[{i},{j}] {} vs {want}",
                    c2[i * d + j]
                );
            }
        }
    }

    /// A measurement of a few steps' spread (degrees): after the mean-exact rounding the
    /// spread can be percents off; the pairwise trades bring it closer (within 1.5% here:
    /// each value may only go to the step below or above it), each value still within a
    /// step, the sum within half the largest weight.
    #[test]
    fn coarse_rounding_keeps_the_spread() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            let n = rng.random_range(20..80);
            let x: Vec<f64> = (0..n)
                .map(|_| 13.0 + 2.0 * rng.random_range(-1.5f64..1.5))
                .collect();
            let w: Vec<f64> = (0..n).map(|_| rng.random_range(10..20) as f64).collect();
            let total: f64 = w.iter().sum();
            let m = x.iter().zip(&w).map(|(x, w)| x * w).sum::<f64>() / total;
            let sd = (x
                .iter()
                .zip(&w)
                .map(|(x, w)| w * (x - m).powi(2))
                .sum::<f64>()
                / total)
                .sqrt();
            let mut v = mean_exact_round(&x, &x, &w, &[1.0], 1);
            let spread = |v: &[i64]| {
                let m = v.iter().zip(&w).map(|(&v, w)| v as f64 * w).sum::<f64>() / total;
                (v.iter()
                    .zip(&w)
                    .map(|(&v, w)| w * (v as f64 - m).powi(2))
                    .sum::<f64>()
                    / total)
                    .sqrt()
            };
            let before = (spread(&v) - sd).abs();
            spread_exact_round(&x, &w, 1.0, sd, &mut v);
            let after = (spread(&v) - sd).abs();
            assert!(after <= before + 1e-12, "{after} > {before}");
            assert!(
                after <= 0.015 * sd,
                "spread off by {after} of {sd} (before {before})"
            );
            let sum: f64 = v.iter().zip(&w).map(|(&v, w)| v as f64 * w).sum();
            let want: f64 = x.iter().zip(&w).map(|(x, w)| x * w).sum();
            assert!((sum - want).abs() <= w.iter().cloned().fold(0.0, f64::max) / 2.0 + 1e-9);
            for (&v, &x) in v.iter().zip(&x) {
                assert!((v as f64 - x).abs() < 1.0);
            }
        }
    }

    #[test]
    fn every_handed_out_value_is_a_mean_of_k_people() {
        let (people, _, _) = stratum(3, 1, 20, 5);
        let t = Tables::new(columns_of(&people, 1), 5);
        let mut sorted: Vec<f32> = people.clone();
        sorted.sort_by(f32::total_cmp);
        // The lowest table value is the mean of the 5 smallest values, never the smallest.
        let low: f64 = sorted[..5].iter().map(|&v| v as f64).sum::<f64>() / 5.0;
        assert!((t.at(0, 0) - low).abs() < 1e-9);
        assert!(t.at(0, 0) > sorted[0] as f64);
        let high: f64 = sorted[95..].iter().map(|&v| v as f64).sum::<f64>() / 5.0;
        assert!((t.at(0, 99) - high).abs() < 1e-9);
    }
}
