//! Generalization: each class's released values (a point per measurement, or the class's
//! bounds) and keyed noise, then the rows sorted so their order says nothing of the input.

use super::known::{Knowledge, Known};
use super::partition::Partition;
pub use super::table::{column_names, Table};
use super::{moments, noise, quantile};
use crate::filter::Eligible;
use crate::pipeline::{Moments, Pipeline, Representation};
use noise::NoiseKey;
use rayon::prelude::*;

/// Each class's point (release measurement order; NaN where a measurement does not
/// apply): the class mean, moved by the stratum's moment-restoring map when the pipeline
/// asks for one, then shifted so the stratum's weighted mean is the known (noisy) one: the
/// column sums are never the people's exact sums. Rows of a class share their point, so
/// they stay identical.
fn class_centers(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    known: &Knowledge,
) -> Vec<Vec<f64>> {
    let dm = pl.measurements.len();
    let mut centers = class_means(e, part, dm);
    for si in 0..part.strata.len() {
        let Some(sc) = stratum_classes(part, si) else {
            continue;
        };
        let k = known.of(&part.strata[si]);
        if pl.release.moments == Moments::Restore && sc.classes.len() >= 2 {
            restore_linear(pl, &sc, k, &mut centers);
        }
        let total: f64 = sc.weights.iter().sum();
        for &p in &sc.dims {
            let m: f64 = sc
                .classes
                .iter()
                .zip(&sc.weights)
                .map(|(&ci, w)| w * centers[ci][p])
                .sum::<f64>()
                / total;
            let shift = k.figures.mean[p] - m;
            for &ci in &sc.classes {
                centers[ci][p] += shift;
            }
        }
    }
    centers
}

/// Each class's mean per measurement (NaN where a measurement does not apply).
fn class_means(e: &Eligible, part: &Partition, dm: usize) -> Vec<Vec<f64>> {
    part.classes
        .par_iter()
        .map(|c| {
            // Each member's values read once; each sum still runs over members in order.
            let mut sums = vec![0.0f64; dm];
            for &r in &c.members {
                for (s, &v) in sums.iter_mut().zip(e.people.values(r as usize).iter()) {
                    *s += v as f64;
                }
            }
            sums.into_iter()
                .map(|s| s / c.members.len() as f64)
                .collect()
        })
        .collect()
}

/// One stratum's classes as the moment methods read them.
struct StratumClasses {
    /// Release positions of the measurements that apply.
    dims: Vec<usize>,
    /// The stratum's classes (partition indices, in order) and their member counts.
    classes: Vec<usize>,
    weights: Vec<f64>,
    /// The members, class after class.
    members: Vec<u32>,
}

/// Stratum `si`'s classes, or `None` when it has no class or no measurement applies.
fn stratum_classes(part: &Partition, si: usize) -> Option<StratumClasses> {
    let dims = part.dims[si].clone();
    let classes: Vec<usize> = (0..part.classes.len())
        .filter(|&ci| part.classes[ci].stratum == si)
        .collect();
    if dims.is_empty() || classes.is_empty() {
        return None;
    }
    let members: Vec<u32> = classes
        .iter()
        .flat_map(|&ci| part.classes[ci].members.iter().copied())
        .collect();
    let weights = classes
        .iter()
        .map(|&ci| part.classes[ci].members.len() as f64)
        .collect();
    Some(StratumClasses {
        dims,
        classes,
        weights,
        members,
    })
}

/// `moments = "restore"`: a stratum's class means moved by one linear map toward the
/// known (noisy) covariance, at the pipeline's strength.
fn restore_linear(pl: &Pipeline, sc: &StratumClasses, k: &Known, centers: &mut [Vec<f64>]) {
    let dims = &sc.dims;
    let d = dims.len();
    let (_, mut s_y) = k.stratum_target(dims);
    // Rounding and noise come after and add their own variance: aim below the target
    // covariance by that much, so the released table ends up on it.
    for (j, &p) in dims.iter().enumerate() {
        let res = pl.catalog.measurements[pl.measurements[p]].resolution;
        let added = (noise::variance(pl.release.noise_scale) + 1.0 / 12.0) * res * res;
        s_y[j * d + j] = (s_y[j * d + j] - added).max(0.0);
    }
    let x: Vec<f64> = sc
        .classes
        .iter()
        .flat_map(|&ci| dims.iter().map(move |&p| (ci, p)))
        .map(|(ci, p)| centers[ci][p])
        .collect();
    let (mu_x, s_x) = moments::moments(&x, &sc.weights, d);
    let a = moments::restoring_map(&s_x, &s_y, d, pl.release.moments_strength);
    for (n, &ci) in sc.classes.iter().enumerate() {
        let mapped = moments::apply(&a, &mu_x, &x[n * d..(n + 1) * d]);
        for (j, &p) in dims.iter().enumerate() {
            centers[ci][p] = mapped[j];
        }
    }
}

