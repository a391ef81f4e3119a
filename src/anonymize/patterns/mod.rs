//! Measurement patterns: which columns a released row holds.
//!
//! A FreeSewing set holds what its owner entered for the designs they made (often 10-25 of
//! 38 measurements); a survey row may lack a value. A missing value is data, not a fault.
//! A release picks, within each category combination, a few patterns (sets of
//! measurements) from the data, each held whole by at least `min_pattern_owners` distinct
//! owners; every person is released in the chosen pattern of most value that their record
//! contains, their other values suppressed (null). Pattern x categories is a stratum:
//! classes of k owners, moment restoration and noise live inside it, so a row's nulls are
//! part of what k owners share.
//!
//! The patterns come from a greedy split tree over who holds what (each split takes the
//! measurement whose holders gain the most values, as long as both sides keep enough
//! owners), then every person is placed in the largest chosen pattern their record holds,
//! and patterns left with too few owners are dropped until all hold enough. A table where
//! everyone holds everything is one pattern per category combination, as before patterns.

use super::calibrate::Targets;
use crate::filter::Eligible;
use crate::pipeline::Pipeline;
use rustc_hash::FxHashMap;

mod mask;
mod tree;

use mask::WORDS;
pub use mask::{Mask, MAX_MEASUREMENTS};
use tree::{and_of, order, select};

/// One chosen pattern of one category combination.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The category codes of the combination (`People::codes`).
    pub codes: Vec<u32>,
    pub mask: Mask,
}

/// The chosen patterns and where each eligible person is released.
#[derive(Debug, Clone)]
pub struct Patterns {
    /// Within a category combination, by value (most measurements first).
    pub patterns: Vec<Pattern>,
    /// Per eligible person, the index of their pattern; [`NONE`] for a person whose record
    /// holds no chosen pattern (suppressed).
    pub of: Vec<u32>,
}

/// A person released in no pattern.
pub const NONE: u32 = u32::MAX;

/// A combination's chosen patterns and, per distinct mask, its pattern.
type Run = (Vec<Mask>, Vec<Option<usize>>);

/// People released per measurement and per pair (upper triangle of d x d).
type Released = (Vec<f64>, Vec<f64>);

/// Records of one category combination, grouped by what they hold.
struct Group {
    masks: Vec<Mask>,
    /// People per distinct mask, in person order.
    people: Vec<Vec<u32>>,
}

