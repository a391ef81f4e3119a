//! Utility kept by a release, computed from the eligible data and the released table and
//! written to the manifest: per category stratum and measurement, errors of the mean,
//! standard deviation and 5/50/95th percentiles; the largest and median absolute change of
//! the correlation matrix; the normalized root mean squared distance from each person's
//! released row to their own values. Aggregates over whole strata only.

use crate::anonymize::{Partition, Table};
use crate::filter::Eligible;
use crate::pipeline::{Pipeline, Representation};
use serde_json::{json, Map, Value};

/// Mean of a slice: the reference the streamed figures are tested against.
#[cfg(test)]
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Population standard deviation of a slice (test reference, as [`mean`]).
#[cfg(test)]
pub fn std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// Nearest-rank percentile of sorted values.
#[cfg(test)]
fn pct(sorted: &[f64], p: f64) -> f64 {
    smoothed_pct(sorted, p, 1)
}

/// A percentile that is an aggregate of `k` people: the mean of the `k` sorted values
/// around the nearest rank. A plain percentile of the original data is one person's
/// value, which a public report must not show.
pub fn smoothed_pct(sorted: &[f64], p: f64, k: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let n = sorted.len();
    let k = k.clamp(1, n);
    let rank = (((p / 100.0) * n as f64).ceil() as usize).clamp(1, n) - 1;
    let start = rank.saturating_sub(k / 2).min(n - k);
    sorted[start..start + k].iter().sum::<f64>() / k as f64
}

