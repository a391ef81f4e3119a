//! Utility kept by a release, computed from the eligible data and the released table and
//! written to the manifest: per category stratum and measurement, errors of the mean,
//! standard deviation and 5/50/95th percentiles; the largest and median absolute change of
//! the correlation matrix; the normalized root mean squared distance from each person's
//! released row to their own values. Aggregates over whole strata only.

use crate::anonymize::{Partition, Table};
use crate::filter::Eligible;
use crate::pipeline::{Pipeline, Representation};
use serde_json::{json, Map, Value};

pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

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

/// Pearson correlation matrix (row-major, d x d). Pairs run in parallel; each pair's sum
/// runs in order, so the result does not depend on the thread count.
pub fn corr(cols: &[Vec<f64>]) -> Vec<f64> {
    use rayon::prelude::*;
    let d = cols.len();
    let sd: Vec<f64> = cols.iter().map(|c| std(c)).collect();
    let n = cols.first().map_or(0, Vec::len) as f64;
    let centered: Vec<Vec<f64>> = cols
        .par_iter()
        .map(|c| {
            let m = mean(c);
            c.iter().map(|a| a - m).collect()
        })
        .collect();
    let pairs: Vec<(usize, usize)> = (0..d).flat_map(|i| (i..d).map(move |j| (i, j))).collect();
    let values: Vec<f64> = pairs
        .par_iter()
        .map(|&(i, j)| {
            let cov = centered[i]
                .iter()
                .zip(&centered[j])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n;
            if sd[i] > 0.0 && sd[j] > 0.0 {
                cov / (sd[i] * sd[j])
            } else {
                0.0
            }
        })
        .collect();
    let mut r = vec![0.0; d * d];
    for (&(i, j), v) in pairs.iter().zip(values) {
        r[i * d + j] = v;
        r[j * d + i] = v;
    }
    r
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// One stratum's released people, column by column: each person's own values and the
/// values released for them (range releases: the interval midpoint), in catalog units.
pub struct StratumColumns {
    /// Release positions of the measurements that apply in the stratum.
    pub dims: Vec<usize>,
    pub orig: Vec<Vec<f64>>,
    pub rel: Vec<Vec<f64>>,
    /// Range releases: the width of each person's released interval (0 for centroids).
    pub width: Vec<Vec<f64>>,
    pub classes: usize,
}

/// `None` when the stratum has no class (all suppressed).
pub fn stratum_columns(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    t: &Table,
    si: usize,
) -> Option<StratumColumns> {
    let range = pl.release.representation == Representation::Range;
    let cats = &part.strata[si];
    let classes: Vec<usize> = (0..part.classes.len())
        .filter(|&c| part.classes[c].stratum == si)
        .collect();
    if classes.is_empty() {
        return None;
    }
    let dims: Vec<usize> = (0..pl.measurements.len())
        .filter(|&p| pl.applies(pl.measurements[p], cats))
        .collect();
    let mut orig: Vec<Vec<f64>> = vec![Vec::new(); dims.len()];
    let mut rel: Vec<Vec<f64>> = vec![Vec::new(); dims.len()];
    let mut width: Vec<Vec<f64>> = vec![Vec::new(); dims.len()];
    for &c in &classes {
        let row = &t.values[t.class_rows[c]];
        for &m in &part.classes[c].members {
            let v = &e.people[m as usize].values;
            for (j, &p) in dims.iter().enumerate() {
                let res = pl.catalog.measurements[pl.measurements[p]].resolution;
                let released = if range {
                    (row[2 * p].unwrap_or(0) + row[2 * p + 1].unwrap_or(0)) as f64 / 2.0
                } else {
                    row[p].unwrap_or(0) as f64
                };
                let w = if range {
                    (row[2 * p + 1].unwrap_or(0) - row[2 * p].unwrap_or(0)) as f64
                } else {
                    0.0
                };
                orig[j].push(v[p]);
                rel[j].push(released * res);
                width[j].push(w * res);
            }
        }
    }
    Some(StratumColumns {
        dims,
        orig,
        rel,
        width,
        classes: classes.len(),
    })
}

/// One stratum's columns with what both the manifest's utility and the report need:
/// sorted copies and both correlation matrices, computed once.
pub struct StratumAnalysis {
    pub stratum: usize,
    pub cols: StratumColumns,
    pub sorted_orig: Vec<Vec<f64>>,
    pub sorted_rel: Vec<Vec<f64>>,
    pub corr_orig: Vec<f64>,
    pub corr_rel: Vec<f64>,
}

/// Every stratum that has classes, analysed.
pub struct Analysis {
    pub strata: Vec<StratumAnalysis>,
}

pub fn analyse(pl: &Pipeline, e: &Eligible, part: &Partition, t: &Table) -> Analysis {
    use rayon::prelude::*;
    let strata = (0..part.strata.len())
        .filter_map(|si| stratum_columns(pl, e, part, t, si).map(|c| (si, c)))
        .map(|(si, cols)| {
            let sorted = |v: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
                v.par_iter()
                    .map(|c| {
                        let mut c = c.clone();
                        c.sort_unstable_by(f64::total_cmp);
                        c
                    })
                    .collect()
            };
            StratumAnalysis {
                stratum: si,
                sorted_orig: sorted(&cols.orig),
                sorted_rel: sorted(&cols.rel),
                corr_orig: corr(&cols.orig),
                corr_rel: corr(&cols.rel),
                cols,
            }
        })
        .collect();
    Analysis { strata }
}

