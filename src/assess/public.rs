//! What the documents may say about the eligible people: a release is one of a series, and
//! any figure that is an exact function of the current people (a mean, a spread, a
//! percentile, a correlation) differenced between two versions one person apart gives that
//! person's values. So the documents compare the released rows with the release's noisy
//! figures ([`Knowledge`]), and say nothing else about the people's values: percentiles,
//! histograms, ranges, distances between people and their rows and the selection figures
//! of the eligible people are left out (NaN, written as null). The exact comparison is
//! written to the private folder only.

use super::pooled::{PairFigures, Pooled, PAIR_PEOPLE};
use super::utility::{Analysis, ColumnFigures, Side, StratumAnalysis};
use crate::anonymize::calibrate::Targets;
use crate::anonymize::known::{gauss, Knowledge};
use crate::anonymize::Partition;
use crate::pipeline::Pipeline;

/// `a` as the documents may publish it: every eligible side replaced by the noisy figures
/// of `known`, or removed.
pub fn public(pl: &Pipeline, part: &Partition, a: &Analysis, known: &Knowledge) -> Analysis {
    let d = pl.measurements.len();
    let strata = a
        .strata
        .iter()
        .map(|s| {
            // A series keeps the rows of classes whose people all left: nobody of their
            // category combination may be eligible now, and nothing is known of them.
            let t = match known.get(&part.strata[s.stratum]) {
                Some(k) => k.targets(),
                None => unknown(d),
            };
            let columns = s
                .columns
                .iter()
                .zip(&s.dims)
                .map(|(c, &p)| column(pl, c, p, &t))
                .collect();
            let n = s.dims.len();
            let mut corr_orig = s.corr_orig.clone();
            for (x, &i) in s.dims.iter().enumerate() {
                for (y, &j) in s.dims.iter().enumerate() {
                    if x != y && !corr_orig[x * n + y].is_nan() {
                        corr_orig[x * n + y] = t.corr[i * d + j];
                    }
                }
            }
            // The stratum's released rows (not its current people: in a series, the rows
            // of those who left stay, and a count of the people would tell whose stratum a
            // withdrawn person was in).
            let cats = &part.strata[s.stratum];
            let rows = part
                .classes
                .iter()
                .filter(|c| {
                    &part.strata[c.stratum] == cats
                        && (a.pooled.is_some() || part.dims[c.stratum] == s.dims)
                })
                .map(|c| c.rows())
                .sum();
            StratumAnalysis {
                stratum: s.stratum,
                dims: s.dims.clone(),
                people: rows,
                classes: s.classes,
                columns,
                corr_orig,
                corr_rel: s.corr_rel.clone(),
            }
        })
        .collect();
    let pooled = a.pooled.as_ref().map(|p| {
        let all: Vec<Targets> = known.by_category.values().map(|k| k.targets()).collect();
        let held = pool(&all, d);
        let measurements = p
            .measurements
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.holders_moments = (held.mean[m.pos], held.sd[m.pos]);
                m.own_moments = (f64::NAN, f64::NAN);
                // Holders as the noisy figures count them (an exact count differenced
                // between versions would tell which measurements a person held).
                m.holders = held.count[m.pos].round().max(0.0) as usize;
                m
            })
            .collect();
        Pooled {
            missing_values: p.missing_values,
            measurements,
            pairs: pairs(&held.corr, &p.released_corr, &p.released_both, d),
            released_corr: p.released_corr.clone(),
            released_both: p.released_both.clone(),
        }
    });
    Analysis { strata, pooled }
}

/// Targets of nobody: every figure NaN.
fn unknown(d: usize) -> Targets {
    Targets {
        d,
        count: vec![0.0; d],
        mean: vec![f64::NAN; d],
        sd: vec![f64::NAN; d],
        both: vec![0.0; d * d],
        corr: vec![f64::NAN; d * d],
        pair_mean: vec![f64::NAN; d * d],
        pair_var: vec![f64::NAN; d * d],
    }
}