/// Pearson correlation matrix (row-major, d x d) of whole columns: what the streamed
/// figures of [`analyse`] are checked against.
#[cfg(test)]
pub fn corr(cols: &[Vec<f64>]) -> Vec<f64> {
    let d = cols.len();
    let sd: Vec<f64> = cols.iter().map(|c| std(c)).collect();
    let mu: Vec<f64> = cols.iter().map(|c| mean(c)).collect();
    let n = cols.first().map_or(0, Vec::len) as f64;
    let mut r = vec![0.0; d * d];
    for i in 0..d {
        for j in i..d {
            let cov = cols[i]
                .iter()
                .zip(&cols[j])
                .map(|(a, b)| (a - mu[i]) * (b - mu[j]))
                .sum::<f64>()
                / n;
            let v = if sd[i] > 0.0 && sd[j] > 0.0 {
                cov / (sd[i] * sd[j])
            } else {
                0.0
            };
            r[i * d + j] = v;
            r[j * d + i] = v;
        }
    }
    r
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Percentiles the report and the manifest show (each k-smoothed).
pub const PERCENTILES: [f64; 7] = [1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0];

/// Index of a percentile in [`PERCENTILES`].
pub fn pct_index(p: f64) -> usize {
    PERCENTILES
        .iter()
        .position(|&q| q == p)
        .expect("a percentile of PERCENTILES")
}

/// The percentiles whose error, in the original standard deviation, the worst figure
/// takes (the tails a sizing table reads and the quartiles).
pub const CHECKED_PERCENTILES: [f64; 4] = [5.0, 25.0, 75.0, 95.0];
/// Histogram bins per measurement.
pub const BINS: usize = 16;

/// One side (the people's own values, or what was released for them) of a measurement.
#[derive(Debug, Clone)]
pub struct Side {
    pub mean: f64,
    pub std: f64,
    /// k-smoothed percentiles at [`PERCENTILES`].
    pub pct: [f64; 7],
    /// People per histogram bin over `hist_lo..hist_hi` of the measurement (values outside
    /// go to the end bins).
    pub hist: Vec<usize>,
}

/// One measurement of one stratum: the figures of both sides and what links them.
#[derive(Debug, Clone)]
pub struct ColumnFigures {
    pub orig: Side,
    pub rel: Side,
    /// Histogram edges: k-smoothed 1st and 99th percentiles of the original values.
    pub hist_lo: f64,
    pub hist_hi: f64,
    /// Smallest and largest original value (the stratum's range, for the NCP).
    pub min: f64,
    pub max: f64,
    /// Mean |released - own value|.
    pub mean_abs_change: f64,
    /// Mean released interval width (0 for centroids).
    pub mean_width: f64,
    /// Sum over people of ((own - released) / original std)^2.
    pub sq_std_dist: f64,
}

impl ColumnFigures {
    /// Released mean against the original, in percent of the original.
    pub fn mean_error_pct(&self) -> f64 {
        100.0 * (self.rel.mean - self.orig.mean) / self.orig.mean.abs().max(1e-9)
    }

    /// Released standard deviation against the original, in percent of the original.
    pub fn std_error_pct(&self) -> f64 {
        100.0 * (self.rel.std - self.orig.std) / self.orig.std.max(1e-9)
    }

    /// Released minus original value of the (k-smoothed) percentile `p`.
    pub fn pct_diff(&self, p: f64) -> f64 {
        self.rel.pct[pct_index(p)] - self.orig.pct[pct_index(p)]
    }

    /// The largest error of [`CHECKED_PERCENTILES`], in original standard deviations (NaN
    /// when the original percentiles are not known).
    pub fn percentile_error_sd(&self) -> f64 {
        // NaN when the percentiles are not known (the public figures have none).
        CHECKED_PERCENTILES
            .iter()
            .map(|&p| self.pct_diff(p).abs() / self.orig.std.max(1e-9))
            .fold(0.0, |a, b| if b.is_nan() { b } else { a.max(b) })
    }
}

/// One stratum's figures, computed once for the manifest's utility and the report.
pub struct StratumAnalysis {
    pub stratum: usize,
    /// Release positions of the measurements that apply in the stratum.
    pub dims: Vec<usize>,
    pub people: usize,
    pub classes: usize,
    pub columns: Vec<ColumnFigures>,
    pub corr_orig: Vec<f64>,
    pub corr_rel: Vec<f64>,
}

/// Every stratum that has classes, analysed.
pub struct Analysis {
    /// Per stratum (a complete table), or per category combination pooled over its
    /// measurement patterns (a table whose people hold different measurements).
    pub strata: Vec<StratumAnalysis>,
    /// The whole table per measurement and pair, where people hold different measurements.
    pub pooled: Option<super::pooled::Pooled>,
}

/// What class `class` got for release position `p`, in catalog units: (released value or
/// interval midpoint, interval width).
fn released(pl: &Pipeline, t: &Table, class: usize, p: usize) -> (f64, f64) {
    let row = t.class_values(class);
    let res = pl.catalog.measurements[pl.measurements[p]].resolution;
    if pl.release.representation == Representation::Range {
        let (lo, hi) = (row[2 * p].unwrap_or(0), row[2 * p + 1].unwrap_or(0));
        ((lo + hi) as f64 / 2.0 * res, (hi - lo) as f64 * res)
    } else {
        (row[p].unwrap_or(0) as f64 * res, 0.0)
    }
}

/// Mean and (population) standard deviation of `n` values, each sum in the iterator's
/// order.
fn mean_std<I: Iterator<Item = f64>>(values: impl Fn() -> I, n: usize) -> (f64, f64) {
    let len = n.max(1) as f64;
    let m = values().sum::<f64>() / len;
    let v = values().map(|x| (x - m).powi(2)).sum::<f64>() / len;
    (m, v.sqrt())
}

/// [`side`] for the pooled figures.
pub(crate) fn side_of(moments: (f64, f64), sorted: &[f64], k: usize, lo: f64, hi: f64) -> Side {
    side(moments, sorted, k, lo, hi)
}

/// A side's figures: its mean and standard deviation, and the histogram and percentiles
/// of its values sorted.
fn side((mean, std): (f64, f64), sorted: &[f64], k: usize, lo: f64, hi: f64) -> Side {
    let mut hist = vec![0usize; BINS];
    let w = (hi - lo) / BINS as f64;
    for &v in sorted {
        let b = if w > 0.0 {
            ((v - lo) / w).floor() as isize
        } else {
            0
        };
        hist[b.clamp(0, BINS as isize - 1) as usize] += 1;
    }
    Side {
        mean,
        std,
        pct: PERCENTILES.map(|p| smoothed_pct(sorted, p, k)),
        hist,
    }
}

/// People per chunk of the correlation pass: partial sums per chunk, added in chunk
/// order, so the figures do not depend on the thread count.
const CHUNK: usize = 1 << 14;

/// The classes of one stratum and their people.
struct StratumClasses<'a> {
    /// (class, its members), in partition order.
    classes: Vec<(usize, &'a [u32])>,
    /// Each class's released rows (its members, and the rows of those who left it).
    rows: Vec<usize>,
    /// Every member, class after class in partition order.
    members: Vec<u32>,
}

/// Adds `weight * v v^T` to the upper triangle of `acc` (d x d, row-major).
fn add_outer(acc: &mut [f64], v: &[f64], weight: f64) {
    let d = v.len();
    for i in 0..d {
        let row = &mut acc[i * d + i..(i + 1) * d];
        for (a, &c) in row.iter_mut().zip(&v[i..]) {
            *a += weight * v[i] * c;
        }
    }
}

/// A value repeated `count` times (a class's released value, once per member).
type Run = (f64, usize);

/// Values given as runs, one by one.
fn expand(runs: &[Run]) -> impl Iterator<Item = f64> + '_ {
    runs.iter()
        .flat_map(|&(v, count)| std::iter::repeat_n(v, count))
}

