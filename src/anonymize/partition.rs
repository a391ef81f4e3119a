//! Strict multidimensional Mondrian (LeFevre et al. 2006) with k counted in distinct owners,
//! inside each combination of category values, in standardized or whitened space.

use super::moments;
use crate::filter::Eligible;
use crate::pipeline::{Cut, PartitionSpace, Pipeline};
use crate::progress::Meter;
use crate::read::People;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// One equivalence class: rows (indices into `Eligible::people`) of one stratum.
#[derive(Debug, Clone)]
pub struct Class {
    pub stratum: usize,
    pub members: Vec<u32>,
    pub owners: usize,
    /// Rows kept for people who have left the class since its row was published (a series
    /// keeps a class's rows unchanged: see `series`); 0 in a class made in this release.
    pub counterfeit: usize,
}

impl Class {
    /// Released rows of the class: one per member, and the rows of those who left.
    pub fn rows(&self) -> usize {
        self.members.len() + self.counterfeit
    }
}

/// People of one category combination, standardized over the measurements that apply.
struct Stratum {
    categories: Vec<String>,
    rows: Vec<u32>,
    /// Release positions of the measurements that apply in this stratum.
    dims: Vec<usize>,
    /// Row-major, `rows.len() x dims.len()`, standardized (z-scores).
    /// Standardized values, row-major (f32: half the memory; only cuts are chosen on it).
    z: Vec<f32>,
    owners: Vec<u32>,
}

#[derive(Debug)]
pub struct Partition {
    pub classes: Vec<Class>,
    /// Each stratum's category values.
    pub strata: Vec<Vec<String>>,
    /// Each stratum's measurement pattern: the release positions its rows hold.
    pub dims: Vec<Vec<usize>>,
    /// Rows of strata too small to hold one class of k owners, and of people whose
    /// record holds no chosen pattern.
    pub suppressed: Vec<u32>,
    /// Of the suppressed, the people whose record holds no chosen pattern.
    pub unplaced: usize,
    /// Of the suppressed, the people of classes whose row could not be moved off the
    /// records of fewer than k owners (set by `generalize`).
    pub withdrawn: usize,
}

impl Partition {
    /// Rows per class (its members, and in a series the rows of those who left).
    pub fn class_sizes(&self) -> Vec<usize> {
        self.classes.iter().map(|c| c.rows()).collect()
    }

    /// Whether stratum `s`'s rows hold release position `pos`.
    pub fn holds(&self, s: usize, pos: usize) -> bool {
        self.dims[s].binary_search(&pos).is_ok()
    }

    /// The distinct patterns of the release, each once, most measurements first.
    pub fn patterns(&self) -> Vec<&[usize]> {
        let mut v: Vec<&[usize]> = self.dims.iter().map(Vec::as_slice).collect();
        v.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        v.dedup();
        v
    }
}

fn distinct(owners: impl Iterator<Item = u32>) -> usize {
    let mut v: Vec<u32> = owners.collect();
    // The top nodes of a partition hold a whole stratum: sort those on every core.
    if v.len() > 1 << 16 {
        v.par_sort_unstable();
    } else {
        v.sort_unstable();
    }
    v.dedup();
    v.len()
}

/// Whether `owners` holds at least `m` distinct values: stops as soon as it has seen
/// them (a large node reaches k distinct owners within its first few rows).
fn at_least_distinct(owners: impl Iterator<Item = u32>, m: usize) -> bool {
    if m == 0 {
        return true;
    }
    let mut seen: Vec<u32> = Vec::with_capacity(m);
    for o in owners {
        if !seen.contains(&o) {
            seen.push(o);
            if seen.len() >= m {
                return true;
            }
        }
    }
    false
}