/// Strata whose values copied together take no more than this are restored side by side.
const SIDE_BY_SIDE_BYTES: usize = 256 << 20;
/// Category combinations are calibrated side by side when the classes' values (one per
/// class and measurement held) are no more than this (32 MB a copy).
const SIDE_BY_SIDE_VALUES: usize = 4 << 20;

/// `moments = "quantile"`: each stratum's class values on the grid (release measurement
/// order; 0 where a measurement does not apply), from [`quantile::restore`].
fn quantile_values(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    noise: &[Vec<i64>],
    known: &Knowledge,
) -> Vec<Vec<i64>> {
    let dm = pl.measurements.len();
    let centers = class_means(e, part, dm);
    let restore_one = |si: usize| -> Option<(StratumClasses, quantile::Points)> {
        let sc = stratum_classes(part, si)?;
        // The stratum's values by column, for its quantile tables.
        // Blocks of members in parallel, each person's row read once and its values put
        // in every column's block (1M x 93: 0.9 s on one core, half that on two).
        let columns = || {
            const BLOCK: usize = 4096;
            let n = sc.members.len();
            let mut cols: Vec<Vec<f32>> = vec![vec![0f32; n]; sc.dims.len()];
            let mut blocks: Vec<Vec<&mut [f32]>> = Vec::new();
            for col in cols.iter_mut() {
                for (b, part) in col.chunks_mut(BLOCK).enumerate() {
                    if b == blocks.len() {
                        blocks.push(Vec::with_capacity(sc.dims.len()));
                    }
                    blocks[b].push(part);
                }
            }
            blocks
                .into_par_iter()
                .zip(sc.members.par_chunks(BLOCK))
                .for_each(|(mut block, members)| {
                    for (i, &r) in members.iter().enumerate() {
                        let v = e.people.values(r as usize);
                        for (col, &p) in block.iter_mut().zip(&sc.dims) {
                            col[i] = v[p];
                        }
                    }
                });
            cols
        };
        let pick = |rows: &[f64]| -> Vec<f64> { sc.dims.iter().map(|&p| rows[p]).collect() };
        let stratum = quantile::Stratum {
            means: sc
                .classes
                .iter()
                .flat_map(|&ci| pick(&centers[ci]))
                .collect(),
            weights: sc.weights.clone(),
            n: sc.members.len(),
            target: known.of(&part.strata[si]).stratum_target(&sc.dims),
            columns: &columns,
            d: sc.dims.len(),
            resolution: sc
                .dims
                .iter()
                .map(|&p| pl.catalog.measurements[pl.measurements[p]].resolution)
                .collect(),
            k: pl.release.k,
            rounds: pl.release.quantile_rounds,
            noise: sc
                .classes
                .iter()
                .flat_map(|&ci| sc.dims.iter().map(move |&p| noise[ci][p]))
                .collect(),
        };
        let v = quantile::restore_points(stratum);
        Some((sc, v))
    };
    // A stratum's values are copied for its quantile tables. Small strata are restored
    // side by side; large ones one after the other (each still runs in parallel inside),
    // so only one stratum's copy is held at a time (10M people: 0.9 GB for all at once).
    let copied = part.classes.iter().map(|c| c.members.len()).sum::<usize>()
        * dm
        * std::mem::size_of::<f32>();
    let restored: Vec<Option<(StratumClasses, quantile::Points)>> = if copied <= SIDE_BY_SIDE_BYTES
    {
        (0..part.strata.len())
            .into_par_iter()
            .map(restore_one)
            .collect()
    } else {
        (0..part.strata.len()).map(restore_one).collect()
    };
    let mut out = vec![vec![0i64; dm]; part.classes.len()];
    // A category combination released in one pattern has its stratum's known moments;
    // one with several is calibrated across them (the mean, spread and correlations a
    // reader computes per measurement and pair, over every row that holds them).
    let mut by_cat: std::collections::BTreeMap<&[String], Vec<usize>> = Default::default();
    for (si, r) in restored.iter().enumerate() {
        if r.is_some() {
            by_cat.entry(&part.strata[si]).or_default().push(si);
        }
    }
    for strata in by_cat.values().filter(|s| s.len() == 1) {
        let (sc, points) = restored[strata[0]].as_ref().expect("restored");
        let v = points.round();
        for (c, &ci) in sc.classes.iter().enumerate() {
            for (j, &p) in sc.dims.iter().enumerate() {
                out[ci][p] = v[c * sc.dims.len() + j];
            }
        }
    }
    // The others, each calibrated on its own, then put in place in order: side by side
    // where the table is small (a calibration is mostly one core), one after the other
    // where it is large (a calibration holds a few dozen copies of its classes' values).
    let combinations: Vec<&Vec<usize>> = by_cat.values().filter(|s| s.len() > 1).collect();
    // People the whole table releases with each pair of measurements.
    let mut pooled = Vec::new();
    if !combinations.is_empty() {
        pooled = vec![0.0; dm * dm];
        for c in &part.classes {
            let dims = &part.dims[c.stratum];
            for (x, &i) in dims.iter().enumerate() {
                for &j in &dims[x + 1..] {
                    pooled[i * dm + j] += c.members.len() as f64;
                }
            }
        }
    }
    let one = |strata: &&Vec<usize>| -> ClassRows {
        let parts: Vec<&(StratumClasses, quantile::Points)> = strata
            .iter()
            .map(|&si| restored[si].as_ref().expect("restored"))
            .collect();
        let k = known.of(&part.strata[strata[0]]);
        calibrated(pl, k, &parts, &pooled)
    };
    let put = |rows: ClassRows| {
        for (ci, row) in rows {
            for (p, v) in row {
                out[ci][p] = v;
            }
        }
    };
    let values: usize = part
        .classes
        .iter()
        .map(|c| part.dims[c.stratum].len())
        .sum();
    if values <= SIDE_BY_SIDE_VALUES {
        let rows: Vec<ClassRows> = combinations.par_iter().map(one).collect();
        rows.into_iter().for_each(put);
    } else {
        combinations.iter().map(one).for_each(put);
    }
    out
}

