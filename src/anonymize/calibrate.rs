//! Calibration of a category combination's class rows across its measurement patterns.
//!
//! Each pattern stratum is restored on its own (`quantile`), which is exact only where the
//! stratum has more classes than measurements. Sparse data has many small patterns, and a
//! researcher reads the table per measurement and per pair, pooled over patterns: the mean
//! of `waist` over every row that holds it, the correlation of `waist` and `hips` over the
//! rows that hold both. Those are what this step keeps: it moves the class rows of all
//! patterns of one category combination together (rows of a class stay identical, so
//! k-anonymity is untouched) so that, per measurement, the rows holding it have the mean and
//! standard deviation of the eligible people who hold it, and, per pair, the rows holding
//! both have the correlation of the people holding both. Found by L-BFGS (argmin) on the
//! squared errors, each row kept near where its stratum's restoration put it; each
//! measurement's mean and deviation are then set exactly.
//!
//! Every target is an aggregate over the people of the combination who hold the
//! measurement (or the pair), suppressed values included, so a measurement's released
//! spread does not depend on which people's patterns happened to keep it.

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;
use std::sync::Mutex;

pub use super::targets::Targets;
use super::targets::{PairSums, Sums};

/// People per chunk of the target sums, classes per chunk of the calibration's sums: a
/// fixed size, so that sums are added in the same order whatever the thread count.
pub(super) const CHUNK: usize = 4096;

/// Weight of a pair's correlation error: full from this many people holding both (the
/// size from which a correlation is worth reading), less below.
const PAIR_PEOPLE: f64 = 200.0;
/// Weight of a pair's means and spreads against its correlation: they keep pooled
/// correlations across category combinations right, but where classes are few (1,100
/// people) every term competes for the same rows' freedom (at 0.3 rather than 1, the worst
/// pooled correlation change over six such stores fell from 0.093 to 0.074 on average; at
/// 11,000 people no change).
const PAIR_MOMENTS: f64 = 0.3;

/// Weight of a pair released together for fewer than [`PAIR_PEOPLE`] people, at most.
const RARE_PAIR: f64 = 0.1;
/// Weight of keeping rows near where their stratum's restoration put them.
const PROXIMITY: f64 = 1e-3;
/// Classes a pair needs in common before its correlation is a target (two points always
/// correlate +-1).
const PAIR_CLASSES: usize = 3;

/// The classes of one category combination: each class's measurements (release positions,
/// ascending) and weight (members).
pub struct Cloud {
    pub d: usize,
    /// Class c's measurements are `dims[offsets[c]..offsets[c + 1]]`.
    pub offsets: Vec<usize>,
    pub dims: Vec<u16>,
    pub weights: Vec<f64>,
}

impl Cloud {
    fn classes(&self) -> usize {
        self.weights.len()
    }

    fn range(&self, c: usize) -> std::ops::Range<usize> {
        self.offsets[c]..self.offsets[c + 1]
    }
}

/// One pair's targets over the people holding both, in standardized units: correlation,
/// and each side's mean and variance (a reader pooling combinations needs all of them).
struct PairTarget {
    i: usize,
    j: usize,
    corr: f64,
    weight: f64,
    mean: (f64, f64),
    var: (f64, f64),
}

/// A point, its cost and its gradient.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// The problem L-BFGS solves, over the rows in standardized units.
struct Problem<'a> {
    cloud: &'a Cloud,
    /// Where each value started (standardized).
    start: Vec<f64>,
    /// Pairs taken as targets.
    pairs: Vec<PairTarget>,
    /// Per measurement, whether it is calibrated (held by two classes or more, with spread).
    active: Vec<bool>,
    total: f64,
    /// The last evaluation: L-BFGS asks for the cost and the gradient of one point apart.
    last: Mutex<Option<Evaluation>>,
}

