//! Utility of a release whose people hold different measurements (sparse input: sets hold
//! what their owners entered). A researcher reads such a table per measurement and per
//! pair, pairwise complete: the mean of `waist` over every row that holds it, the
//! correlation of `waist` and `hips` over the rows that hold both. So the figures compare
//! exactly that against the eligible people who hold the measurement (or both), suppressed
//! values included: per category combination (the units of the manifest's and report's
//! utility), and pooled over the whole table. The released people's own values against
//! the holders give the selection effect of suppression: what the choice of who is
//! released with which measurement does to the statistics, before any anonymization.

use super::utility::{
    mean_std_of, side_of, smoothed_pct, sorted_f32, Analysis, ColumnFigures, StratumAnalysis,
};
use crate::anonymize::calibrate::Targets;
use crate::anonymize::{Partition, Table};
use crate::filter::Eligible;
use crate::pipeline::{Pipeline, Representation};

/// Pairs released together for fewer people than this are left out of the correlation
/// figures (their correlation is noise whatever the release does).
pub const PAIR_PEOPLE: usize = 200;

/// Values the eligible people lack of the measurements that apply to them: 0 for a
/// complete table, whose figures stay per stratum as they always were.
pub fn missing_values(pl: &Pipeline, e: &Eligible) -> u64 {
    use rayon::prelude::*;
    (0..e.people.len())
        .into_par_iter()
        .map(|i| {
            let cats: Vec<String> = (0..pl.categories.len())
                .map(|c| e.people.category(i, c).unwrap_or_default().to_string())
                .collect();
            e.people
                .values(i)
                .iter()
                .zip(&pl.measurements)
                .filter(|(v, &m)| v.is_nan() && pl.applies(m, &cats))
                .count() as u64
        })
        .sum()
}

/// One measurement over the whole table.
#[derive(Debug, Clone)]
pub struct MeasurementFigures {
    pub pos: usize,
    /// Eligible people holding it; released rows holding it.
    pub holders: usize,
    pub released: usize,
    /// (mean, standard deviation): the holders', the released rows', the released
    /// people's own values.
    pub holders_moments: (f64, f64),
    pub released_moments: (f64, f64),
    pub own_moments: (f64, f64),
}

/// Pairwise correlations over the whole table, for pairs released together for at least
/// [`PAIR_PEOPLE`] people.
#[derive(Debug, Clone, Default)]
pub struct PairFigures {
    pub pairs: usize,
    pub max_change: f64,
    pub median_change: f64,
    /// The pair of largest change (release positions) and the people released with both.
    pub worst: Option<(usize, usize, usize)>,
}

/// The whole table's figures per measurement and pair.
#[derive(Debug, Clone)]
pub struct Pooled {
    pub missing_values: u64,
    pub measurements: Vec<MeasurementFigures>,
    pub pairs: PairFigures,
}

/// Released values of the classes in `classes` (flat `classes x d`, NaN where a class
/// does not hold a position), in the measurements' units.
fn class_rows(pl: &Pipeline, t: &Table, classes: &[usize]) -> Vec<f32> {
    let d = pl.measurements.len();
    let range = pl.release.representation == Representation::Range;
    let mut out = vec![f32::NAN; classes.len() * d];
    for (x, &c) in classes.iter().enumerate() {
        let row = t.class_values(c);
        for p in 0..d {
            let res = pl.catalog.measurements[pl.measurements[p]].resolution;
            let v = if range {
                match (row[2 * p], row[2 * p + 1]) {
                    (Some(lo), Some(hi)) => Some((lo + hi) as f64 / 2.0),
                    _ => None,
                }
            } else {
                row[p].map(|v| v as f64)
            };
            if let Some(v) = v {
                out[x * d + p] = (v * res) as f32;
            }
        }
    }
    out
}

/// Figures of one unit (a category combination, or the whole table): `people` the
/// eligible people of the unit, `classes` its classes.
struct Unit<'a> {
    people: Vec<u32>,
    classes: Vec<usize>,
    rows: Vec<f32>,
    pl: &'a Pipeline,
}

impl Unit<'_> {
    fn weight(&self, part: &Partition, x: usize) -> f64 {
        part.classes[self.classes[x]].members.len() as f64
    }
}