/// Chooses the patterns of every category combination and places each person.
pub fn choose(pl: &Pipeline, e: &Eligible) -> Patterns {
    let n = e.people.len();
    let min_owners = pl.release.min_pattern_owners;
    // Category combinations in order of first appearance; distinct masks likewise.
    let mut groups: Vec<(Vec<u32>, Group)> = Vec::new();
    let mut group_of: FxHashMap<&[u32], usize> = FxHashMap::default();
    let mut mask_of: Vec<FxHashMap<Mask, usize>> = Vec::new();
    for i in 0..n {
        let codes = e.people.codes(i);
        let g = *group_of.entry(codes).or_insert_with(|| {
            groups.push((
                codes.to_vec(),
                Group {
                    masks: Vec::new(),
                    people: Vec::new(),
                },
            ));
            mask_of.push(FxHashMap::default());
            groups.len() - 1
        });
        let mask = Mask::of(e.people.values(i));
        let group = &mut groups[g].1;
        let m = *mask_of[g].entry(mask).or_insert_with(|| {
            group.masks.push(mask);
            group.people.push(Vec::new());
            group.masks.len() - 1
        });
        group.people[m].push(i as u32);
    }
    let budget = (pl.release.max_suppressed * n as f64 / BUDGET_DIVISOR).floor() as usize;
    let d = pl.measurements.len();
    let owners_of = |people: &mut dyn Iterator<Item = u32>| -> usize {
        let mut o: Vec<u32> = people.map(|p| e.people.owner(p as usize)).collect();
        o.sort_unstable();
        o.dedup();
        o.len()
    };
    let owner = |i: u32| e.people.owner(i as usize);
    // Per combination: how many people a pattern needs (the tree counts people, a
    // pattern needs owners: people per owner scales it), its share of the budget, and
    // what the whole combination holds (kept whatever its owners: a combination of
    // complete records is one pattern, and the partition suppresses it below k owners).
    let setup: Vec<(usize, usize, Mask)> = groups
        .iter()
        .map(|(_, group)| {
            let people: usize = group.people.iter().map(Vec::len).sum();
            let owners = owners_of(&mut group.people.iter().flatten().copied());
            let need = (min_owners as f64 * people as f64 / owners.max(1) as f64).ceil() as usize;
            let share = people as f64 / n.max(1) as f64;
            let root = and_of(group, &(0..group.masks.len()).collect::<Vec<_>>());
            (need, (budget as f64 * share).floor() as usize, root)
        })
        .collect();
    let run = |g: usize, weights: &[f64]| {
        let group = &groups[g].1;
        let (need, budget, root) = setup[g];
        let chosen = select(group, need, budget, weights);
        let (mut chosen, mut placed) = assign(group, chosen, root, min_owners, weights, &owner);
        // People left out (what they hold is no chosen pattern's superset) get patterns of
        // their own where enough of them share one.
        let left: Vec<usize> = (0..placed.len()).filter(|&m| placed[m].is_none()).collect();
        if !left.is_empty() {
            let rest = Group {
                masks: left.iter().map(|&m| group.masks[m]).collect(),
                people: left.iter().map(|&m| group.people[m].clone()).collect(),
            };
            let rest_people = rest.people.iter().map(Vec::len).sum();
            let (extra, again) = assign(
                &rest,
                // They are left out already: any of them may stay so.
                select(&rest, need, rest_people, weights),
                Mask([u64::MAX; WORDS]),
                min_owners,
                weights,
                &owner,
            );
            let first = chosen.len();
            chosen.extend(extra);
            for (x, &m) in left.iter().enumerate() {
                placed[m] = again[x].map(|p| first + p);
            }
        }
        (chosen, placed)
    };
    let mut weights = vec![vec![1.0; d]; groups.len()];
    let mut runs: Vec<Run> = (0..groups.len()).map(|g| run(g, &weights[g])).collect();
    // Several combinations: a measurement kept for a larger share of one combination's
    // holders than of another's shifts its pooled mean and spread toward the first (the
    // combinations' means differ: has_breasts "true" and "false" bodies). Weigh that
    // measurement up where it is kept least and choose again, a few rounds, keeping the
    // best choice (fewest misses, then most values kept).
    if groups.len() > 1 && !groups.iter().zip(&runs).all(|((_, g), r)| lossless(g, r)) {
        let held = holder_stats(e, &groups, d);
        let mut best = (score(&groups, &runs, &held, d), runs.clone());
        for _ in 0..BALANCE_ROUNDS {
            let (misses, _) = best.0;
            if misses.0 == 0.0 {
                break;
            }
            let now = score(&groups, &runs, &held, d);
            let released: Vec<Vec<f64>> = (0..groups.len())
                .map(|g| counts(&groups[g].1, &runs[g], d).0)
                .collect();
            let mut again = vec![false; groups.len()];
            for miss in &now.1 {
                let Miss::One(j) = *miss else { continue };
                let kept = |g: usize| released[g][j] / held[g].count[j].max(1.0);
                let low = (0..groups.len())
                    .filter(|&g| held[g].count[j] > 0.0)
                    .min_by(|&a, &b| kept(a).total_cmp(&kept(b)));
                if let Some(g) = low {
                    weights[g][j] *= 1.5;
                    again[g] = true;
                }
            }
            for (g, a) in again.iter().enumerate() {
                if *a {
                    runs[g] = run(g, &weights[g]);
                }
            }
            let s = score(&groups, &runs, &held, d);
            if s.0 < best.0 .0 {
                best = (s, runs.clone());
            }
        }
        runs = best.1;
        trim(&groups, &mut runs, &held, d);
    }
    let mut patterns = Vec::new();
    let mut of = vec![NONE; n];
    for ((codes, group), (chosen, placed)) in groups.iter().zip(runs) {
        let first = patterns.len() as u32;
        for mask in chosen {
            patterns.push(Pattern {
                codes: codes.clone(),
                mask,
            });
        }
        for (m, p) in placed.iter().enumerate() {
            if let Some(p) = p {
                for &i in &group.people[m] {
                    of[i as usize] = first + *p as u32;
                }
            }
        }
    }
    Patterns { patterns, of }
}