/// The classes of `e`'s people, counting on `meter` the people placed in a class or
/// suppressed.
pub fn partition(pl: &Pipeline, e: &Eligible, meter: &Meter) -> Partition {
    let k = pl.release.k;
    meter.start(e.people.len() as u64, crate::progress::Unit::Count);
    let patterns = super::patterns::choose(pl, e);
    // One stratum per pattern: ordered by category values as text, then by pattern (most
    // measurements first); each stratum's people in order.
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); patterns.patterns.len()];
    let mut unplaced = Vec::new();
    for (i, &p) in patterns.of.iter().enumerate() {
        if p == super::patterns::NONE {
            unplaced.push(i as u32);
        } else {
            rows[p as usize].push(i as u32);
        }
    }
    meter.add(unplaced.len() as u64);
    let mut by_cat: BTreeMap<(Vec<&str>, usize), usize> = BTreeMap::new();
    for (pi, pat) in patterns.patterns.iter().enumerate() {
        let cats = (0..pat.codes.len())
            .map(|c| e.people.value_of(c, pat.codes[c]).unwrap_or_default())
            .collect();
        by_cat.insert((cats, pi), pi);
    }
    let strata: Vec<Stratum> = by_cat
        .into_iter()
        .map(|((cats, _), pi)| (cats, pi, std::mem::take(&mut rows[pi])))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(categories, pi, rows)| {
            let categories = categories.into_iter().map(str::to_string).collect();
            let dims = patterns.patterns[pi].mask.dims();
            stratum(pl, &e.people, categories, rows, dims)
        })
        .collect();
    let mut classes = Vec::new();
    let mut suppressed = Vec::new();
    let results: Vec<Option<Vec<Vec<usize>>>> = strata
        .par_iter()
        .map(|s| {
            if distinct(s.owners.iter().copied()) < k {
                meter.add(s.rows.len() as u64);
                return None;
            }
            let mut local: Vec<usize> = (0..s.rows.len()).collect();
            let first = match pl.release.cut {
                Cut::Balanced => Cut::Balanced,
                Cut::Median | Cut::Auto => Cut::Median,
            };
            let leaves = mondrian(s, &mut local, k, first, meter);
            // `auto`: a stratum that ends with no more classes than measurements cannot get
            // its covariance back; cut it again at multiples of k (progress already counted).
            if pl.release.cut == Cut::Auto && leaves.len() <= s.dims.len() {
                let mut local: Vec<usize> = (0..s.rows.len()).collect();
                return Some(mondrian(s, &mut local, k, Cut::Balanced, &Meter::default()));
            }
            Some(leaves)
        })
        .collect();
    for (si, (s, r)) in strata.iter().zip(results).enumerate() {
        match r {
            None => suppressed.extend_from_slice(&s.rows),
            Some(leaves) => {
                for leaf in leaves {
                    let mut members: Vec<u32> = leaf.iter().map(|&l| s.rows[l]).collect();
                    members.sort_unstable();
                    let owners = distinct(leaf.iter().map(|&l| s.owners[l]));
                    classes.push(Class {
                        stratum: si,
                        members,
                        owners,
                        counterfeit: 0,
                    });
                }
            }
        }
    }
    let unplaced_count = unplaced.len();
    suppressed.extend(unplaced);
    let (categories, dims) = strata.into_iter().map(|s| (s.categories, s.dims)).unzip();
    Partition {
        classes,
        strata: categories,
        dims,
        suppressed,
        unplaced: unplaced_count,
        withdrawn: 0,
    }
}

/// A stratum's people over the release positions `dims` (its pattern), standardized and,
/// where the pipeline asks, whitened.
fn stratum(
    pl: &Pipeline,
    people: &People,
    categories: Vec<String>,
    rows: Vec<u32>,
    dims: Vec<usize>,
) -> Stratum {
    let n = rows.len();
    let d = dims.len();
    // The stratum's values, row-major, then standardized per dimension (mean and
    // deviation from faer's sums over fixed blocks of rows).
    let mut z = vec![0.0f32; n * d];
    z.par_chunks_mut(d.max(1)).zip(&rows).for_each(|(zr, &r)| {
        let v = people.values(r as usize);
        for (z, &pos) in zr.iter_mut().zip(&dims) {
            *z = v[pos];
        }
    });
    let (means, cov) = moments::table_moments(&z, d);
    let stats: Vec<(f64, f64)> = (0..d)
        .map(|j| {
            let var = cov[j * d + j];
            (means[j], if var > 0.0 { var.sqrt() } else { 1.0 })
        })
        .collect();
    z.par_chunks_mut(d.max(1)).for_each(|zr| {
        for (z, &(mean, sd)) in zr.iter_mut().zip(&stats) {
            *z = ((*z as f64 - mean) / sd) as f32;
        }
    });
    if pl.release.partition_space == PartitionSpace::Whitened && n > 2 * d && d > 1 {
        // The z-scores' correlation matrix is the values' covariance, scaled.
        let r: Vec<f64> = (0..d * d)
            .map(|ij| cov[ij] / (stats[ij / d].1 * stats[ij % d].1))
            .collect();
        whiten(&mut z, d, &r);
    }
    let owners = rows.iter().map(|&r| people.owner(r as usize)).collect();
    Stratum {
        categories,
        rows,
        dims,
        z,
        owners,
    }
}