/// The per-unit analysis: for each measurement the unit's rows hold, the holders' figures
/// against the released rows'; correlations pairwise complete (NaN where fewer than
/// [`PAIR_PEOPLE`] people are released with both).
fn unit_analysis(
    e: &Eligible,
    part: &Partition,
    t: &Table,
    u: &Unit,
    stratum: usize,
) -> StratumAnalysis {
    let pl = u.pl;
    let d = pl.measurements.len();
    let k = pl.release.k;
    let range = pl.release.representation == Representation::Range;
    let mut dims: Vec<usize> = (0..d)
        .filter(|&p| {
            u.classes
                .iter()
                .any(|&c| part.holds(part.classes[c].stratum, p))
        })
        .collect();
    dims.sort_unstable();
    let released_people: usize = u
        .classes
        .iter()
        .map(|&c| part.classes[c].members.len())
        .sum();
    let mut columns = Vec::with_capacity(dims.len());
    for &p in &dims {
        let holders: Vec<f32> = u
            .people
            .iter()
            .map(|&i| e.people.values(i as usize)[p])
            .filter(|v| !v.is_nan())
            .collect();
        // The released rows as runs (value, members), and per released person their own
        // value against the row's.
        let mut runs: Vec<(f64, usize)> = Vec::new();
        let (mut abs, mut width, mut n_rel) = (0.0, 0.0, 0usize);
        let mut pairs: Vec<(f64, f64)> = Vec::new();
        for (x, &c) in u.classes.iter().enumerate() {
            let v = u.rows[x * d + p];
            if v.is_nan() {
                continue;
            }
            let members = &part.classes[c].members;
            runs.push((v as f64, members.len()));
            let w = if range {
                let row = t.class_values(c);
                let res = pl.catalog.measurements[pl.measurements[p]].resolution;
                (row[2 * p + 1].unwrap_or(0) - row[2 * p].unwrap_or(0)) as f64 * res
            } else {
                0.0
            };
            for &m in members {
                let own = e.people.values(m as usize)[p] as f64;
                abs += (own - v as f64).abs();
                width += w;
                n_rel += 1;
                pairs.push((own, v as f64));
            }
        }
        let sorted = sorted_f32(holders.iter().copied());
        let (mo, so) = mean_std_of(sorted.iter().copied(), sorted.len());
        let rel = || runs.iter().flat_map(|&(v, c)| std::iter::repeat_n(v, c));
        let (mr, sr) = mean_std_of(rel(), n_rel);
        let mut by_value = runs.clone();
        by_value.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let r_sorted: Vec<f64> = by_value
            .iter()
            .flat_map(|&(v, c)| std::iter::repeat_n(v, c))
            .collect();
        let (lo, hi) = (
            smoothed_pct(&sorted, 1.0, k),
            smoothed_pct(&sorted, 99.0, k),
        );
        let sq_std_dist = if so > 0.0 {
            pairs.iter().map(|(a, b)| ((a - b) / so).powi(2)).sum()
        } else {
            0.0
        };
        columns.push(ColumnFigures {
            orig: side_of((mo, so), &sorted, k, lo, hi),
            rel: side_of((mr, sr), &r_sorted, k, lo, hi),
            hist_lo: lo,
            hist_hi: hi,
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            mean_abs_change: abs / n_rel.max(1) as f64,
            mean_width: width / n_rel.max(1) as f64,
            sq_std_dist,
        });
    }
    let (corr_orig, corr_rel) = correlations(e, part, u, &dims);
    StratumAnalysis {
        stratum,
        dims,
        people: released_people,
        classes: u.classes.len(),
        columns,
        corr_orig,
        corr_rel,
    }
}

/// Correlations of the unit's measurements `dims` (row-major `dims x dims`), over the
/// holders of both and over the released rows holding both; NaN where fewer than
/// [`PAIR_PEOPLE`] people are released with both.
fn correlations(e: &Eligible, part: &Partition, u: &Unit, dims: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let d = u.pl.measurements.len();
    let held = Targets::of(u.people.len(), d, &|i| {
        e.people.values(u.people[i] as usize)
    });
    let rel = Targets::weighted(u.classes.len(), d, &|x| &u.rows[x * d..(x + 1) * d], &|x| {
        u.weight(part, x)
    });
    let n = dims.len();
    let mut co = vec![1.0; n * n];
    let mut cr = vec![1.0; n * n];
    for (a, &i) in dims.iter().enumerate() {
        for (b, &j) in dims.iter().enumerate() {
            if a == b {
                continue;
            }
            let k = i * d + j;
            let enough = rel.both[k] >= PAIR_PEOPLE as f64;
            co[a * n + b] = if enough { held.corr[k] } else { f64::NAN };
            cr[a * n + b] = if enough { rel.corr[k] } else { f64::NAN };
        }
    }
    (co, cr)
}