/// The tree may set aside people to keep more values for others, up to this fraction of
/// `max_suppressed` (the rest is left for people who hold no pattern at all).
const BUDGET_DIVISOR: f64 = 4.0;
/// The least a split of the tree must gain, as a share of the values the combination
/// holds (at 1,000 people, a value or two; at a million, a few hundred).
const MIN_GAIN_SHARE: f64 = 1e-4;

/// Rounds of weighing measurements up where they are kept least.
const BALANCE_ROUNDS: usize = 12;
/// How far a measurement's pooled mean (%) and standard deviation (%) may be predicted
/// off the holders' before it is weighed up: within the release's own error budget.
const MEAN_TOLERANCE_PCT: f64 = 0.25;
const STD_TOLERANCE_PCT: f64 = 1.5;
/// How far a pair's pooled correlation may be predicted off the holders' before it is
/// trimmed, for pairs released together for at least [`PAIR_PEOPLE`] people.
const CORR_TOLERANCE: f64 = 0.02;
const PAIR_PEOPLE: f64 = 200.0;

/// A measurement, or a pair of them, whose pooled figures the choice misses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Miss {
    One(usize),
    Pair(usize, usize),
}

/// Where weighing up could not keep a measurement's (or a pair's) pooled figures, the
/// combination that keeps it for the largest share of its holders releases it for fewer:
/// the measurement (of a pair, the one that combination releases for fewer people) leaves
/// that combination's patterns, smallest stratum first, until the shares are close enough
/// (a pattern that becomes another is merged into it; one left empty goes, its people
/// with it).
fn trim(groups: &[(Vec<u32>, Group)], runs: &mut [Run], held: &[Targets], d: usize) {
    for _ in 0..4 * d * d {
        let (_, missing) = score(groups, runs, held, d);
        let Some(&miss) = missing.first() else {
            return;
        };
        let (both, released): (Vec<usize>, Vec<Released>) = (
            match miss {
                Miss::One(j) => vec![j],
                Miss::Pair(i, j) => vec![i, j],
            },
            (0..groups.len())
                .map(|g| counts(&groups[g].1, &runs[g], d))
                .collect(),
        );
        let share = |g: usize| -> f64 {
            match miss {
                Miss::One(j) => released[g].0[j] / held[g].count[j].max(1.0),
                Miss::Pair(i, j) => released[g].1[i * d + j] / held[g].both[i * d + j].max(1.0),
            }
        };
        let present = |g: usize| match miss {
            Miss::One(j) => held[g].count[j] > 0.0,
            Miss::Pair(i, j) => held[g].both[i * d + j] > 0.0,
        };
        let Some(hi) = (0..groups.len())
            .filter(|&g| present(g))
            .max_by(|&a, &b| share(a).total_cmp(&share(b)))
        else {
            return;
        };
        let drop_dim = *both
            .iter()
            .min_by(|&&a, &&b| released[hi].0[a].total_cmp(&released[hi].0[b]))
            .expect("a measurement");
        let group = &groups[hi].1;
        let run = &mut runs[hi];
        let size = |run: &Run, p: usize| -> usize {
            run.1
                .iter()
                .enumerate()
                .filter(|(_, q)| **q == Some(p))
                .map(|(m, _)| group.people[m].len())
                .sum()
        };
        let Some(p) = (0..run.0.len())
            .filter(|&p| both.iter().all(|&j| run.0[p].has(j)))
            .min_by_key(|&p| (size(run, p), p))
        else {
            return;
        };
        let mut mask = run.0[p];
        mask.0[drop_dim / 64] &= !(1 << (drop_dim % 64));
        match run.0.iter().position(|&q| q == mask) {
            Some(q) => merge(run, p, Some(q)),
            None if mask.is_empty() => merge(run, p, None),
            None => run.0[p] = mask,
        }
    }
}

/// Pattern `p`'s people go to pattern `into` (or to none), and `p` goes.
fn merge(run: &mut Run, p: usize, into: Option<usize>) {
    for x in run.1.iter_mut() {
        if *x == Some(p) {
            *x = into;
        }
    }
    run.0.remove(p);
    for x in run.1.iter_mut().flatten() {
        if *x > p {
            *x -= 1;
        }
    }
}

/// Whether a combination releases every value its people hold (each placed in a pattern
/// equal to what their record holds): then its pooled figures are its holders' exactly,
/// and weighing up or trimming has nothing to correct.
fn lossless(group: &Group, run: &Run) -> bool {
    group
        .masks
        .iter()
        .zip(&run.1)
        .all(|(mask, p)| p.is_some_and(|p| run.0[p] == *mask))
}

