//! One body counts once: repeated measurements of one owner, curated copies, other
//! owners' copies.

use crate::pipeline::Pipeline;
use crate::read::Person;
use crate::record::Reason;

/// One body counts once. Measured twice by the same owner (within the tolerance): the
/// first record is kept. A set equal to a public reference set (a curated set cloned into
/// an account) is not a body of that owner. A set exactly equal to another owner's (a
/// public set cloned) counts for the owner whose record comes first.
pub(super) fn dedupe(
    pl: &Pipeline,
    mut people: Vec<Person>,
    reference: &[Box<[f32]>],
    drop: &mut impl FnMut(&Person, Option<String>, Reason),
) -> Vec<Person> {
    use rayon::prelude::*;
    let tol = pl.filters.dedupe.tolerance;
    let same = |q: &Person, p: &Person| {
        q.categories == p.categories
            && q.values
                .iter()
                .zip(&p.values)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || (*a as f64 - *b as f64).abs() <= tol)
    };
    // People grouped by owner, in record order within a group.
    let mut order: Vec<u32> = (0..people.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (people[i as usize].owner, i));
    let mut verdict: Vec<Option<Reason>> = vec![None; people.len()];
    let mut seen: Vec<usize> = Vec::new();
    for group in order.chunk_by(|&a, &b| people[a as usize].owner == people[b as usize].owner) {
        if group.len() < 2 {
            continue;
        }
        seen.clear();
        for &i in group {
            let p = &people[i as usize];
            if seen.iter().any(|&j| same(&people[j], p)) {
                verdict[i as usize] = Some(Reason::Duplicate);
            } else {
                seen.push(i as usize);
            }
        }
    }
    // Exact copies: people (and reference sets) with the same values, found by sorting
    // on a hash of the values and comparing within runs of one hash.
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
    let mut hashed: Vec<(u64, u32)> = people
        .par_iter()
        .enumerate()
        .filter(|(i, _)| verdict[*i].is_none())
        .map(|(i, p)| (bits(&p.values), i as u32))
        .collect();
    hashed.par_sort_unstable();
    for run in hashed.chunk_by(|a, b| a.0 == b.0) {
        if let Some(refs) = references.get(&run[0].0) {
            for &(_, i) in run {
                let p = &people[i as usize];
                if refs.iter().any(|&r| equal(&reference[r], &p.values)) {
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
            let p = &people[i as usize];
            if verdict[i as usize].is_some() {
                continue;
            }
            let first = seen.iter().copied().find(|&j| {
                let q = &people[j];
                q.categories == p.categories && equal(&q.values, &p.values)
            });
            match first {
                Some(j) if people[j].owner != p.owner => {
                    verdict[i as usize] = Some(Reason::OtherOwnersCopy)
                }
                Some(_) => {}
                None => seen.push(i as usize),
            }
        }
    }
    let mut verdict = verdict.into_iter();
    people.retain(|p| match verdict.next().flatten() {
        Some(reason) => {
            drop(p, None, reason);
            false
        }
        None => true,
    });
    people
}
