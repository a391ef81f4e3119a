//! One body counts once: repeated measurements of one owner, curated copies, other
//! owners' copies.

use crate::pipeline::Pipeline;
use crate::read::People;
use crate::record::{Reason, RecordRef};

/// A set counts as a copy of another owner's (or of a reference set) only when it holds at
/// least this many values: independent bodies agree on one or two measurements to the
/// millimetre often, on eight practically never (about one pair in 10^12 at 20 mm spread).
const COPY_MIN_VALUES: usize = 8;

/// One body counts once. Measured twice by the same owner (within the tolerance on every
/// measurement both records hold, one record holding no measurement the other lacks: sets
/// hold what their owner entered, so a body measured again for a new design holds more):
/// the record holding more measurements is kept, the first of equals. A set equal to a
/// public reference set (a curated set cloned into an account) is not a body of that owner.
/// A set exactly equal to another owner's (a public set cloned) counts for the owner whose
/// record comes first.
pub(super) fn dedupe(
    pl: &Pipeline,
    people: &mut People,
    reference: &[Box<[f32]>],
    drop: &mut impl FnMut(RecordRef, Reason),
) {
    use rayon::prelude::*;
    let tol = pl.filters.dedupe.tolerance;
    let held = |p: usize| people.values(p).iter().filter(|v| !v.is_nan()).count();
    // Whether q and p are one body: one's measurements a subset of the other's, the values
    // both hold within the tolerance.
    let same = |q: usize, p: usize| {
        if people.codes(q) != people.codes(p) {
            return false;
        }
        let (mut q_only, mut p_only) = (false, false);
        for (a, b) in people.values(q).iter().zip(people.values(p)) {
            match (a.is_nan(), b.is_nan()) {
                (true, true) => {}
                (false, true) => q_only = true,
                (true, false) => p_only = true,
                (false, false) if (*a as f64 - *b as f64).abs() > tol => return false,
                (false, false) => {}
            }
        }
        !(q_only && p_only)
    };
    // People grouped by owner, in record order within a group.
    let mut order: Vec<u32> = (0..people.len() as u32).collect();
    let owner = |i: u32| people.owner(i as usize);
    order.par_sort_unstable_by_key(|&i| (owner(i), i));
    let mut verdict: Vec<Option<Reason>> = vec![None; people.len()];
    let mut seen: Vec<usize> = Vec::new();
    for group in order.chunk_by(|&a, &b| owner(a) == owner(b)) {
        if group.len() < 2 {
            continue;
        }
        seen.clear();
        for &i in group {
            let i = i as usize;
            match seen.iter().position(|&j| same(j, i)) {
                None => seen.push(i),
                // The later record holds more: it is the body's record from now on.
                Some(s) if held(i) > held(seen[s]) => {
                    verdict[seen[s]] = Some(Reason::Duplicate);
                    seen[s] = i;
                }
                Some(_) => verdict[i] = Some(Reason::Duplicate),
            }
        }
    }
    // Exact copies: people (and reference sets) with the same values, found by sorting
    // on a hash of the values and comparing within runs of one hash. Only sets holding
    // enough values to be told apart: two bodies share a neck of 380 mm, not 8 values.
    let bits = |v: &[f32]| -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        for x in v {
            (if x.is_nan() { u32::MAX } else { x.to_bits() }).hash(&mut h);
        }
        h.finish()
    };
    let equal = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits())
    };
    let references: rustc_hash::FxHashMap<u64, Vec<usize>> =
        reference
            .iter()
            .enumerate()
            .fold(Default::default(), |mut m, (i, r)| {
                m.entry(bits(r)).or_default().push(i);
                m
            });
    let mut hashed: Vec<(u64, u32)> = (0..people.len())
        .into_par_iter()
        .filter(|&i| verdict[i].is_none() && held(i) >= COPY_MIN_VALUES)
        .map(|i| (bits(people.values(i)), i as u32))
        .collect();
    hashed.par_sort_unstable();
    for run in hashed.chunk_by(|a, b| a.0 == b.0) {
        if let Some(refs) = references.get(&run[0].0) {
            for &(_, i) in run {
                if refs
                    .iter()
                    .any(|&r| equal(&reference[r], people.values(i as usize)))
                {
                    verdict[i as usize] = Some(Reason::CuratedCopy);
                }
            }
        }
        if run.len() < 2 {
            continue;
        }
        // In record order: the first of each distinct body keeps it.
        seen.clear();
        for &(_, i) in run {
            let p = i as usize;
            if verdict[p].is_some() {
                continue;
            }
            let first = seen.iter().copied().find(|&j| {
                people.codes(j) == people.codes(p) && equal(people.values(j), people.values(p))
            });
            match first {
                Some(j) if people.owner(j) != people.owner(p) => {
                    verdict[i as usize] = Some(Reason::OtherOwnersCopy)
                }
                Some(_) => {}
                None => seen.push(i as usize),
            }
        }
    }
    for (i, v) in verdict.iter().enumerate() {
        if let Some(reason) = v {
            drop(people.at(i), *reason);
        }
    }
    people.retain(|i| verdict[i].is_none());
}