/// Correlation matrices of the own and the released values from d x d sums: the own
/// values one person at a time, the released ones one class at a time (a class's rows are
/// identical, so each class counts as many times as it has members).
fn correlations(
    pl: &Pipeline,
    e: &Eligible,
    t: &Table,
    s: &StratumClasses,
    dims: &[usize],
    cols: &[ColumnFigures],
) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    let d = dims.len();
    let sum_chunks = |partial: Vec<Vec<f64>>| {
        let mut sum = vec![0.0; d * d];
        for p in partial {
            for (s, x) in sum.iter_mut().zip(p) {
                *s += x;
            }
        }
        sum
    };
    let orig = sum_chunks(
        s.members
            .par_chunks(CHUNK)
            .map(|chunk| {
                let mut acc = vec![0.0; d * d];
                let mut co = vec![0.0; d];
                for &m in chunk {
                    let values = &e.people.values(m as usize);
                    for (j, &p) in dims.iter().enumerate() {
                        co[j] = values[p] as f64 - cols[j].orig.mean;
                    }
                    add_outer(&mut acc, &co, 1.0);
                }
                acc
            })
            .collect(),
    );
    let classes: Vec<(usize, usize)> = s
        .classes
        .iter()
        .zip(&s.rows)
        .map(|(&(c, _), &r)| (c, r))
        .collect();
    let rel = sum_chunks(
        classes
            .par_chunks(CHUNK / 8)
            .map(|chunk| {
                let mut acc = vec![0.0; d * d];
                let mut cr = vec![0.0; d];
                for &(c, rows) in chunk {
                    for (j, &p) in dims.iter().enumerate() {
                        cr[j] = released(pl, t, c, p).0 - cols[j].rel.mean;
                    }
                    add_outer(&mut acc, &cr, rows as f64);
                }
                acc
            })
            .collect(),
    );
    let n_own = s.members.len().max(1) as f64;
    let n_rel = s.rows.iter().sum::<usize>().max(1) as f64;
    let matrix = |sum: &[f64], n: f64, sd: &dyn Fn(usize) -> f64| {
        let mut r = vec![0.0; d * d];
        for i in 0..d {
            for j in i..d {
                let (a, b) = (sd(i), sd(j));
                let v = if a > 0.0 && b > 0.0 {
                    sum[i * d + j] / n / (a * b)
                } else {
                    0.0
                };
                r[i * d + j] = v;
                r[j * d + i] = v;
            }
        }
        r
    };
    (
        matrix(&orig, n_own, &|j| cols[j].orig.std),
        matrix(&rel, n_rel, &|j| cols[j].rel.std),
    )
}