/// The analysis of a release whose people hold different measurements: per category
/// combination (pooled over its patterns, against its holders), and over the whole table.
pub fn analyse(pl: &Pipeline, e: &Eligible, part: &Partition, t: &Table, missing: u64) -> Analysis {
    let d = pl.measurements.len();
    // Category combinations in stratum order; each with its eligible people and classes.
    let mut units: Vec<(usize, Unit)> = Vec::new();
    let mut cat_of: std::collections::HashMap<&[String], usize> = Default::default();
    for (si, cats) in part.strata.iter().enumerate() {
        cat_of.entry(cats.as_slice()).or_insert_with(|| {
            units.push((
                si,
                Unit {
                    people: Vec::new(),
                    classes: Vec::new(),
                    rows: Vec::new(),
                    pl,
                },
            ));
            units.len() - 1
        });
    }
    for (c, class) in part.classes.iter().enumerate() {
        let u = cat_of[part.strata[class.stratum].as_slice()];
        units[u].1.classes.push(c);
    }
    let mut names: std::collections::HashMap<Vec<String>, usize> = Default::default();
    for (cats, &u) in &cat_of {
        names.insert(cats.to_vec(), u);
    }
    for i in 0..e.people.len() {
        let cats: Vec<String> = (0..pl.categories.len())
            .map(|c| e.people.category(i, c).unwrap_or_default().to_string())
            .collect();
        if let Some(&u) = names.get(&cats) {
            units[u].1.people.push(i as u32);
        }
    }
    let mut strata = Vec::new();
    for (si, u) in units.iter_mut() {
        if u.classes.is_empty() {
            continue;
        }
        u.rows = class_rows(pl, t, &u.classes);
        strata.push(unit_analysis(e, part, t, u, *si));
    }
    // The whole table.
    let all = Unit {
        people: (0..e.people.len() as u32).collect(),
        classes: (0..part.classes.len()).collect(),
        rows: class_rows(pl, t, &(0..part.classes.len()).collect::<Vec<_>>()),
        pl,
    };
    let held = Targets::of(all.people.len(), d, &|i| e.people.values(i));
    let rel = Targets::weighted(
        all.classes.len(),
        d,
        &|x| &all.rows[x * d..(x + 1) * d],
        &|x| all.weight(part, x),
    );
    let mut measurements = Vec::new();
    for p in 0..d {
        if rel.count[p] == 0.0 {
            continue;
        }
        // The released people's own values, for the selection effect.
        let own = || {
            part.classes
                .iter()
                .filter(|c| part.holds(c.stratum, p))
                .flat_map(|c| c.members.iter())
                .map(|&m| e.people.values(m as usize)[p] as f64)
        };
        let n_own = rel.count[p] as usize;
        measurements.push(MeasurementFigures {
            pos: p,
            holders: held.count[p] as usize,
            released: n_own,
            holders_moments: (held.mean[p], held.sd[p]),
            released_moments: (rel.mean[p], rel.sd[p]),
            own_moments: mean_std_of(own(), n_own),
        });
    }
    let mut changes: Vec<(f64, usize, usize, usize)> = Vec::new();
    for i in 0..d {
        for j in i + 1..d {
            let k = i * d + j;
            if rel.both[k] < PAIR_PEOPLE as f64 || held.corr[k].is_nan() || rel.corr[k].is_nan() {
                continue;
            }
            changes.push((
                (held.corr[k] - rel.corr[k]).abs(),
                i,
                j,
                rel.both[k] as usize,
            ));
        }
    }
    changes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut sorted: Vec<f64> = changes.iter().map(|c| c.0).collect();
    sorted.sort_by(f64::total_cmp);
    let pairs = PairFigures {
        pairs: changes.len(),
        max_change: changes.first().map_or(0.0, |c| c.0),
        median_change: sorted.get(sorted.len() / 2).copied().unwrap_or(0.0),
        worst: changes.first().map(|c| (c.1, c.2, c.3)),
    };
    Analysis {
        strata,
        pooled: Some(Pooled {
            missing_values: missing,
            measurements,
            pairs,
        }),
    }
}
