//! The greedy split tree over who holds what: each split takes the measurement whose
//! holders gain the most values while both sides keep enough owners.

use super::mask::WORDS;
use super::{Group, Mask, MAX_MEASUREMENTS, MIN_GAIN_SHARE};

/// A tree leaf: distinct masks (indices into the group) and how a split of it would pay.
struct Leaf {
    masks: Vec<usize>,
    best: Option<Split>,
}

#[derive(Clone, Copy)]
struct Split {
    gain: f64,
    dim: usize,
    /// Whether the side without `dim` keeps enough people for a pattern of its own (else
    /// its people are set aside, within the budget).
    keep_rest: bool,
    rest: usize,
}

/// The value of releasing `people` in `mask`: values kept, each measurement weighted.
fn value(mask: &Mask, people: usize, weights: &[f64]) -> f64 {
    mask.dims().iter().map(|&j| weights[j]).sum::<f64>() * people as f64
}

pub(super) fn and_of(group: &Group, masks: &[usize]) -> Mask {
    masks
        .iter()
        .map(|&m| group.masks[m])
        .reduce(Mask::and)
        .unwrap_or_default()
}

fn count_of(group: &Group, masks: &[usize]) -> usize {
    masks.iter().map(|&m| group.people[m].len()).sum()
}

/// The best split of a leaf: the measurement whose holders, released in what they all
/// hold, gain the most values over the leaf's own pattern.
fn best_split(
    group: &Group,
    leaf: &[usize],
    need: usize,
    budget_left: usize,
    weights: &[f64],
    min_gain: f64,
) -> Option<Split> {
    let n = count_of(group, leaf);
    let here = and_of(group, leaf);
    let all = Mask([u64::MAX; WORDS]);
    let mut with = vec![all; MAX_MEASUREMENTS];
    let mut without = vec![all; MAX_MEASUREMENTS];
    let mut holders = vec![0usize; MAX_MEASUREMENTS];
    let mut any = Mask::default();
    for &m in leaf {
        let mask = group.masks[m];
        for (a, b) in any.0.iter_mut().zip(mask.0) {
            *a |= b;
        }
    }
    let dims: Vec<usize> = any.dims().into_iter().filter(|&j| !here.has(j)).collect();
    for &m in leaf {
        let mask = group.masks[m];
        let c = group.people[m].len();
        for &j in &dims {
            if mask.has(j) {
                with[j] = with[j].and(mask);
                holders[j] += c;
            } else {
                without[j] = without[j].and(mask);
            }
        }
    }
    let mut best: Option<Split> = None;
    for &j in &dims {
        let (a, b) = (holders[j], n - holders[j]);
        if a < need || b == 0 {
            continue;
        }
        let keep_rest = b >= need;
        if !keep_rest && b > budget_left {
            continue;
        }
        let rest = if keep_rest {
            value(&without[j], b, weights)
        } else {
            0.0
        };
        let gain = value(&with[j], a, weights) + rest - value(&here, n, weights);
        if gain > min_gain && best.is_none_or(|s| gain > s.gain) {
            best = Some(Split {
                gain,
                dim: j,
                keep_rest,
                rest: b,
            });
        }
    }
    best
}

/// The greedy split tree: the leaves' patterns (non-empty), most valuable first.
pub(super) fn select(group: &Group, need: usize, budget: usize, weights: &[f64]) -> Vec<Mask> {
    let mut budget_left = budget;
    let root: Vec<usize> = (0..group.masks.len()).collect();
    // A split must keep a share of all the values the combination holds: a pattern that
    // gains a handful of values among a million is not worth a stratum of its own.
    let min_gain = MIN_GAIN_SHARE
        * root
            .iter()
            .map(|&m| value(&group.masks[m], group.people[m].len(), weights))
            .sum::<f64>();
    let best = best_split(group, &root, need, budget_left, weights, min_gain);
    let mut leaves = vec![Leaf { masks: root, best }];
    while let Some((li, split)) = leaves
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.best.map(|s| (i, s)))
        .max_by(|a, b| a.1.gain.total_cmp(&b.1.gain).then(b.0.cmp(&a.0)))
    {
        let leaf = leaves.swap_remove(li);
        let (with, without): (Vec<usize>, Vec<usize>) = leaf
            .masks
            .iter()
            .partition(|&&m| group.masks[m].has(split.dim));
        if !split.keep_rest {
            budget_left -= split.rest;
        }
        // A leaf whose people were set aside is gone; the others may split again (the
        // budget shrank, so splits that set people aside are looked at anew).
        let mut fresh = vec![with];
        if split.keep_rest {
            fresh.push(without);
        }
        for masks in fresh {
            let best = best_split(group, &masks, need, budget_left, weights, min_gain);
            leaves.push(Leaf { masks, best });
        }
        if !split.keep_rest {
            for l in leaves.iter_mut() {
                if l.best.is_some_and(|s| !s.keep_rest && s.rest > budget_left) {
                    l.best = best_split(group, &l.masks, need, budget_left, weights, min_gain);
                }
            }
        }
    }
    let mut out: Vec<Mask> = leaves
        .iter()
        .map(|l| and_of(group, &l.masks))
        .filter(|m| !m.is_empty())
        .collect();
    order(&mut out, weights);
    out.dedup();
    out
}

/// Most value first (with weights of 1, most measurements), then most measurements, then
/// by the positions (a fixed order).
pub(super) fn order(patterns: &mut [Mask], weights: &[f64]) {
    patterns.sort_by(|a, b| {
        value(b, 1, weights)
            .total_cmp(&value(a, 1, weights))
            .then(b.count().cmp(&a.count()))
            .then(a.cmp(b))
    });
}