/// A combination's holders: per measurement and pair, counts, means, spreads.
fn holder_stats(e: &Eligible, groups: &[(Vec<u32>, Group)], d: usize) -> Vec<Targets> {
    groups
        .iter()
        .map(|(_, group)| {
            let people: Vec<u32> = group.people.iter().flatten().copied().collect();
            Targets::of(people.len(), d, &|i| e.people.values(people[i] as usize))
        })
        .collect()
}

/// People of a combination released with each measurement, and with each pair (upper
/// triangle of d x d).
fn counts(group: &Group, run: &Run, d: usize) -> Released {
    let mut size = vec![0.0; run.0.len()];
    for (m, p) in run.1.iter().enumerate() {
        if let Some(p) = p {
            size[*p] += group.people[m].len() as f64;
        }
    }
    let mut one = vec![0.0; d];
    let mut two = vec![0.0; d * d];
    for (mask, &n) in run.0.iter().zip(&size) {
        let dims = mask.dims();
        for (x, &i) in dims.iter().enumerate() {
            one[i] += n;
            for &j in &dims[x + 1..] {
                two[i * d + j] += n;
            }
        }
    }
    (one, two)
}

/// How far the choice misses: the summed excess of the predicted pooled errors over the
/// tolerances (0: none), minus values kept as a tie-break; and what misses. Within a
/// combination the release keeps each measurement's mean and spread, and each pair's
/// means and correlation, on its holders' (calibration), so the pooled figures follow from
/// how many people each combination releases with each measurement and pair.
fn score(
    groups: &[(Vec<u32>, Group)],
    runs: &[Run],
    held: &[Targets],
    d: usize,
) -> ((f64, f64), Vec<Miss>) {
    let released: Vec<Released> = (0..groups.len())
        .map(|g| counts(&groups[g].1, &runs[g], d))
        .collect();
    let mut excess = 0.0;
    let kept: f64 = released.iter().map(|r| r.0.iter().sum::<f64>()).sum();
    let mut missing = Vec::new();
    for j in 0..d {
        let pooled = |w: &dyn Fn(usize) -> f64| -> Option<(f64, f64)> {
            let (mut n, mut s, mut q) = (0.0, 0.0, 0.0);
            for (g, t) in held.iter().enumerate() {
                if t.count[j] == 0.0 {
                    continue;
                }
                let (m, v) = (t.mean[j], t.sd[j] * t.sd[j]);
                n += w(g);
                s += w(g) * m;
                q += w(g) * (v + m * m);
            }
            (n > 0.0).then(|| {
                let m = s / n;
                (m, (q / n - m * m).max(0.0).sqrt())
            })
        };
        let (Some((hm, hsd)), Some((rm, rsd))) =
            (pooled(&|g| held[g].count[j]), pooled(&|g| released[g].0[j]))
        else {
            continue;
        };
        // A measurement released for few people: its pooled figures are noise whatever
        // the choice (and trimming it would only lose values).
        let rel_people: f64 = released.iter().map(|r| r.0[j]).sum();
        if hm.abs() < 1e-9 || hsd < 1e-9 || rel_people < PAIR_PEOPLE {
            continue;
        }
        let em = (100.0 * (rm - hm) / hm).abs() / MEAN_TOLERANCE_PCT;
        let es = (100.0 * (rsd - hsd) / hsd).abs() / STD_TOLERANCE_PCT;
        let x = (em - 1.0).max(0.0) + (es - 1.0).max(0.0);
        if x > 0.0 {
            excess += x;
            missing.push(Miss::One(j));
        }
    }
    for i in 0..d {
        for j in i + 1..d {
            let k = i * d + j;
            let pooled = |w: &dyn Fn(usize) -> f64| -> Option<f64> {
                let (mut n, mut si, mut sj, mut qi, mut qj, mut x) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
                for (g, t) in held.iter().enumerate() {
                    let r = t.corr[k];
                    if r.is_nan() || w(g) == 0.0 {
                        continue;
                    }
                    let (mi, mj) = (t.pair_mean[k], t.pair_mean[j * d + i]);
                    let (vi, vj) = (t.pair_var[k], t.pair_var[j * d + i]);
                    let c = r * (vi * vj).sqrt();
                    n += w(g);
                    si += w(g) * mi;
                    sj += w(g) * mj;
                    qi += w(g) * (vi + mi * mi);
                    qj += w(g) * (vj + mj * mj);
                    x += w(g) * (c + mi * mj);
                }
                if n == 0.0 {
                    return None;
                }
                let (mi, mj) = (si / n, sj / n);
                let (vi, vj) = (qi / n - mi * mi, qj / n - mj * mj);
                (vi > 0.0 && vj > 0.0).then(|| (x / n - mi * mj) / (vi * vj).sqrt())
            };
            let rel_people: f64 = released.iter().map(|r| r.1[k]).sum();
            if rel_people < PAIR_PEOPLE {
                continue;
            }
            let (Some(h), Some(r)) = (pooled(&|g| held[g].both[k]), pooled(&|g| released[g].1[k]))
            else {
                continue;
            };
            let x = (h - r).abs() / CORR_TOLERANCE - 1.0;
            if x > 0.0 {
                excess += x;
                missing.push(Miss::Pair(i, j));
            }
        }
    }
    ((excess, -kept), missing)
}