/// One measurement's figures with the eligible side from the noisy targets `t`; the
/// released side's histogram is left out with the eligible one (its edges were theirs).
fn column(pl: &Pipeline, c: &ColumnFigures, p: usize, t: &Targets) -> ColumnFigures {
    let def = &pl.catalog.measurements[pl.measurements[p]];
    ColumnFigures {
        orig: Side {
            mean: t.mean[p],
            std: t.sd[p],
            pct: [f64::NAN; 7],
            hist: Vec::new(),
        },
        rel: Side {
            hist: Vec::new(),
            ..c.rel.clone()
        },
        hist_lo: f64::NAN,
        hist_hi: f64::NAN,
        min: def.min,
        max: def.max,
        mean_abs_change: f64::NAN,
        mean_width: c.mean_width,
        sq_std_dist: f64::NAN,
    }
}

/// Targets of several groups as one: counts added, means weighted by the counts, spreads
/// and each pair's correlation (over the people holding both) with the spread between the
/// groups' means included.
pub fn pool(parts: &[Targets], d: usize) -> Targets {
    let mut t = unknown(d);
    let ok = |x: f64| !x.is_nan();
    for p in 0..d {
        let g: Vec<&Targets> = parts
            .iter()
            .filter(|g| g.count[p] > 0.0 && ok(g.mean[p]))
            .collect();
        let n: f64 = g.iter().map(|g| g.count[p]).sum();
        if n <= 0.0 {
            continue;
        }
        let m = g.iter().map(|g| g.count[p] * g.mean[p]).sum::<f64>() / n;
        let v = g
            .iter()
            .map(|g| g.count[p] * (g.sd[p].powi(2) + (g.mean[p] - m).powi(2)))
            .sum::<f64>()
            / n;
        (t.count[p], t.mean[p], t.sd[p]) = (n, m, v.sqrt());
    }
    for i in 0..d {
        for j in i + 1..d {
            let (ij, ji) = (i * d + j, j * d + i);
            let g: Vec<&Targets> = parts
                .iter()
                .filter(|g| {
                    g.both[ij] > 0.0
                        && ok(g.corr[ij])
                        && ok(g.pair_mean[ij] + g.pair_mean[ji] + g.pair_var[ij] + g.pair_var[ji])
                })
                .collect();
            let b: f64 = g.iter().map(|g| g.both[ij]).sum();
            if b <= 0.0 {
                continue;
            }
            let mi = g.iter().map(|g| g.both[ij] * g.pair_mean[ij]).sum::<f64>() / b;
            let mj = g.iter().map(|g| g.both[ij] * g.pair_mean[ji]).sum::<f64>() / b;
            let (mut vi, mut vj, mut c) = (0.0, 0.0, 0.0);
            for g in &g {
                let (di, dj) = (g.pair_mean[ij] - mi, g.pair_mean[ji] - mj);
                let (si, sj) = (g.pair_var[ij].max(0.0), g.pair_var[ji].max(0.0));
                vi += g.both[ij] * (si + di * di);
                vj += g.both[ij] * (sj + dj * dj);
                c += g.both[ij] * (g.corr[ij] * (si * sj).sqrt() + di * dj);
            }
            let r = if vi > 0.0 && vj > 0.0 {
                c / (vi * vj).sqrt()
            } else {
                f64::NAN
            };
            t.both[ij] = b;
            t.both[ji] = b;
            t.corr[ij] = r;
            t.corr[ji] = r;
        }
    }
    t
}

/// Correlation changes, released against `held`, for pairs released together for at least
/// [`PAIR_PEOPLE`] people (as the pooled analysis counts them).
fn pairs(held: &[f64], rel: &[f64], both: &[f64], d: usize) -> PairFigures {
    let mut changes: Vec<(f64, usize, usize, usize)> = Vec::new();
    for i in 0..d {
        for j in i + 1..d {
            let k = i * d + j;
            if both[k] < PAIR_PEOPLE as f64 || held[k].is_nan() || rel[k].is_nan() {
                continue;
            }
            changes.push(((held[k] - rel[k]).abs(), i, j, both[k] as usize));
        }
    }
    changes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut sorted: Vec<f64> = changes.iter().map(|c| c.0).collect();
    sorted.sort_by(f64::total_cmp);
    PairFigures {
        pairs: changes.len(),
        max_change: changes.first().map_or(0.0, |c| c.0),
        median_change: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
        worst: changes.first().map(|c| (c.1, c.2, c.3)),
    }
}