/// Replaces the z-scores (row-major, n x d) by their whitened scores `z V L^{-1/2}`, with
/// `r = V L V^T` their correlation matrix (eigenvalues floored at 1e-9 of the largest):
/// every direction of the body's shape gets unit variance, so Mondrian cuts across shapes
/// rather than along overall size (`partition_space = "whitened"`; BENCHMARKS.md, the privacy-utility frontier).
fn whiten(z: &mut [f32], d: usize, r: &[f64]) {
    let (l, v) = moments::sym_eigen(r, d);
    let floor = l.iter().cloned().fold(0.0, f64::max) * 1e-9;
    // The projection P = V L^{-1/2}: each row becomes z P.
    let proj: Vec<f64> = (0..d * d)
        .map(|ik| v[ik] / l[ik % d].max(floor).sqrt())
        .collect();
    moments::transform_rows(z, d, &proj);
}

/// Strict Mondrian on `idx` (positions in the stratum): cut at the median of the widest
/// dimension where both sides keep at least k distinct owners; otherwise try the next
/// widest; a node with no allowed cut is a class. The two halves run in parallel; the
/// result does not depend on the thread count (leaves are returned left before right).
fn mondrian(s: &Stratum, idx: &mut [usize], k: usize, cut: Cut, meter: &Meter) -> Vec<Vec<usize>> {
    let d = s.dims.len();
    let leaf = |idx: &mut [usize]| {
        meter.add(idx.len() as u64);
        vec![idx.to_vec()]
    };
    if d == 0 || !at_least_distinct(idx.iter().map(|&i| s.owners[i]), 2 * k) {
        return leaf(idx);
    }
    // Each dimension's extent, in one pass over the rows (each row's values are adjacent).
    let mut lo = vec![f32::INFINITY; d];
    let mut hi = vec![f32::NEG_INFINITY; d];
    for &i in idx.iter() {
        for ((l, h), &v) in lo
            .iter_mut()
            .zip(hi.iter_mut())
            .zip(&s.z[i * d..(i + 1) * d])
        {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    let mut ranges: Vec<(f64, usize)> = (0..d).map(|j| (hi[j] as f64 - lo[j] as f64, j)).collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut vals: Vec<f32> = Vec::with_capacity(idx.len());
    // The rank to cut at: the median; or, for `cut = "balanced"`, a multiple of k so that the
    // sides can end as about n / k classes (a median cut of 33 people at k = 10 ends as two
    // classes of 16 and 17; cut at 10 it ends as three), with the median as the fallback.
    let half = idx.len() / 2;
    let balanced = k * (idx.len() / k / 2);
    let ranks = match cut {
        Cut::Balanced if balanced != half => vec![balanced, half],
        Cut::Balanced | Cut::Median | Cut::Auto => vec![half],
    };
    for (&mid, &(range, j)) in ranks
        .iter()
        .flat_map(|m| ranges.iter().map(move |r| (m, r)))
    {
        if range <= 0.0 {
            continue;
        }
        vals.clear();
        vals.extend(idx.iter().map(|&i| s.z[i * d + j]));
        let median = *vals.select_nth_unstable_by(mid, f32::total_cmp).1;
        // Left: values below the median; right: the rest. With many ties at the median,
        // move the median's block to the left instead when that balances better.
        for left_takes_median in [false, true] {
            let goes_left = |v: f32| v < median || (left_takes_median && v == median);
            let side_ok = |left: bool| {
                at_least_distinct(
                    idx.iter()
                        .filter(|&&i| goes_left(s.z[i * d + j]) == left)
                        .map(|&i| s.owners[i]),
                    k,
                )
            };
            if side_ok(true) && side_ok(false) {
                let at = partition_in_place(idx, |i| goes_left(s.z[i * d + j]));
                let (l, r) = idx.split_at_mut(at);
                let (mut a, b) = rayon::join(
                    || mondrian(s, l, k, cut, meter),
                    || mondrian(s, r, k, cut, meter),
                );
                a.extend(b);
                return a;
            }
        }
    }
    leaf(idx)
}

/// Stable partition: elements satisfying `f` first. Returns their count.
fn partition_in_place(idx: &mut [usize], f: impl Fn(usize) -> bool) -> usize {
    let (mut yes, no): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| f(i));
    let cut = yes.len();
    yes.extend(no);
    idx.copy_from_slice(&yes);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        /// Owners with several people, tiny strata, identical bodies: every class has at
        /// least k distinct owners, and only whole strata below k are suppressed.
        #[test]
        fn every_class_has_k_distinct_owners(
            people in prop::collection::vec((0u32..60, prop::bool::weighted(0.8), prop::collection::vec(100.0f64..200.0, 1..4), prop::bool::ANY), 0..300),
            k in 2usize..12,
            method in 0usize..4,
            few_measurements in prop::bool::ANY,
        ) {
            let mut pl = pipeline();
            pl.release.k = k;
            // Every space and cut; with 3 measurements, strata of more than 6 people are
            // whitened.
            (pl.release.partition_space, pl.release.cut) = [
                (PartitionSpace::Standardized, Cut::Median),
                (PartitionSpace::Whitened, Cut::Median),
                (PartitionSpace::Whitened, Cut::Balanced),
                (PartitionSpace::Whitened, Cut::Auto),
            ][method];
            if few_measurements {
                pl.measurements.truncate(3);
            }
            let rows: Vec<(u32, &str, Vec<f64>)> = people
                .iter()
                .map(|(o, male, v, same)| (*o, if *male { "Male" } else { "Female" }, if *same { vec![150.0] } else { v.clone() }))
                .collect();
            let e = eligible(&pl, &rows);
            let part = partition(&pl, &e, &Default::default());
            let mut seen = vec![false; e.people.len()];
            for c in &part.classes {
                let owners = distinct(c.members.iter().map(|&m| e.people.owner(m as usize)));
                prop_assert!(owners >= k, "class with {} owners < k={}", owners, k);
                prop_assert_eq!(owners, c.owners);
                let cat = e.people.category(c.members[0] as usize, 0);
                for &m in &c.members {
                    prop_assert!(!seen[m as usize]);
                    seen[m as usize] = true;
                    prop_assert_eq!(e.people.category(m as usize, 0), cat, "classes never mix categories");
                }
            }
            for &s in &part.suppressed {
                prop_assert!(!seen[s as usize]);
                seen[s as usize] = true;
                let cat = e.people.category(s as usize, 0);
                let owners = distinct((0..e.people.len()).filter(|&i| e.people.category(i, 0) == cat).map(|i| e.people.owner(i)));
                prop_assert!(owners < k, "suppressed a stratum of {} owners", owners);
            }
            prop_assert!(seen.iter().all(|&s| s), "every person is in a class or suppressed");
        }
    }

    #[test]
    fn whitening_gives_unit_variance_uncorrelated_scores() {
        let mut pl = pipeline();
        pl.release.partition_space = PartitionSpace::Whitened;
        let e = correlated(&mut pl, 400);
        let rows: Vec<u32> = (0..400).collect();
        let s = stratum(&pl, &e.people, vec!["Male".into()], rows, vec![0, 1, 2]);
        let (mu, cov) = moments::moments(&s.z, &vec![1.0; 400], 3);
        for i in 0..3 {
            assert!(mu[i].abs() < 1e-4, "mean {}", mu[i]);
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!(
                    (cov[i * 3 + j] - want).abs() < 1e-4,
                    "cov[{i},{j}] = {}",
                    cov[i * 3 + j]
                );
            }
        }
    }

    #[test]
    fn auto_cuts_again_when_median_cuts_leave_too_few_classes() {
        // 100 people, k = 10: median cuts end as 8 classes of 12-13; with 93 measurements
        // that is <= d, so `auto` cuts at multiples of k and ends with 10 classes of 10.
        let mut pl = pipeline();
        pl.release.k = 10;
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..100)
            .map(|i| (i, "Male", vec![(i * 7 % 100) as f64]))
            .collect();
        let e = eligible(&pl, &rows);
        pl.release.cut = Cut::Median;
        let median = partition(&pl, &e, &Default::default()).classes.len();
        pl.release.cut = Cut::Auto;
        let auto = partition(&pl, &e, &Default::default());
        pl.release.cut = Cut::Balanced;
        let balanced = partition(&pl, &e, &Default::default()).classes.len();
        assert!(median <= pl.measurements.len());
        assert_eq!(auto.classes.len(), balanced);
        assert!(balanced > median, "{balanced} vs {median}");
        assert!(auto.classes.iter().all(|c| c.owners >= 10));
        // With 3 measurements, median cuts already give more classes: auto keeps them.
        pl.measurements.truncate(3);
        let e = eligible(&pl, &rows);
        pl.release.cut = Cut::Median;
        let median = partition(&pl, &e, &Default::default());
        pl.release.cut = Cut::Auto;
        let auto = partition(&pl, &e, &Default::default());
        assert_eq!(median.classes.len(), auto.classes.len());
        assert!(median
            .classes
            .iter()
            .zip(&auto.classes)
            .all(|(a, b)| a.members == b.members));
    }
}