/// Per class (partition index), its (release position, grid value) pairs.
type ClassRows = Vec<(usize, Vec<(usize, i64)>)>;

/// L-BFGS steps of the calibration across a category combination's patterns: at most,
/// at least, and the class-steps a combination gets between the two.
const CALIBRATION_ITERATIONS: u64 = 300;
const MIN_CALIBRATION_ITERATIONS: u64 = 40;
const CALIBRATION_WORK: u64 = 1_000_000;

/// The classes of one category combination's strata, calibrated together
/// ([`calibrate`](super::calibrate)) against what is known of its eligible people (noisy
/// figures), then rounded to the grid measurement by measurement (mean-exact over the
/// classes holding it): per class (partition index), its (release position, grid value)
/// pairs.
fn calibrated(
    pl: &Pipeline,
    known: &Known,
    strata: &[&(StratumClasses, quantile::Points)],
    pooled: &[f64],
) -> ClassRows {
    use super::calibrate::{calibrate, Cloud};
    let dm = pl.measurements.len();
    let mut cloud = Cloud {
        d: dm,
        offsets: vec![0],
        dims: Vec::new(),
        weights: Vec::new(),
    };
    let mut x = Vec::new();
    let mut ids = Vec::new();
    // Every class moves, also those of strata restored exactly on their own people: they
    // still differ from the combination's holders where who is released with what is not
    // random (the selection effect), and small strata alone cannot carry the correction.
    for (sc, points) in strata {
        let d = sc.dims.len();
        for (c, &ci) in sc.classes.iter().enumerate() {
            cloud.dims.extend(sc.dims.iter().map(|&p| p as u16));
            x.extend_from_slice(&points.p[c * d..(c + 1) * d]);
            cloud.weights.push(sc.weights[c]);
            cloud.offsets.push(cloud.dims.len());
            ids.push(ci);
        }
    }
    let mut t = known.targets();
    let res: Vec<f64> = pl
        .measurements
        .iter()
        .map(|&m| pl.catalog.measurements[m].resolution)
        .collect();
    // Rounding adds a step^2 / 12 to every variance: aim below by that much (and round
    // toward the targets' own spread, `sd`).
    let sd = t.sd.clone();
    for (sd, r) in t.sd.iter_mut().zip(&res) {
        *sd = (*sd * *sd - r * r / 12.0).max(0.0).sqrt();
    }
    // Steps: as many as needed where classes are few (small releases start far from the
    // targets), fewer where they are many (each step costs more, and the rows start near:
    // most strata were restored exactly on their own).
    let iterations = (CALIBRATION_WORK / ids.len().max(1) as u64)
        .clamp(MIN_CALIBRATION_ITERATIONS, CALIBRATION_ITERATIONS);
    calibrate(&cloud, &mut x, &t, pooled, iterations);
    // Per measurement, the classes holding it, rounded so their weighted sum stays on the
    // calibrated values'.
    let mut rows: Vec<Vec<(usize, i64)>> = vec![Vec::new(); ids.len()];
    for (j, &step) in res.iter().enumerate() {
        let mut at = Vec::new();
        for c in 0..ids.len() {
            let r = cloud.offsets[c]..cloud.offsets[c + 1];
            if let Some(k) = cloud.dims[r.clone()].iter().position(|&q| q as usize == j) {
                at.push((c, x[r.start + k]));
            }
        }
        if at.is_empty() {
            continue;
        }
        let v: Vec<f64> = at.iter().map(|a| a.1).collect();
        let w: Vec<f64> = at.iter().map(|a| cloud.weights[a.0]).collect();
        let mut g = quantile::mean_exact_round(&v, &v, &w, &[step], 1);
        // On a coarse grid (degrees, a spread of a few steps) rounding moves the spread by
        // percents: rounding choices are traded in pairs to keep it on the target.
        quantile::spread_exact_round(&v, &w, step, sd[j], &mut g);
        for ((c, _), g) in at.iter().zip(g) {
            rows[*c].push((j, g));
        }
    }
    ids.into_iter().zip(rows).collect()
}

