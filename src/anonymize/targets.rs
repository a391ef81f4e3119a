//! What released rows should show: per measurement and per pair of measurements, counts,
//! means, spreads and correlations over the people (or class rows) that hold them.

use super::calibrate::CHUNK;
use super::moments::{add_products, BLOCK};
use faer::Mat;
use rayon::prelude::*;

/// What the released rows of one category combination should show.
#[derive(Debug, Clone)]
pub struct Targets {
    pub d: usize,
    /// Per measurement, over the people holding it: count, mean, standard deviation.
    pub count: Vec<f64>,
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    /// Row-major d x d, over the people holding both: count and correlation (NaN where
    /// fewer than 3 people hold both or a side has no spread).
    pub both: Vec<f64>,
    pub corr: Vec<f64>,
    /// Row-major d x d: at (i, j), the mean and the variance of measurement i over the
    /// people holding both.
    pub pair_mean: Vec<f64>,
    pub pair_var: Vec<f64>,
}

/// Running sums over pairs of measurements (upper triangle of d x d): per pair, in one
/// place (one cache line per update), the weight, the sums of either value, of their
/// squares, and of their product.
#[derive(Clone)]
pub(super) struct PairSums {
    pub(super) s: Vec<[f64; 6]>,
}

impl PairSums {
    pub(super) fn new(d: usize) -> PairSums {
        PairSums {
            s: vec![[0.0; 6]; d * d],
        }
    }

    #[inline]
    pub(super) fn add(&mut self, k: usize, w: f64, a: f64, b: f64) {
        let e = &mut self.s[k];
        e[0] += w;
        e[1] += w * a;
        e[2] += w * b;
        e[3] += w * a * a;
        e[4] += w * b * b;
        e[5] += w * a * b;
    }

    pub(super) fn merge(&mut self, o: &PairSums) {
        for (x, y) in self.s.iter_mut().zip(&o.s) {
            for i in 0..6 {
                x[i] += y[i];
            }
        }
    }
}

/// Running sums per measurement.
#[derive(Clone)]
pub(super) struct Sums {
    pub(super) n: Vec<f64>,
    pub(super) s: Vec<f64>,
    pub(super) q: Vec<f64>,
}

impl Sums {
    pub(super) fn new(d: usize) -> Sums {
        Sums {
            n: vec![0.0; d],
            s: vec![0.0; d],
            q: vec![0.0; d],
        }
    }