/// Places each distinct mask in the first (largest) chosen pattern it holds; drops the
/// pattern with the fewest owners while any has fewer than `min_owners` (the
/// combination's own `root` pattern excepted), placing its people in the next pattern
/// they hold. Returns the patterns kept and, per distinct mask, its pattern's index.
fn assign(
    group: &Group,
    mut chosen: Vec<Mask>,
    root: Mask,
    min_owners: usize,
    weights: &[f64],
    owner: &dyn Fn(u32) -> u32,
) -> Run {
    order(&mut chosen, weights);
    let n = chosen.len();
    let mut alive = vec![true; n];
    let next = |m: usize, from: usize, alive: &[bool]| {
        (from..n).find(|&p| alive[p] && group.masks[m].contains(&chosen[p]))
    };
    let mut placed: Vec<Option<usize>> =
        (0..group.masks.len()).map(|m| next(m, 0, &alive)).collect();
    // Per pattern: its masks, and its owners with how many of their people it holds.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut owners: Vec<FxHashMap<u32, u32>> = vec![FxHashMap::default(); n];
    let add = |p: usize,
               m: usize,
               members: &mut Vec<Vec<usize>>,
               owners: &mut Vec<FxHashMap<u32, u32>>| {
        members[p].push(m);
        for &i in &group.people[m] {
            *owners[p].entry(owner(i)).or_default() += 1;
        }
    };
    for (m, p) in placed.iter().enumerate() {
        if let Some(p) = *p {
            add(p, m, &mut members, &mut owners);
        }
    }
    while let Some(p) = (0..n)
        .filter(|&p| alive[p] && owners[p].len() < min_owners && chosen[p] != root)
        .min_by_key(|&p| (owners[p].len(), std::cmp::Reverse(p)))
    {
        alive[p] = false;
        owners[p] = FxHashMap::default();
        for m in std::mem::take(&mut members[p]) {
            placed[m] = next(m, p + 1, &alive);
            if let Some(q) = placed[m] {
                add(q, m, &mut members, &mut owners);
            }
        }
    }
    // The patterns kept, in order, and the masks' places among them.
    let mut index = vec![usize::MAX; n];
    let mut kept = Vec::new();
    for p in 0..n {
        if alive[p] {
            index[p] = kept.len();
            kept.push(chosen[p]);
        }
    }
    let placed = placed.into_iter().map(|p| p.map(|p| index[p])).collect();
    (kept, placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::{eligible, pipeline};

    /// Everyone holds everything: one pattern per category, everyone placed.
    #[test]
    fn complete_records_are_one_pattern_per_category() {
        let pl = pipeline();
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..60)
            .map(|i| {
                (
                    i,
                    if i % 2 == 0 { "Male" } else { "Female" },
                    vec![i as f64],
                )
            })
            .collect();
        let e = eligible(&pl, &rows);
        let p = choose(&pl, &e);
        assert_eq!(p.patterns.len(), 2);
        for pat in &p.patterns {
            assert_eq!(pat.mask, Mask::full(pl.measurements.len()));
        }
        assert!(p.of.iter().all(|&x| x != NONE));
    }

    /// A combination whose people are each released with all they hold is lossless, and
    /// then nothing misses (what lets `choose` skip the holders' figures); one person
    /// released with fewer values than they hold makes it lossy.
    #[test]
    fn a_lossless_choice_misses_nothing() {
        let pl = pipeline();
        let d = pl.measurements.len();
        // Enough people for the pooled figures to count, the combinations' means apart.
        let n = 1200u32;
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..n)
            .map(|i| {
                let (sex, base) = if i % 2 == 0 {
                    ("Male", 130.0)
                } else {
                    ("Female", 100.0)
                };
                (i, sex, vec![base + (i * 7 % 13) as f64])
            })
            .collect();
        let mut e = eligible(&pl, &rows);
        // Half of each combination lacks the last measurement: two masks in each.
        let lacks = |i: u32| (i / 2).is_multiple_of(2);
        for i in (0..n).filter(|&i| lacks(i)) {
            e.people.values_mut(i as usize)[d - 1] = f32::NAN;
        }
        let mut groups: Vec<(Vec<u32>, Group)> = Vec::new();
        for (g, sex) in ["Male", "Female"].iter().enumerate() {
            let of = |short: bool| -> Vec<u32> {
                (0..n)
                    .filter(|&i| e.people.category(i as usize, 0) == Some(*sex))
                    .filter(|&i| lacks(i) == short)
                    .collect()
            };
            let (full, short) = (of(false), of(true));
            let masks = vec![
                Mask::of(e.people.values(full[0] as usize)),
                Mask::of(e.people.values(short[0] as usize)),
            ];
            assert_ne!(masks[0], masks[1]);
            groups.push((
                vec![g as u32],
                Group {
                    masks,
                    people: vec![full, short],
                },
            ));
        }
        let held = holder_stats(&e, &groups, d);
        let exact: Vec<Run> = groups
            .iter()
            .map(|(_, g)| (g.masks.clone(), vec![Some(0), Some(1)]))
            .collect();
        assert!(groups.iter().zip(&exact).all(|((_, g), r)| lossless(g, r)));
        assert!(score(&groups, &exact, &held, d).1.is_empty());
        // Everyone of the first combination released without the last measurement.
        let mut lossy = exact.clone();
        lossy[0] = (vec![groups[0].1.masks[1]], vec![Some(0), Some(0)]);
        assert!(!lossless(&groups[0].1, &lossy[0]));
        assert!(lossless(&groups[1].1, &lossy[1]));
        // Not vacuous: what the skip saves is the check that finds a lossy choice's misses.
        assert!(!score(&groups, &lossy, &held, d).1.is_empty());
    }

    /// Half the people lack the last measurements: two patterns, each person in the largest
    /// one their record holds; a person holding a pattern too rare to release is placed in
    /// a smaller one.
    #[test]
    fn people_go_to_the_largest_pattern_they_hold() {
        let mut pl = pipeline();
        pl.measurements.truncate(6);
        pl.release.k = 5;
        pl.release.min_pattern_owners = 10;
        // Room to set three people aside.
        pl.release.max_suppressed = 0.2;
        let rows: Vec<(u32, &str, Vec<f64>)> = (0..63)
            .map(|i| (i, "Male", vec![100.0 + i as f64]))
            .collect();
        let mut e = eligible(&pl, &rows);
        for i in 0..63 {
            let v = e.people.values_mut(i);
            if i % 2 == 1 {
                v[4] = f32::NAN;
                v[5] = f32::NAN;
            }
            // Three people lack measurement 0 as well: too few for a pattern of their own.
            if i >= 60 {
                v[0] = f32::NAN;
            }
        }
        let p = choose(&pl, &e);
        let full = Mask::full(6);
        let mut short = full;
        short.0[0] &= !(1 << 4 | 1 << 5);
        let masks: Vec<Mask> = p.patterns.iter().map(|x| x.mask).collect();
        assert!(masks.contains(&full) && masks.contains(&short), "{masks:?}");
        for i in 0..63 {
            let got = p.of[i];
            let held = Mask::of(e.people.values(i));
            if got == NONE {
                assert!(i >= 60, "person {i} unplaced");
                continue;
            }
            let m = p.patterns[got as usize].mask;
            assert!(
                held.contains(&m),
                "person {i} released in a pattern it does not hold"
            );
            for other in &masks {
                assert!(
                    !held.contains(other) || other.count() <= m.count(),
                    "person {i} holds a larger pattern"
                );
            }
        }
    }
}