/// The figures of one measurement (release position `p`) in one stratum; `own`: the
/// people's own values in partition order, every `stride`-th element.
fn column(
    pl: &Pipeline,
    t: &Table,
    s: &StratumClasses,
    p: usize,
    own: &[f32],
    stride: usize,
) -> ColumnFigures {
    let k = pl.release.k;
    let n = s.members.len();
    let own = || own.iter().step_by(stride).copied();
    // Released value and width per class, then own and released values person by person
    // in partition order (as iterators: a column of a 10M-person stratum is 50 MB).
    let (values, widths): (Vec<Run>, Vec<Run>) = s
        .classes
        .iter()
        .map(|&(c, members)| {
            let (y, w) = released(pl, t, c, p);
            ((y, members.len()), (w, members.len()))
        })
        .unzip();
    // The released side as published: each class as many times as it has rows.
    let published: Vec<Run> = values
        .iter()
        .zip(&s.rows)
        .map(|(&(y, _), &rows)| (y, rows))
        .collect();
    let n_rel: usize = s.rows.iter().sum();
    let o = || own().map(|x| x as f64);
    let r = || expand(&values);
    let (mut abs, mut width) = (0.0, 0.0);
    for ((x, y), w) in o().zip(r()).zip(expand(&widths)) {
        abs += (x - y).abs();
        width += w;
    }
    let (mo, so) = mean_std(o, n);
    let (mr, sr) = mean_std(|| expand(&published), n_rel);
    let sq_std_dist = if so > 0.0 {
        o().zip(r()).map(|(a, b)| ((a - b) / so).powi(2)).sum()
    } else {
        0.0
    };
    let sorted = sorted_f32(own());
    // The released values sorted: a class's members share one value, so sort the classes.
    let mut by_value = published;
    by_value.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let r_sorted: Vec<f64> = expand(&by_value).collect();
    // Edges at k-smoothed 1st and 99th percentiles: no edge is one person's value.
    let (lo, hi) = (
        smoothed_pct(&sorted, 1.0, k),
        smoothed_pct(&sorted, 99.0, k),
    );
    ColumnFigures {
        orig: side((mo, so), &sorted, k, lo, hi),
        rel: side((mr, sr), &r_sorted, k, lo, hi),
        hist_lo: lo,
        hist_hi: hi,
        min: sorted[0],
        max: sorted[n - 1],
        mean_abs_change: abs / n as f64,
        mean_width: width / n as f64,
        sq_std_dist,
    }
}

/// Measurements gathered per pass over the people: each person's values are read once
/// per block, not once per measurement (a person is a cache miss).
const BLOCK: usize = 4;

/// The figures of the measurements `dims` in one stratum, a block of them at a time.
fn columns(
    pl: &Pipeline,
    e: &Eligible,
    t: &Table,
    s: &StratumClasses,
    dims: &[usize],
) -> Vec<ColumnFigures> {
    use rayon::prelude::*;
    let members = &s.members;
    let mut out = Vec::with_capacity(dims.len());
    for block in dims.chunks(BLOCK) {
        let b = block.len();
        // Row-major: person i's values of the block at i * b ..
        let mut data = vec![0f32; members.len() * b];
        data.par_chunks_mut(b * CHUNK)
            .zip(members.par_chunks(CHUNK))
            .for_each(|(rows, people)| {
                for (row, &m) in rows.chunks_exact_mut(b).zip(people) {
                    let values = &e.people.values(m as usize);
                    for (x, &p) in row.iter_mut().zip(block) {
                        *x = values[p];
                    }
                }
            });
        out.par_extend(
            block
                .par_iter()
                .enumerate()
                .map(|(j, &p)| column(pl, t, s, p, &data[j..], b)),
        );
    }
    out
}

/// Values sorted as `f64::total_cmp` sorts them (people's values are `f32`): a radix sort
/// on the bits (radsort: the order of `total_cmp`), instead of a comparison sort.
pub(crate) fn sorted_f32(values: impl Iterator<Item = f32>) -> Vec<f64> {
    let mut v: Vec<f32> = values.collect();
    radsort::sort(&mut v);
    v.into_iter().map(f64::from).collect()
}

/// Figures per stratum and measurement, computed a block of columns at a time (memory: a
/// few columns of one stratum, not the table).
pub fn analyse(pl: &Pipeline, e: &Eligible, part: &Partition, t: &Table) -> Analysis {
    // People who lack measurements that apply to them: the figures are pairwise complete,
    // per category combination and over the whole table.
    let missing = super::pooled::missing_values(pl, e);
    if missing > 0 {
        return super::pooled::analyse(pl, e, part, t, missing);
    }
    let mut strata = Vec::new();
    for si in 0..part.strata.len() {
        let classes: Vec<(usize, &[u32])> = (0..part.classes.len())
            .filter(|&c| part.classes[c].stratum == si)
            .map(|c| (c, part.classes[c].members.as_slice()))
            .collect();
        let members: Vec<u32> = classes
            .iter()
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        if members.is_empty() {
            continue;
        }
        let rows = classes
            .iter()
            .map(|&(c, _)| part.classes[c].rows())
            .collect();
        let s = StratumClasses {
            classes,
            rows,
            members,
        };
        let dims = part.dims[si].clone();
        let columns = columns(pl, e, t, &s, &dims);
        let (corr_orig, corr_rel) = correlations(pl, e, t, &s, &dims, &columns);
        strata.push(StratumAnalysis {
            stratum: si,
            people: s.members.len(),
            classes: s.classes.len(),
            dims,
            columns,
            corr_orig,
            corr_rel,
        });
    }
    Analysis {
        strata,
        pooled: None,
    }
}