    pub(super) fn merge(&mut self, o: &Sums) {
        for (a, b) in [
            (&mut self.n, &o.n),
            (&mut self.s, &o.s),
            (&mut self.q, &o.q),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

/// Adds to `p` the pair sums of `run`'s records (indices in its second field): per pair
/// (j, l) held together, the weight and the weighted sums of either value, of their
/// squares and of their product. As faer products over blocks of BLOCK records (as
/// columns, 0 where a value is not held): `mw m^T` the weights, `yw m^T` each side's sums
/// (the other side's are its transpose), `y2w m^T` the squares, `yw y^T` the products.
fn pair_sums<'a>(
    p: &mut PairSums,
    run: &[(usize, usize)],
    d: usize,
    values: &(dyn Fn(usize) -> &'a [f32] + Sync),
    weight: &(dyn Fn(usize) -> f64 + Sync),
) {
    let zeros = || Mat::<f64>::zeros(d, BLOCK);
    let (mut m, mut mw, mut y, mut yw, mut y2w) = (zeros(), zeros(), zeros(), zeros(), zeros());
    let square = || Mat::<f64>::zeros(d, d);
    let (mut nn, mut s, mut q, mut x) = (square(), square(), square(), square());
    for block in run.chunks(BLOCK) {
        for mat in [&mut m, &mut mw, &mut y, &mut yw, &mut y2w] {
            mat.fill(0.0);
        }
        for (c, &(_, i)) in block.iter().enumerate() {
            let w = weight(i);
            for (j, &v) in values(i).iter().enumerate() {
                if !v.is_nan() {
                    let v = v as f64;
                    (m[(j, c)], mw[(j, c)], y[(j, c)]) = (1.0, w, v);
                    (yw[(j, c)], y2w[(j, c)]) = (w * v, w * v * v);
                }
            }
        }
        for (dst, a, b) in [
            (&mut nn, &mw, &m),
            (&mut s, &yw, &m),
            (&mut q, &y2w, &m),
            (&mut x, &yw, &y),
        ] {
            add_products(dst, a.as_ref(), b.as_ref());
        }
    }
    for j in 0..d {
        for l in j + 1..d {
            let add = [
                nn[(j, l)],
                s[(j, l)],
                s[(l, j)],
                q[(j, l)],
                q[(l, j)],
                x[(j, l)],
            ];
            for (e, v) in p.s[j * d + l].iter_mut().zip(add) {
                *e += v;
            }
        }
    }
}

impl Targets {
    /// The targets of `n` people whose values (`d` each, NaN where not held) `values(i)`
    /// gives.
    pub fn of<'a>(n: usize, d: usize, values: &(dyn Fn(usize) -> &'a [f32] + Sync)) -> Targets {
        Targets::weighted(n, d, values, &|_| 1.0)
    }

    /// As [`Targets::of`], record `i` counting `weight(i)` times (a class row, once per
    /// member).
    pub fn weighted<'a>(
        n: usize,
        d: usize,
        values: &(dyn Fn(usize) -> &'a [f32] + Sync),
        weight: &(dyn Fn(usize) -> f64 + Sync),
    ) -> Targets {
        let (mut all, _) = Targets::by_group(n, d, values, weight, &|_| 0, 1);
        all.pop().expect("one group")
    }

    /// The targets of each of `groups` groups of records (`group(i)` says which) and of
    /// all of them, from one pass over the records.
    pub fn by_group<'a>(
        n: usize,
        d: usize,
        values: &(dyn Fn(usize) -> &'a [f32] + Sync),
        weight: &(dyn Fn(usize) -> f64 + Sync),
        group: &(dyn Fn(usize) -> usize + Sync),
        groups: usize,
    ) -> (Vec<Targets>, Targets) {
        let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
        let parts: Vec<Vec<Option<(Sums, PairSums)>>> = starts
            .par_iter()
            .map(|&a| {
                let mut out: Vec<Option<(Sums, PairSums)>> = vec![None; groups];
                // The chunk's records group by group, each group's in order.
                let mut order: Vec<(usize, usize)> =
                    (a..(a + CHUNK).min(n)).map(|i| (group(i), i)).collect();
                order.sort_unstable();
                for run in order.chunk_by(|x, y| x.0 == y.0) {
                    let (m, p) =
                        out[run[0].0].get_or_insert_with(|| (Sums::new(d), PairSums::new(d)));
                    for &(_, i) in run {
                        let w = weight(i);
                        for (j, &v) in values(i).iter().enumerate() {
                            if !v.is_nan() {
                                let v = v as f64;
                                m.n[j] += w;
                                m.s[j] += w * v;
                                m.q[j] += w * v * v;
                            }
                        }
                    }
                    pair_sums(p, run, d, values, weight);
                }
                out
            })
            .collect();
        let mut sums: Vec<(Sums, PairSums)> = vec![(Sums::new(d), PairSums::new(d)); groups];
        let mut total = (Sums::new(d), PairSums::new(d));
        for part in &parts {
            for (g, x) in part.iter().enumerate() {
                if let Some((a, b)) = x {
                    sums[g].0.merge(a);
                    sums[g].1.merge(b);
                }
            }
        }
        for (a, b) in &sums {
            total.0.merge(a);
            total.1.merge(b);
        }
        (
            sums.iter()
                .map(|(m, p)| Targets::from_sums(d, m, p))
                .collect(),
            Targets::from_sums(d, &total.0, &total.1),
        )
    }

    fn from_sums(d: usize, m: &Sums, p: &PairSums) -> Targets {
        let mean: Vec<f64> = (0..d).map(|j| m.s[j] / m.n[j].max(1.0)).collect();
        let sd: Vec<f64> = (0..d)
            .map(|j| {
                (m.q[j] / m.n[j].max(1.0) - mean[j] * mean[j])
                    .max(0.0)
                    .sqrt()
            })
            .collect();
        let mut both = vec![0.0; d * d];
        let mut corr = vec![f64::NAN; d * d];
        let mut pair_mean = vec![f64::NAN; d * d];
        let mut pair_var = vec![f64::NAN; d * d];
        for i in 0..d {
            for j in i + 1..d {
                let k = i * d + j;
                let [nn, si, sj, qi, qj, xx] = p.s[k];
                both[k] = nn;
                both[j * d + i] = nn;
                if nn < 3.0 {
                    continue;
                }
                let (mi, mj) = (si / nn, sj / nn);
                pair_mean[k] = mi;
                pair_mean[j * d + i] = mj;
                let vi = qi / nn - mi * mi;
                let vj = qj / nn - mj * mj;
                pair_var[k] = vi.max(0.0);
                pair_var[j * d + i] = vj.max(0.0);
                if vi <= 1e-12 * (1.0 + mi * mi) || vj <= 1e-12 * (1.0 + mj * mj) {
                    continue;
                }
                let r = ((xx / nn - mi * mj) / (vi * vj).sqrt()).clamp(-1.0, 1.0);
                corr[k] = r;
                corr[j * d + i] = r;
            }
        }
        Targets {
            d,
            count: m.n.clone(),
            mean,
            sd,
            both,
            corr,
            pair_mean,
            pair_var,
        }
    }
}