/// The keyed noise stream of a release's risk figures (`what`: which).
fn risk_stream(
    pl: &Pipeline,
    key: &crate::anonymize::noise::NoiseKey,
    version: &str,
    what: &str,
) -> rand_chacha::ChaCha20Rng {
    crate::anonymize::known::stream(key, &pl.dataset.name, version, &[], what)
}

/// Unique records before anonymization as the documents may publish them: each count of
/// people with Gaussian noise of `count_noise` people (an exact count differenced between
/// versions tells whether a withdrawn person was unique). Keyed by the version: `release`
/// and `report --source` draw the same noise.
pub fn public_uniqueness(
    pl: &Pipeline,
    key: &crate::anonymize::noise::NoiseKey,
    version: &str,
    people: usize,
    uniqueness: &mut [super::risk::Uniqueness],
) {
    let mut rng = risk_stream(pl, key, version, "uniqueness");
    for u in uniqueness.iter_mut() {
        let noisy = (u.unique_people as f64 + pl.series.count_noise * gauss(&mut rng))
            .round()
            .max(0.0);
        u.unique_people = noisy as usize;
        u.share = noisy / people.max(1) as f64;
    }
}

/// The linkage check's figures as the documents may publish them: the nearest-neighbour
/// hits with Gaussian noise of `count_noise` people (the check itself used the exact ones).
pub fn public_linkage(
    pl: &Pipeline,
    key: &crate::anonymize::noise::NoiseKey,
    version: &str,
    linkage: &mut Option<serde_json::Value>,
) {
    let Some(l) = linkage else { return };
    let mut rng = risk_stream(pl, key, version, "linkage");
    let scored = l["scored"].as_f64().unwrap_or(0.0).max(1.0);
    // One draw for both: the hit rate (hits) stays at least the share (hits weighed by
    // 1 / the row's multiplicity), as it is exactly.
    let z = pl.series.count_noise * gauss(&mut rng);
    for f in ["nearest_neighbour_share", "nearest_neighbour_hit_rate"] {
        if let Some(x) = l[f].as_f64() {
            let noisy = (x * scored + z).clamp(0.0, scored) / scored;
            l[f] = serde_json::json!((noisy * 1e4).round() / 1e4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: f64, mean: [f64; 2], sd: [f64; 2], r: f64) -> Targets {
        let d = 2;
        Targets {
            d,
            count: vec![n, n],
            mean: mean.to_vec(),
            sd: sd.to_vec(),
            both: vec![n, n, n, n],
            corr: vec![f64::NAN, r, r, f64::NAN],
            pair_mean: vec![f64::NAN, mean[0], mean[1], f64::NAN],
            pair_var: vec![f64::NAN, sd[0].powi(2), sd[1].powi(2), f64::NAN],
        }
    }

    /// Pooling two groups gives what the pooled people would show: here two groups of
    /// uncorrelated values whose means differ along the diagonal, which correlates them.
    #[test]
    fn pooling_adds_the_spread_between_groups() {
        let a = targets(100.0, [0.0, 0.0], [1.0, 1.0], 0.0);
        let b = targets(100.0, [2.0, 2.0], [1.0, 1.0], 0.0);
        let t = pool(&[a, b], 2);
        assert_eq!(t.count, vec![200.0, 200.0]);
        assert!((t.mean[0] - 1.0).abs() < 1e-12);
        // Variance 1 within plus 1 between.
        assert!((t.sd[0] - 2f64.sqrt()).abs() < 1e-12);
        // Covariance 1 (between only) over variance 2.
        assert!((t.corr[1] - 0.5).abs() < 1e-12, "{}", t.corr[1]);
        assert_eq!(t.both[1], 200.0);
    }
}