/// A stratum's category values by category name, as the manifest and report show them.
pub fn category_values(pl: &Pipeline, cats: &[String]) -> Map<String, Value> {
    pl.categories
        .iter()
        .zip(cats)
        .map(|(c, v)| (c.name.clone(), json!(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::noise::NoiseKey;
    use crate::anonymize::testing::*;

    /// The utility figures are computed without holding the columns: their correlations
    /// and means must be those of the columns themselves.
    #[test]
    fn streamed_utility_figures_match_the_columns() {
        let pl = pipeline();
        let (e, mut part) = classes_of(&pl);
        let t = release_table(
            &pl,
            &e,
            &mut part,
            &NoiseKey::from_bytes(vec![5; 32]).unwrap(),
        );
        let a = crate::assess::utility::analyse(&pl, &e, &part, &t);
        assert!(!a.strata.is_empty());
        for s in &a.strata {
            let members: Vec<(usize, u32)> = (0..part.classes.len())
                .filter(|&c| part.classes[c].stratum == s.stratum)
                .flat_map(|c| part.classes[c].members.iter().map(move |&m| (c, m)))
                .collect();
            let res = |p: usize| pl.catalog.measurements[pl.measurements[p]].resolution;
            let orig: Vec<Vec<f64>> = s
                .dims
                .iter()
                .map(|&p| {
                    members
                        .iter()
                        .map(|&(_, m)| e.people.values(m as usize)[p] as f64)
                        .collect()
                })
                .collect();
            let rel: Vec<Vec<f64>> = s
                .dims
                .iter()
                .map(|&p| {
                    members
                        .iter()
                        .map(|&(c, _)| t.class_values(c)[p].unwrap() as f64 * res(p))
                        .collect()
                })
                .collect();
            for (want, got) in [
                (crate::assess::utility::corr(&orig), &s.corr_orig),
                (crate::assess::utility::corr(&rel), &s.corr_rel),
            ] {
                for (w, g) in want.iter().zip(got.iter()) {
                    assert!((w - g).abs() < 1e-9, "{w} vs {g}");
                }
            }
            for (j, c) in s.columns.iter().enumerate() {
                assert!((c.orig.mean - crate::assess::utility::mean(&orig[j])).abs() < 1e-9);
                assert!((c.rel.std - crate::assess::utility::std(&rel[j])).abs() < 1e-9);
                assert_eq!(c.orig.hist.iter().sum::<usize>(), members.len());
            }
        }
    }

    #[test]
    fn radix_sort_orders_like_total_cmp() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut v: Vec<f32> = (0..5000)
            .map(|i| match i % 7 {
                0 => rng.random_range(-1e6f32..1e6),
                1 => rng.random_range(0f32..2000.0).round(),
                2 => rng.random::<f32>() * 1e-30,
                _ => rng.random_range(200f32..1200.0),
            })
            .collect();
        v.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            -1.0,
            1.0,
        ]);
        let mut want: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        want.sort_unstable_by(f64::total_cmp);
        let got = sorted_f32(v.iter().copied());
        assert_eq!(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn percentiles_and_correlation() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(pct(&v, 5.0), 5.0);
        assert_eq!(pct(&v, 50.0), 50.0);
        assert_eq!(pct(&v, 95.0), 95.0);
        // k-smoothed: the mean of 10 values around rank 5 (values 1..=10).
        assert_eq!(smoothed_pct(&v, 5.0, 10), 5.5);
        assert_eq!(smoothed_pct(&v, 100.0, 10), 95.5);
        let a: Vec<f64> = (0..50).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|x| 3.0 - 2.0 * x).collect();
        let r = corr(&[a, b]);
        assert!((r[1] + 1.0).abs() < 1e-12);
    }
}