impl Problem<'_> {
    /// Cost and gradient at `z`.
    fn eval(&self, z: &[f64]) -> (f64, Vec<f64>) {
        if let Some((p, c, g)) = self.last.lock().expect("not poisoned").as_ref() {
            if p.as_slice() == z {
                return (*c, g.clone());
            }
        }
        let cl = self.cloud;
        let d = cl.d;
        let n = cl.classes();
        // Pass 1: sums per measurement and per pair, a fixed chunk of classes at a time.
        let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
        let parts: Vec<(Sums, PairSums)> = starts
            .par_iter()
            .map(|&a| {
                let mut m = Sums::new(d);
                let mut p = PairSums::new(d);
                for c in a..(a + CHUNK).min(n) {
                    let w = cl.weights[c];
                    let r = cl.range(c);
                    let (dims, vals) = (&cl.dims[r.clone()], &z[r]);
                    for x in 0..dims.len() {
                        let (j, v) = (dims[x] as usize, vals[x]);
                        m.n[j] += w;
                        m.s[j] += w * v;
                        m.q[j] += w * v * v;
                        for y in x + 1..dims.len() {
                            p.add(j * d + dims[y] as usize, w, v, vals[y]);
                        }
                    }
                }
                (m, p)
            })
            .collect();
        let (mut m, mut p) = (Sums::new(d), PairSums::new(d));
        for (a, b) in &parts {
            m.merge(a);
            p.merge(b);
        }
        // Coefficients of the gradient: per measurement (mean and variance terms), and
        // per ordered pair (i, j): g_ci += w_c (a_ij (z_cj - m_j) - b_ij (z_ci - m_i)).
        let mut cost = 0.0;
        let mut mean = vec![0.0; d];
        let mut var_coef = vec![0.0; d];
        let mut mean_coef = vec![0.0; d];
        for j in 0..d {
            if !self.active[j] {
                continue;
            }
            let mj = m.s[j] / m.n[j];
            let vj = m.q[j] / m.n[j] - mj * mj;
            cost += mj * mj + (vj - 1.0) * (vj - 1.0);
            mean[j] = mj;
            mean_coef[j] = 2.0 * mj / m.n[j];
            var_coef[j] = 4.0 * (vj - 1.0) / m.n[j];
        }
        // Per ordered pair (i, j), in one place: a_ij, b_ij, the pair's means of i and of
        // j, and the pulls of i's mean and spread over the pair.
        let mut coef = vec![[0.0f64; 6]; d * d];
        for t in &self.pairs {
            let (i, j, target, q) = (t.i, t.j, t.corr, t.weight);
            let k = i * d + j;
            let [w, si, sj, qi, qj, xx] = p.s[k];
            let (mi, mj) = (si / w, sj / w);
            let vi = qi / w - mi * mi;
            let vj = qj / w - mj * mj;
            // The means and spreads over the rows holding both, as over the people
            // holding both.
            let qm = q * PAIR_MOMENTS;
            cost += qm * ((mi - t.mean.0).powi(2) + (mj - t.mean.1).powi(2));
            cost += qm * ((vi - t.var.0).powi(2) + (vj - t.var.1).powi(2));
            let (ij, ji) = (i * d + j, j * d + i);
            coef[ij][2] = mi;
            coef[ij][3] = mj;
            coef[ji][2] = mj;
            coef[ji][3] = mi;
            coef[ij][4] = 2.0 * qm * (mi - t.mean.0) / w;
            coef[ji][4] = 2.0 * qm * (mj - t.mean.1) / w;
            coef[ij][5] = 4.0 * qm * (vi - t.var.0) / w;
            coef[ji][5] = 4.0 * qm * (vj - t.var.1) / w;
            if vi <= 1e-9 || vj <= 1e-9 {
                continue;
            }
            let s = (vi * vj).sqrt();
            let r = (xx / w - mi * mj) / s;
            let e = r - target;
            cost += q * e * e;
            let a = 2.0 * q * e / (w * s);
            coef[ij][0] = a;
            coef[ji][0] = a;
            coef[ij][1] = 2.0 * q * e * r / (w * vi);
            coef[ji][1] = 2.0 * q * e * r / (w * vj);
        }
        let prox = PROXIMITY / self.total;
        // Pass 2: each class its own gradient entries.
        let mut grad = vec![0.0; z.len()];
        let mut far = 0.0;
        let parts: Vec<(usize, Vec<f64>, f64)> = starts
            .par_iter()
            .map(|&a| {
                let b = (a + CHUNK).min(n);
                let lo = cl.offsets[a];
                let mut g = vec![0.0; cl.offsets[b] - lo];
                let mut dist = 0.0;
                for c in a..b {
                    let w = cl.weights[c];
                    let r = cl.range(c);
                    let dims = &cl.dims[r.clone()];
                    let vals = &z[r.clone()];
                    let start = &self.start[r.clone()];
                    for x in 0..dims.len() {
                        let i = dims[x] as usize;
                        let slot = r.start + x - lo;
                        let zi = vals[x];
                        let mut gi = 0.0;
                        if self.active[i] {
                            gi += w * (mean_coef[i] + var_coef[i] * (zi - mean[i]));
                            for y in 0..dims.len() {
                                if y == x {
                                    continue;
                                }
                                let [a, b, mi, mj, mp, vp] = coef[i * d + dims[y] as usize];
                                gi += w * (mp + vp * (zi - mi));
                                if a != 0.0 {
                                    gi += w * (a * (vals[y] - mj) - b * (zi - mi));
                                }
                            }
                        }
                        let off = zi - start[x];
                        dist += w * off * off;
                        gi += 2.0 * prox * w * off;
                        g[slot] = gi;
                    }
                }
                (lo, g, dist)
            })
            .collect();
        for (lo, g, dist) in parts {
            grad[lo..lo + g.len()].copy_from_slice(&g);
            far += dist;
        }
        cost += prox * far;
        *self.last.lock().expect("not poisoned") = Some((z.to_vec(), cost, grad.clone()));
        (cost, grad)
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, z: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(z).0)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, z: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.eval(z).1)
    }
}

