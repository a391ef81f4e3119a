//! Utility of a release whose people hold different measurements (sparse input: sets hold
//! what their owners entered). A researcher reads such a table per measurement and per
//! pair, pairwise complete: the mean of `waist` over every row that holds it, the
//! correlation of `waist` and `hips` over the rows that hold both. So the figures compare
//! exactly that against the eligible people who hold the measurement (or both), suppressed
//! values included: per category combination (the units of the manifest's and report's
//! utility), and pooled over the whole table. The released people's own values against
//! the holders give the selection effect of suppression: what the choice of who is
//! released with which measurement does to the statistics, before any anonymization.

use super::utility::{side_of, smoothed_pct, sorted_f32, Analysis, ColumnFigures, StratumAnalysis};
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
    // What applies to each category combination, found once per combination.
    let mut applies: rustc_hash::FxHashMap<&[u32], Vec<bool>> = Default::default();
    for i in 0..e.people.len() {
        applies.entry(e.people.codes(i)).or_insert_with(|| {
            let cats: Vec<String> = (0..pl.categories.len())
                .map(|c| e.people.category(i, c).unwrap_or_default().to_string())
                .collect();
            pl.measurements
                .iter()
                .map(|&m| pl.applies(m, &cats))
                .collect()
        });
    }
    (0..e.people.len())
        .into_par_iter()
        .map(|i| {
            let a = &applies[e.people.codes(i)];
            e.people
                .values(i)
                .iter()
                .zip(a)
                .filter(|(v, &a)| v.is_nan() && a)
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
    /// The released rows' correlation of each pair over the rows holding both, and their
    /// people (row-major d x d): what the public figures compare with.
    pub released_corr: Vec<f64>,
    pub released_both: Vec<f64>,
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

/// One category combination: its eligible people, its classes and their rows.
struct Unit {
    stratum: usize,
    people: Vec<u32>,
    classes: Vec<usize>,
}

/// Per measurement, over one combination's released people: summed |own - released|,
/// interval widths, squared standardized distances, own values and their squares, count.
#[derive(Clone)]
struct OwnSums {
    abs: Vec<f64>,
    width: Vec<f64>,
    sq: Vec<f64>,
    s: Vec<f64>,
    q: Vec<f64>,
    n: Vec<f64>,
}

impl OwnSums {
    fn new(d: usize) -> OwnSums {
        let z = vec![0.0; d];
        OwnSums {
            abs: z.clone(),
            width: z.clone(),
            sq: z.clone(),
            s: z.clone(),
            q: z.clone(),
            n: z,
        }
    }

    fn merge(&mut self, o: &OwnSums) {
        for (a, b) in [
            (&mut self.abs, &o.abs),
            (&mut self.width, &o.width),
            (&mut self.sq, &o.sq),
            (&mut self.s, &o.s),
            (&mut self.q, &o.q),
            (&mut self.n, &o.n),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

/// Classes per chunk of the released people's sums (a fixed size: the same sums whatever
/// the thread count).
const CLASS_CHUNK: usize = 1024;

/// The released people's own values against their rows, per measurement, over `classes`
/// (`rows` their released values, `classes x d`); `sd` the holders' deviations.
fn own_sums(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    t: &Table,
    classes: &[usize],
    rows: &[f32],
    sd: &[f64],
) -> OwnSums {
    use rayon::prelude::*;
    let d = pl.measurements.len();
    let range = pl.release.representation == Representation::Range;
    let parts: Vec<OwnSums> = (0..classes.len())
        .step_by(CLASS_CHUNK)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&a| {
            let mut o = OwnSums::new(d);
            for x in a..(a + CLASS_CHUNK).min(classes.len()) {
                let c = classes[x];
                let dims = &part.dims[part.classes[c].stratum];
                let row = t.class_values(c);
                for &m in &part.classes[c].members {
                    let own = e.people.values(m as usize);
                    for &p in dims {
                        let (v, y) = (own[p] as f64, rows[x * d + p] as f64);
                        o.abs[p] += (v - y).abs();
                        if range {
                            let res = pl.catalog.measurements[pl.measurements[p]].resolution;
                            o.width[p] += (row[2 * p + 1].unwrap_or(0) - row[2 * p].unwrap_or(0))
                                as f64
                                * res;
                        }
                        if sd[p] > 0.0 {
                            o.sq[p] += ((v - y) / sd[p]).powi(2);
                        }
                        o.s[p] += v;
                        o.q[p] += v * v;
                        o.n[p] += 1.0;
                    }
                }
            }
            o
        })
        .collect();
    let mut o = OwnSums::new(d);
    for p in &parts {
        o.merge(p);
    }
    o
}

/// The per-unit analysis: for each measurement the unit's rows hold, the holders' figures
/// against the released rows'; correlations pairwise complete (NaN where fewer than
/// [`PAIR_PEOPLE`] people are released with both).
#[allow(clippy::too_many_arguments)]
fn unit_analysis(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    u: &Unit,
    rows: &[f32],
    held: &Targets,
    rel: &Targets,
    own: &OwnSums,
) -> StratumAnalysis {
    use rayon::prelude::*;
    let d = pl.measurements.len();
    let k = pl.release.k;
    let dims: Vec<usize> = (0..d).filter(|&p| rel.count[p] > 0.0).collect();
    // The holders' values of every measurement, gathered in one pass over the people.
    let mut cols: Vec<Vec<f32>> = vec![Vec::new(); d];
    for &i in &u.people {
        for (p, &v) in e.people.values(i as usize).iter().enumerate() {
            if !v.is_nan() {
                cols[p].push(v);
            }
        }
    }
    let columns: Vec<ColumnFigures> = dims
        .par_iter()
        .map(|&p| {
            let sorted = sorted_f32(cols[p].iter().copied());
            let (mo, so) = (held.mean[p], held.sd[p]);
            let (mr, sr) = (rel.mean[p], rel.sd[p]);
            let mut runs: Vec<(f64, usize)> = u
                .classes
                .iter()
                .enumerate()
                .filter(|&(x, _)| !rows[x * d + p].is_nan())
                .map(|(x, &c)| (rows[x * d + p] as f64, part.classes[c].rows()))
                .collect();
            runs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let r_sorted: Vec<f64> = runs
                .iter()
                .flat_map(|&(v, c)| std::iter::repeat_n(v, c))
                .collect();
            let (lo, hi) = (
                smoothed_pct(&sorted, 1.0, k),
                smoothed_pct(&sorted, 99.0, k),
            );
            let n_rel = own.n[p].max(1.0);
            ColumnFigures {
                orig: side_of((mo, so), &sorted, k, lo, hi),
                rel: side_of((mr, sr), &r_sorted, k, lo, hi),
                hist_lo: lo,
                hist_hi: hi,
                min: sorted.first().copied().unwrap_or(0.0),
                max: sorted.last().copied().unwrap_or(0.0),
                mean_abs_change: own.abs[p] / n_rel,
                mean_width: own.width[p] / n_rel,
                sq_std_dist: own.sq[p],
            }
        })
        .collect();
    let n = dims.len();
    let mut co = vec![1.0; n * n];
    let mut cr = vec![1.0; n * n];
    for (a, &i) in dims.iter().enumerate() {
        for (b, &j) in dims.iter().enumerate() {
            if a == b {
                continue;
            }
            let x = i * d + j;
            let enough = rel.both[x] >= PAIR_PEOPLE as f64;
            co[a * n + b] = if enough { held.corr[x] } else { f64::NAN };
            cr[a * n + b] = if enough { rel.corr[x] } else { f64::NAN };
        }
    }
    StratumAnalysis {
        stratum: u.stratum,
        dims,
        people: u
            .classes
            .iter()
            .map(|&c| part.classes[c].members.len())
            .sum(),
        classes: u.classes.len(),
        columns,
        corr_orig: co,
        corr_rel: cr,
    }
}

/// The analysis of a release whose people hold different measurements: per category
/// combination (pooled over its patterns, against its holders), and over the whole table.
pub fn analyse(pl: &Pipeline, e: &Eligible, part: &Partition, t: &Table, missing: u64) -> Analysis {
    let d = pl.measurements.len();
    // Category combinations in stratum order, each with its eligible people and classes.
    let mut units: Vec<Unit> = Vec::new();
    let mut unit_of: std::collections::HashMap<&[String], usize> = Default::default();
    for (si, cats) in part.strata.iter().enumerate() {
        unit_of.entry(cats.as_slice()).or_insert_with(|| {
            units.push(Unit {
                stratum: si,
                people: Vec::new(),
                classes: Vec::new(),
            });
            units.len() - 1
        });
    }
    let mut class_unit = Vec::with_capacity(part.classes.len());
    for (c, class) in part.classes.iter().enumerate() {
        let u = unit_of[part.strata[class.stratum].as_slice()];
        units[u].classes.push(c);
        class_unit.push(u);
    }
    let none = units.len();
    let mut by_codes: rustc_hash::FxHashMap<&[u32], usize> = Default::default();
    let person_unit: Vec<usize> = (0..e.people.len())
        .map(|i| {
            *by_codes.entry(e.people.codes(i)).or_insert_with(|| {
                let cats: Vec<String> = (0..pl.categories.len())
                    .map(|c| e.people.category(i, c).unwrap_or_default().to_string())
                    .collect();
                unit_of.get(cats.as_slice()).copied().unwrap_or(none)
            })
        })
        .collect();
    for (i, &u) in person_unit.iter().enumerate() {
        if u != none {
            units[u].people.push(i as u32);
        }
    }
    // Every class's released row (partition order), and the targets of holders and rows
    // per combination and over all, each in one pass.
    let all_classes: Vec<usize> = (0..part.classes.len()).collect();
    let rows = class_rows(pl, t, &all_classes);
    let (held_units, held_all) = Targets::by_group(
        e.people.len(),
        d,
        &|i| e.people.values(i),
        &|_| 1.0,
        &|i| person_unit[i],
        none + 1,
    );
    let (rel_units, rel_all) = Targets::by_group(
        part.classes.len(),
        d,
        &|c| &rows[c * d..(c + 1) * d],
        &|c| part.classes[c].rows() as f64,
        &|c| class_unit[c],
        none,
    );
    let mut strata = Vec::new();
    let mut own_all = OwnSums::new(d);
    for (x, u) in units.iter().enumerate() {
        if u.classes.is_empty() {
            continue;
        }
        let urows: Vec<f32> = u
            .classes
            .iter()
            .flat_map(|&c| rows[c * d..(c + 1) * d].iter().copied())
            .collect();
        let own = own_sums(pl, e, part, t, &u.classes, &urows, &held_units[x].sd);
        own_all.merge(&own);
        strata.push(unit_analysis(
            pl,
            e,
            part,
            u,
            &urows,
            &held_units[x],
            &rel_units[x],
            &own,
        ));
    }
    let (held, rel) = (held_all, rel_all);
    let mut measurements = Vec::new();
    for p in 0..d {
        if rel.count[p] == 0.0 {
            continue;
        }
        let n_own = own_all.n[p].max(1.0);
        let om = own_all.s[p] / n_own;
        let os = (own_all.q[p] / n_own - om * om).max(0.0).sqrt();
        measurements.push(MeasurementFigures {
            pos: p,
            holders: held.count[p] as usize,
            released: rel.count[p] as usize,
            holders_moments: (held.mean[p], held.sd[p]),
            released_moments: (rel.mean[p], rel.sd[p]),
            own_moments: (om, os),
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
            released_corr: rel.corr.clone(),
            released_both: rel.both.clone(),
        }),
    }
}