pub fn utility(pl: &Pipeline, part: &Partition, analysis: &Analysis) -> Value {
    let k = pl.release.k;
    let mut strata = Vec::new();
    let (mut worst_mean, mut worst_std, mut worst_corr) = (0.0f64, 0.0f64, 0.0f64);
    for a in &analysis.strata {
        let cats = &part.strata[a.stratum];
        let StratumColumns {
            dims, orig, rel, ..
        } = &a.cols;
        let n = orig.first().map_or(0, Vec::len);
        let mut per = Map::new();
        let mut sq = 0.0;
        for (j, &p) in dims.iter().enumerate() {
            let name = &pl.catalog.measurements[pl.measurements[p]].name;
            let (mo, mr) = (mean(&orig[j]), mean(&rel[j]));
            let (so, sr) = (std(&orig[j]), std(&rel[j]));
            let (o, r) = (&a.sorted_orig[j], &a.sorted_rel[j]);
            let mean_err = 100.0 * (mr - mo) / mo.abs().max(1e-9);
            let std_err = 100.0 * (sr - so) / so.max(1e-9);
            worst_mean = worst_mean.max(mean_err.abs());
            worst_std = worst_std.max(std_err.abs());
            if so > 0.0 {
                sq += orig[j]
                    .iter()
                    .zip(&rel[j])
                    .map(|(a, b)| ((a - b) / so).powi(2))
                    .sum::<f64>();
            }
            per.insert(
                name.clone(),
                json!({
                    "mean": [round(mo, 2), round(mr, 2)],
                    "mean_error_pct": round(mean_err, 3),
                    "std": [round(so, 2), round(sr, 2)],
                    "std_error_pct": round(std_err, 2),
                    "p5_error": round(smoothed_pct(r, 5.0, k) - smoothed_pct(o, 5.0, k), 1),
                    "p50_error": round(smoothed_pct(r, 50.0, k) - smoothed_pct(o, 50.0, k), 1),
                    "p95_error": round(smoothed_pct(r, 95.0, k) - smoothed_pct(o, 95.0, k), 1),
                }),
            );
        }
        let (co, cr) = (&a.corr_orig, &a.corr_rel);
        let d = dims.len();
        let mut diffs: Vec<f64> = (0..d)
            .flat_map(|i| (i + 1..d).map(move |j| (i, j)))
            .map(|(i, j)| (co[i * d + j] - cr[i * d + j]).abs())
            .collect();
        diffs.sort_by(f64::total_cmp);
        let max_corr = diffs.last().copied().unwrap_or(0.0);
        worst_corr = worst_corr.max(max_corr);
        let names: Map<String, Value> = pl
            .categories
            .iter()
            .zip(cats)
            .map(|(c, v)| (c.name.clone(), json!(v)))
            .collect();
        strata.push(json!({
            "categories": names,
            "people": n,
            "correlation_change": {
                "max": round(max_corr, 4),
                "median": round(diffs.get(diffs.len() / 2).copied().unwrap_or(0.0), 4),
            },
            "nrmsd": round((sq / (n * d).max(1) as f64).sqrt(), 4),
            "measurements": per,
        }));
    }
    json!({
        "compared_with": "the eligible people placed in classes (suppressed people excluded)",
        "percentiles": format!("each the mean of the {k} values around the nearest rank, so no figure is one person's value"),
        "worst": {
            "mean_error_pct": round(worst_mean, 3),
            "std_error_pct": round(worst_std, 2),
            "correlation_change": round(worst_corr, 4),
        },
        "strata": strata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