/// What a calibration did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub cost_before: f64,
    pub cost_after: f64,
    pub iterations: u64,
}

/// Moves the class values `x` (flat, as `cloud` lays them out, in the measurements' units)
/// toward the targets, at most `iterations` L-BFGS steps; then sets each measurement's
/// weighted mean and standard deviation over the classes holding it to the targets'.
///
/// `pooled[i * d + j]` (i < j): people the whole table releases with both i and j. A pair
/// read in the table (released together for at least [`PAIR_PEOPLE`] people) weighs in
/// full; a rarer one, whose correlation nobody can read, little: the rows' freedom goes
/// where it is read.
pub fn calibrate(
    cloud: &Cloud,
    x: &mut [f64],
    t: &Targets,
    pooled: &[f64],
    iterations: u64,
) -> Report {
    let d = cloud.d;
    let n = cloud.classes();
    let mut classes_of = vec![0usize; d];
    for &j in &cloud.dims {
        classes_of[j as usize] += 1;
    }
    let active: Vec<bool> = (0..d)
        .map(|j| classes_of[j] >= 2 && t.sd[j] > 0.0 && t.count[j] >= 2.0)
        .collect();
    // Standardized by the targets: a measurement not calibrated keeps its values.
    let z: Vec<f64> = (0..n)
        .flat_map(|c| cloud.range(c))
        .map(|k| {
            let j = cloud.dims[k] as usize;
            if active[j] {
                (x[k] - t.mean[j]) / t.sd[j]
            } else {
                x[k]
            }
        })
        .collect();
    // Pairs whose correlation is a target: both measurements calibrated, enough classes
    // in common.
    let mut common = vec![0usize; d * d];
    for c in 0..n {
        let dims = &cloud.dims[cloud.range(c)];
        for (x, &i) in dims.iter().enumerate() {
            for &j in &dims[x + 1..] {
                common[i as usize * d + j as usize] += 1;
            }
        }
    }
    let mut pairs = Vec::new();
    for i in 0..d {
        for j in i + 1..d {
            let r = t.corr[i * d + j];
            if active[i] && active[j] && !r.is_nan() && common[i * d + j] >= PAIR_CLASSES {
                let q = if pooled[i * d + j] >= PAIR_PEOPLE {
                    1.0
                } else {
                    RARE_PAIR * pooled[i * d + j] / PAIR_PEOPLE
                };
                pairs.push(PairTarget {
                    i,
                    j,
                    corr: r,
                    weight: q,
                    mean: (
                        (t.pair_mean[i * d + j] - t.mean[i]) / t.sd[i],
                        (t.pair_mean[j * d + i] - t.mean[j]) / t.sd[j],
                    ),
                    var: (
                        t.pair_var[i * d + j] / (t.sd[i] * t.sd[i]),
                        t.pair_var[j * d + i] / (t.sd[j] * t.sd[j]),
                    ),
                });
            }
        }
    }
    let problem = Problem {
        total: cloud.weights.iter().sum::<f64>().max(1.0),
        cloud,
        start: z.clone(),
        pairs,
        active: active.clone(),
        last: Mutex::new(None),
    };
    let before = problem.eval(&z).0;
    let (mut z, after, iters) = if iterations == 0 || cloud.weights.is_empty() {
        (z, before, 0)
    } else {
        let line = MoreThuenteLineSearch::new();
        let solver = LBFGS::new(line, 7)
            .with_tolerance_cost(1e-12)
            .expect("a valid tolerance");
        let run = Executor::new(problem, solver)
            .configure(|s| s.param(z.clone()).max_iters(iterations))
            .run();
        match run {
            Ok(res) => {
                let st = res.state();
                let best = st.get_best_param().cloned().unwrap_or(z);
                let cost = st.get_best_cost();
                (best, cost, st.get_iter())
            }
            // A failed line search leaves the rows where they started.
            Err(_) => (z, before, 0),
        }
    };
    // Each calibrated measurement's mean and deviation exactly the targets'.
    let mut m = Sums::new(d);
    for c in 0..n {
        let w = cloud.weights[c];
        for k in cloud.range(c) {
            let j = cloud.dims[k] as usize;
            m.n[j] += w;
            m.s[j] += w * z[k];
            m.q[j] += w * z[k] * z[k];
        }
    }
    for c in 0..n {
        for k in cloud.range(c) {
            let j = cloud.dims[k] as usize;
            if !active[j] {
                x[k] = z[k];
                continue;
            }
            let mj = m.s[j] / m.n[j];
            let sj = (m.q[j] / m.n[j] - mj * mj).max(0.0).sqrt();
            let zz = if sj > 1e-12 { (z[k] - mj) / sj } else { 0.0 };
            z[k] = zz;
            x[k] = t.mean[j] + t.sd[j] * zz;
        }
    }
    Report {
        cost_before: before,
        cost_after: after,
        iterations: iters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Weighted correlation of two columns over the classes holding both.
    fn corr_of(cloud: &Cloud, x: &[f64], i: usize, j: usize) -> f64 {
        let mut v = Vec::new();
        for c in 0..cloud.classes() {
            let r = cloud.range(c);
            let dims = &cloud.dims[r.clone()];
            let (Some(a), Some(b)) = (
                dims.iter().position(|&q| q as usize == i),
                dims.iter().position(|&q| q as usize == j),
            ) else {
                continue;
            };
            v.push((cloud.weights[c], x[r.start + a], x[r.start + b]));
        }
        let w: f64 = v.iter().map(|t| t.0).sum();
        let ma = v.iter().map(|t| t.0 * t.1).sum::<f64>() / w;
        let mb = v.iter().map(|t| t.0 * t.2).sum::<f64>() / w;
        let va = v.iter().map(|t| t.0 * (t.1 - ma).powi(2)).sum::<f64>() / w;
        let vb = v.iter().map(|t| t.0 * (t.2 - mb).powi(2)).sum::<f64>() / w;
        v.iter().map(|t| t.0 * (t.1 - ma) * (t.2 - mb)).sum::<f64>() / w / (va * vb).sqrt()
    }

    /// People on three correlated measurements, each holding a random two or three of
    /// them; classes of 10 people of one pattern at their means (spreads shrunk,
    /// correlations off): calibration brings every mean, deviation and correlation to the
    /// people's, and gives the same bytes on 1 and 2 threads.
    #[test]
    fn calibration_reaches_the_targets_and_does_not_depend_on_threads() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let d = 3;
        let mut people: Vec<[f32; 3]> = Vec::new();
        for _ in 0..3000 {
            let h: f64 = rng.random_range(-1.0..1.0);
            let g: f64 = rng.random_range(-1.0..1.0);
            let mut v = [
                (800.0 + 60.0 * h + 20.0 * rng.random_range(-1.0..1.0)) as f32,
                (400.0 + 30.0 * h + 30.0 * g) as f32,
                (1000.0 + 40.0 * g + 10.0 * rng.random_range(-1.0..1.0)) as f32,
            ];
            if rng.random::<f64>() < 0.5 {
                v[rng.random_range(0..3)] = f32::NAN;
            }
            people.push(v);
        }
        let t = Targets::of(people.len(), d, &|i| &people[i][..]);
        // Classes: people grouped by pattern, then in runs of 10.
        let mut by_pattern: std::collections::BTreeMap<Vec<u16>, Vec<usize>> = Default::default();
        for (i, p) in people.iter().enumerate() {
            let dims: Vec<u16> = (0..3)
                .filter(|&j| !p[j].is_nan())
                .map(|j| j as u16)
                .collect();
            by_pattern.entry(dims).or_default().push(i);
        }
        let mut cloud = Cloud {
            d,
            offsets: vec![0],
            dims: vec![],
            weights: vec![],
        };
        let mut x = Vec::new();
        for (dims, members) in &by_pattern {
            for class in members.chunks(10) {
                for &j in dims {
                    cloud.dims.push(j);
                    let s: f64 = class.iter().map(|&i| people[i][j as usize] as f64).sum();
                    x.push(s / class.len() as f64);
                }
                cloud.weights.push(class.len() as f64);
                cloud.offsets.push(cloud.dims.len());
            }
        }
        let run = |threads: usize| {
            let mut x = x.clone();
            let report = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| calibrate(&cloud, &mut x, &t, &vec![PAIR_PEOPLE; d * d], 300));
            (x, report)
        };
        let (one, report) = run(1);
        let (two, _) = run(2);
        assert_eq!(
            one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            two.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(report.cost_after < report.cost_before / 100.0, "{report:?}");
        for i in 0..d {
            for j in i + 1..d {
                let got = corr_of(&cloud, &one, i, j);
                let want = t.corr[i * d + j];
                assert!((got - want).abs() < 0.01, "corr({i},{j}) {got} vs {want}");
            }
        }
        // Means and deviations exactly the targets'.
        for j in 0..d {
            let (mut w, mut s, mut q) = (0.0, 0.0, 0.0);
            for c in 0..cloud.classes() {
                for k in cloud.range(c) {
                    if cloud.dims[k] as usize == j {
                        w += cloud.weights[c];
                        s += cloud.weights[c] * one[k];
                        q += cloud.weights[c] * one[k] * one[k];
                    }
                }
            }
            let m = s / w;
            assert!((m - t.mean[j]).abs() < 1e-6 * t.mean[j]);
            assert!(((q / w - m * m).sqrt() - t.sd[j]).abs() < 1e-6 * t.sd[j]);
        }
    }
}