/// Generalizes each class and adds noise (centroid only), then sorts the rows so their
/// order carries no information about the input order.
pub fn generalize(
    pl: &Pipeline,
    e: &Eligible,
    part: &mut Partition,
    key: &NoiseKey,
    known: &Knowledge,
) -> Table {
    let owner_keys = &e.owner_keys;
    let rep = pl.release.representation;
    let columns = column_names(pl);
    let ratio = pl.release.noise_scale.ratio();
    // Pseudonyms of the owners of eligible people only (others are never in a class).
    let mut needed = vec![false; owner_keys.len()];
    for o in e.people.owners() {
        needed[o as usize] = true;
    }
    let pseudonyms: Vec<[u8; 32]> = (0..owner_keys.len())
        .into_par_iter()
        .map(|o| {
            if needed[o] {
                key.pseudonym(owner_keys.get(o))
            } else {
                [0; 32]
            }
        })
        .collect();
    // Each class's keyed noise per measurement, in grid steps (0 where a measurement does
    // not apply or there is no noise): one stream per class, a draw per column in order
    // (also where the class's pattern does not hold it: the others' draws stay the same).
    let noise: Vec<Vec<i64>> = part
        .classes
        .par_iter()
        .map(|c| {
            let Some((s, t)) = ratio.filter(|_| rep == Representation::Centroid) else {
                return vec![0; pl.measurements.len()];
            };
            let mut members: Vec<[u8; 32]> = c
                .members
                .iter()
                .map(|&r| pseudonyms[e.people.owner(r as usize) as usize])
                .collect();
            members.sort_unstable();
            let mut rng = key.class_rng(&key.class_seed(&pl.dataset.name, &members));
            (0..pl.measurements.len())
                .map(|pos| {
                    let n = noise::discrete_laplace(&mut rng, s, t);
                    if part.holds(c.stratum, pos) {
                        n
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    drop(pseudonyms);
    // Centroid values on the grid, before the catalog clamp.
    let grid_values: Vec<Vec<i64>> = match (rep, pl.release.moments) {
        (Representation::Range, _) => Vec::new(),
        (Representation::Centroid, Moments::Quantile) => {
            quantile_values(pl, e, part, &noise, known)
        }
        (Representation::Centroid, _) => class_centers(pl, e, part, known)
            .iter()
            .zip(&noise)
            .map(|(center, noise)| {
                center
                    .iter()
                    .zip(&pl.measurements)
                    .zip(noise)
                    .map(|((&v, &m), &n)| {
                        let res = pl.catalog.measurements[m].resolution;
                        if v.is_nan() {
                            0
                        } else {
                            (v / res).round() as i64 + n
                        }
                    })
                    .collect()
            })
            .collect(),
    };
    let per_class: Vec<(Vec<Option<i64>>, u64)> = part
        .classes
        .par_iter()
        .enumerate()
        .map(|(ci, c)| {
            let mut row = Vec::with_capacity(columns.len());
            let mut clamped = 0;
            for (pos, &m) in pl.measurements.iter().enumerate() {
                let def = &pl.catalog.measurements[m];
                if !part.holds(c.stratum, pos) {
                    row.push(None);
                    if rep == Representation::Range {
                        row.push(None);
                    }
                    continue;
                }
                let grid = |v: f64| (v / def.resolution).round() as i64;
                let (lo, hi) = (grid(def.min), grid(def.max));
                match rep {
                    Representation::Centroid => {
                        let v = grid_values[ci][pos];
                        if v < lo || v > hi {
                            clamped += 1;
                        }
                        row.push(Some(v.clamp(lo, hi)));
                    }
                    Representation::Range => {
                        let (mn, mx) = c
                            .members
                            .iter()
                            .map(|&r| e.people.values(r as usize)[pos] as f64)
                            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                                (a.min(v), b.max(v))
                            });
                        row.push(Some((mn / def.resolution).floor() as i64));
                        row.push(Some((mx / def.resolution).ceil() as i64));
                    }
                }
            }
            (row, clamped)
        })
        .collect();

    let mut clamped = 0;
    let mut class_values = Vec::with_capacity(per_class.len());
    for (row, cl) in per_class {
        clamped += cl;
        class_values.push(row);
    }
    let moved = if pl.release.moments == Moments::Quantile {
        let (moved, stuck) =
            super::reproduction::move_off_source_records(pl, e, part, &mut class_values);
        // A class whose row cannot be moved off the records of fewer than k owners (a
        // lone measurement whose every nearby value is a few people's) is not released:
        // its people are suppressed.
        if !stuck.is_empty() {
            let mut keep = vec![true; part.classes.len()];
            for &c in &stuck {
                keep[c] = false;
                part.withdrawn += part.classes[c].members.len();
                part.suppressed.extend_from_slice(&part.classes[c].members);
            }
            let mut it = keep.iter();
            part.classes
                .retain(|_| *it.next().expect("one flag per class"));
            let mut it = keep.iter();
            class_values.retain(|_| *it.next().expect("one flag per class"));
        }
        moved
    } else {
        0
    };
    Table::assemble(pl, columns, part, class_values, clamped, moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::partition::partition;
    use crate::anonymize::testing::*;
    use crate::pipeline::{Cut, PartitionSpace};

    #[test]
    fn every_method_keeps_the_rows_of_a_class_identical() {
        let methods = [
            (
                Moments::None,
                1.0,
                PartitionSpace::Standardized,
                Cut::Median,
            ),
            (
                Moments::Restore,
                1.0,
                PartitionSpace::Standardized,
                Cut::Median,
            ),
            (Moments::Restore, 0.5, PartitionSpace::Whitened, Cut::Median),
            (Moments::Quantile, 1.0, PartitionSpace::Whitened, Cut::Auto),
            (
                Moments::Quantile,
                1.0,
                PartitionSpace::Standardized,
                Cut::Balanced,
            ),
        ];
        for (moments, strength, space, cut) in methods {
            {
                let mut pl = pipeline();
                pl.release.k = 4;
                pl.release.moments = moments;
                pl.release.moments_strength = strength;
                pl.release.partition_space = space;
                pl.release.cut = cut;
                let (e, mut part) = classes_of(&pl);
                let t = release_table(
                    &pl,
                    &e,
                    &mut part,
                    &NoiseKey::from_bytes(vec![3; 32]).unwrap(),
                );
                let mut row_of = vec![None; e.people.len()];
                for (ci, c) in part.classes.iter().enumerate() {
                    for &m in &c.members {
                        row_of[m as usize] = Some(t.class_values(ci));
                    }
                    // Every row of the class is in the table as often as the class has members.
                    let n = t
                        .iter_rows()
                        .filter(|(_, r)| *r == t.class_values(ci))
                        .count();
                    assert!(n >= c.members.len(), "{moments:?}");
                }
                let mut counts = std::collections::HashMap::new();
                for (_, r) in t.iter_rows() {
                    *counts.entry(r).or_insert(0) += 1;
                }
                assert!(counts.values().all(|&n| n >= 4), "{moments:?} {strength}");
            }
        }
    }

    /// Plain class means, all of a stratum's shifted by one amount per measurement: what
    /// moves its mean onto the known (noisy) one.
    #[test]
    fn none_without_noise_is_class_means_shifted_to_the_known_mean() {
        let mut pl = pipeline();
        pl.release.k = 4;
        pl.release.noise_scale = crate::pipeline::NoiseScale::NONE;
        pl.release.moments = Moments::None;
        let (e, mut part) = classes_of(&pl);
        let t = release_table(
            &pl,
            &e,
            &mut part,
            &NoiseKey::from_bytes(vec![3; 32]).unwrap(),
        );
        let frame = crate::anonymize::known::Frame::of(&pl);
        let mut shifts: std::collections::BTreeMap<(usize, usize), Vec<f64>> = Default::default();
        for (ci, c) in part.classes.iter().enumerate() {
            let row = t.class_values(ci);
            for (pos, v) in row.iter().enumerate() {
                let mean = c
                    .members
                    .iter()
                    .map(|&m| e.people.values(m as usize)[pos] as f64)
                    .sum::<f64>()
                    / c.members.len() as f64;
                let shift = v.unwrap() as f64 - mean;
                // Within the sum's noise over a stratum of 20 or more people.
                assert!(shift.abs() < 6.0 * 3.0 * frame.unit[pos] / 20.0 + 1.0);
                shifts.entry((c.stratum, pos)).or_default().push(shift);
            }
        }
        for v in shifts.values() {
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            assert!(
                hi - lo <= 1.0,
                "one shift per stratum and measurement, then rounding"
            );
        }
        assert!(
            shifts.values().any(|v| v[0].abs() > 0.5),
            "the known means are not exact"
        );
        assert_eq!(t.clamped, 0);
    }

    #[test]
    fn values_pushed_outside_the_catalog_range_are_clamped_and_counted() {
        let mut pl = pipeline();
        pl.release.k = 4;
        pl.release.noise_scale = crate::pipeline::NoiseScale::NONE;
        let (e, mut part) = classes_of(&pl);
        // Narrow the first measurement's plausible range below some class means.
        let m0 = pl.measurements[0];
        let means: Vec<f64> = part
            .classes
            .iter()
            .map(|c| {
                c.members
                    .iter()
                    .map(|&m| e.people.values(m as usize)[0] as f64)
                    .sum::<f64>()
                    / c.members.len() as f64
            })
            .collect();
        let cap = means.iter().cloned().fold(f64::INFINITY, f64::min).ceil();
        pl.catalog.measurements[m0].max = cap;
        let t = release_table(
            &pl,
            &e,
            &mut part,
            &NoiseKey::from_bytes(vec![3; 32]).unwrap(),
        );
        assert!(t.clamped > 0);
        assert!(t.iter_rows().all(|(_, r)| r[0].unwrap() <= cap as i64));
        assert!(t.iter_rows().any(|(_, r)| r[0] == Some(cap as i64)));
    }

    #[test]
    fn centroid_rows_of_a_class_are_identical_and_noise_is_keyed() {
        let mut pl = pipeline();
        pl.release.k = 3;
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..40)
            .map(|i| (i, "Male", vec![300.0 + (i * 7 % 40) as f64]))
            .collect();
        let e = eligible(&pl, &rows);
        let mut part = partition(&pl, &e, &Default::default());
        assert!(part.classes.len() > 3);
        let key = NoiseKey::from_bytes(vec![9; 32]).unwrap();
        let t1 = release_table(&pl, &e, &mut part, &key);
        let t2 = release_table(&pl, &e, &mut part, &key);
        assert!(t1.iter_rows().eq(t2.iter_rows()));
        let other = release_table(
            &pl,
            &e,
            &mut part,
            &NoiseKey::from_bytes(vec![8; 32]).unwrap(),
        );
        assert!(!t1.iter_rows().eq(other.iter_rows()));
        // Every distinct row appears at least k times.
        let mut counts = std::collections::HashMap::new();
        for (_, r) in t1.iter_rows() {
            *counts.entry(r).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&n| n >= 3), "{counts:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]
        /// Random people (owners with several sets, two strata, 3 measurements), every
        /// method: partition and generalize give the same rows on 1 and 2 threads.
        #[test]
        fn every_method_gives_the_same_rows_on_1_and_2_threads(
            people in proptest::collection::vec((0u32..80, proptest::bool::ANY, 0u32..200, 0u32..200), 40..400),
            method in 0usize..4,
        ) {
            let mut pl = pipeline();
            pl.release.k = 5;
            pl.measurements.truncate(3);
            (pl.release.moments, pl.release.partition_space, pl.release.cut) = [
                (Moments::Quantile, PartitionSpace::Whitened, Cut::Auto),
                (Moments::Quantile, PartitionSpace::Whitened, Cut::Balanced),
                (Moments::Restore, PartitionSpace::Standardized, Cut::Median),
                (Moments::None, PartitionSpace::Whitened, Cut::Median),
            ][method];
            let rows: Vec<(u32, &str, Vec<f64>)> = people
                .iter()
                .map(|&(o, male, a, b)| (o, if male { "Male" } else { "Female" }, vec![0.0, a as f64, b as f64]))
                .collect();
            let mut e = eligible(&pl, &rows);
            for (i, &(_, _, a, b)) in people.iter().enumerate() {
                e.people.values_mut(i).copy_from_slice(&[300.0 + a as f32, 1300.0 + 0.5 * a as f32 + b as f32, 300.0 + b as f32]);
            }
            e.owner_keys = (0..80).map(|i| format!("owner-{i}")).collect();
            let key = NoiseKey::from_bytes(vec![6; 32]).unwrap();
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                    let mut part = partition(&pl, &e, &Default::default());
                    let t = release_table(&pl, &e, &mut part, &key);
                    t.iter_rows().map(|(c, r)| (c.to_vec(), r.to_vec())).collect::<Vec<_>>()
                })
            };
            proptest::prop_assert_eq!(run(1), run(2));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Random sparse people (each holds the measurements of one to three of four
        /// "designs", owners with several sets, two categories): every combination of
        /// released values, nulls included, is shared by at least k distinct owners; no row
        /// holds a value its people lack; the same rows on 1 and 2 threads.
        #[test]
        fn sparse_people_are_k_anonymous_with_their_nulls_on_1_and_2_threads(
            people in proptest::collection::vec(
                (0u32..70, proptest::bool::ANY, 1u8..16, proptest::collection::vec(0u32..200, 6)),
                30..400,
            ),
            k in 2usize..8,
        ) {
            let mut pl = pipeline();
            pl.release.k = k;
            pl.release.min_pattern_owners = k;
            pl.release.max_suppressed = 1.0;
            pl.measurements.truncate(6);
            let designs = [0b000011u8, 0b000111, 0b011100, 0b110001];
            let rows: Vec<(u32, &str, Vec<f64>)> = people
                .iter()
                .map(|(o, male, _, _)| (*o, if *male { "Male" } else { "Female" }, vec![0.0]))
                .collect();
            let mut e = eligible(&pl, &rows);
            for (i, (_, _, made, v)) in people.iter().enumerate() {
                let held = (0..4).filter(|d| made >> d & 1 == 1).fold(0u8, |a, d| a | designs[d]);
                let row = e.people.values_mut(i);
                for j in 0..6 {
                    let def = &pl.catalog.measurements[pl.measurements[j]];
                    row[j] = if held >> j & 1 == 1 {
                        (def.min + (def.max - def.min) * (0.3 + v[j] as f64 / 500.0)).round() as f32
                    } else {
                        f32::NAN
                    };
                }
            }
            e.owner_keys = (0..70).map(|i| format!("owner-{i}")).collect();
            let key = NoiseKey::from_bytes(vec![7; 32]).unwrap();
            let run = |threads: usize| {
                rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                    let mut part = partition(&pl, &e, &Default::default());
                    let t = release_table(&pl, &e, &mut part, &key);
                    (part, t)
                })
            };
            let (part, t) = run(1);
            let (_, t2) = run(2);
            let rows1: Vec<_> = t.iter_rows().map(|(c, r)| (c.to_vec(), r.to_vec())).collect();
            let rows2: Vec<_> = t2.iter_rows().map(|(c, r)| (c.to_vec(), r.to_vec())).collect();
            proptest::prop_assert_eq!(&rows1, &rows2);
            // Owners per distinct released row (categories and values, nulls included).
            type Row = (Vec<String>, Vec<Option<i64>>);
            let mut owners: std::collections::HashMap<Row, std::collections::HashSet<u32>> = Default::default();
            for (ci, c) in part.classes.iter().enumerate() {
                let key = (part.strata[c.stratum].clone(), t.class_values(ci).to_vec());
                for &m in &c.members {
                    owners.entry(key.clone()).or_default().insert(e.people.owner(m as usize));
                    let own = e.people.values(m as usize);
                    for (j, v) in t.class_values(ci).iter().enumerate() {
                        proptest::prop_assert!(v.is_none() || !own[j].is_nan(), "a row holds a value its person lacks");
                    }
                }
            }
            for (row, o) in &owners {
                proptest::prop_assert!(o.len() >= k, "{:?} shared by {} owners < k = {}", row, o.len(), k);
            }
            let released: usize = part.classes.iter().map(|c| c.members.len()).sum();
            proptest::prop_assert_eq!(released + part.suppressed.len(), e.people.len());
        }
    }

    /// The quantile method: identical bytes with 1 and 2 threads, and each stratum's mean
    /// within half a step of the people's (noise and rounding leave it there).
    #[test]
    fn quantile_release_is_thread_independent_and_keeps_the_mean() {
        let mut pl = pipeline();
        pl.release.k = 5;
        pl.release.moments = Moments::Quantile;
        pl.release.partition_space = PartitionSpace::Whitened;
        pl.release.cut = Cut::Auto;
        let e = correlated(&mut pl, 400);
        let key = NoiseKey::from_bytes(vec![4; 32]).unwrap();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let mut part = partition(&pl, &e, &Default::default());
                    let t = release_table(&pl, &e, &mut part, &key);
                    (
                        part.classes.len(),
                        t.iter_rows().map(|(_, r)| r.to_vec()).collect::<Vec<_>>(),
                    )
                })
        };
        let (classes, one) = run(1);
        assert!(
            classes > 3,
            "{classes} classes: the stratum should be full rank"
        );
        assert_eq!(one, run(2).1);
        // The mean is the known one: the people's, with the noise of a sum.
        let frame = crate::anonymize::known::Frame::of(&pl);
        for j in 0..3 {
            let want = (0..e.people.len())
                .map(|i| e.people.values(i)[j] as f64)
                .sum::<f64>()
                / 400.0;
            let got = one.iter().map(|r| r[j].unwrap() as f64).sum::<f64>() / 400.0;
            let noise = pl.series.sum_noise * frame.unit[j] / 400.0;
            assert!(
                (got - want).abs() <= 0.5 + 6.0 * noise,
                "measurement {j}: {got} vs {want}"
            );
        }
    }

    /// Two measurements, the second the same for everyone, the first every person's own:
    /// quantile rows spread like people and land on real records; each such row is moved
    /// off them.
    #[test]
    fn quantile_rows_never_equal_a_record_of_fewer_than_k_owners() {
        let mut pl = pipeline();
        pl.release.k = 5;
        pl.release.noise_scale = crate::pipeline::NoiseScale::NONE;
        pl.release.moments = Moments::Quantile;
        pl.release.partition_space = PartitionSpace::Whitened;
        pl.release.cut = Cut::Auto;
        pl.measurements.truncate(2);
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..200)
            .map(|i| (i, "Male", vec![200.0 + 3.0 * (i * 37 % 200) as f64]))
            .collect();
        let mut e = eligible(&pl, &rows);
        let def = &pl.catalog.measurements[pl.measurements[1]];
        let same = ((def.min + def.max) / 2.0).round();
        for i in 0..200 {
            e.people.values_mut(i)[1] = same as f32;
        }
        let mut part = partition(&pl, &e, &Default::default());
        let t = release_table(
            &pl,
            &e,
            &mut part,
            &NoiseKey::from_bytes(vec![2; 32]).unwrap(),
        );
        assert!(
            t.moved > 0,
            "with 40 rows over 200 values 3 apart some land on a record"
        );
        let values: std::collections::HashSet<i64> = (0..e.people.len())
            .map(|i| e.people.values(i)[0] as i64)
            .collect();
        for c in 0..part.classes.len() {
            let v = t.class_values(c)[0].unwrap();
            // The known spread of a constant is noise: a few steps.
            let w = t.class_values(c)[1].unwrap();
            assert!((w - same as i64).abs() <= 10);
            assert!(
                !(values.contains(&v) && w == same as i64),
                "class row ({v}, {w}) is one person's record"
            );
        }
    }
}
