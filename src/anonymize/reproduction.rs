//! No released row may equal a real record: `moments = "quantile"` spreads class rows like
//! people, so a row can land exactly on someone's values (at 5 measurements and 100,000
//! people, about one row in 10,000).
//!
//! A row holds one measurement pattern; a record is compared on that pattern (its values
//! elsewhere set aside), within the row's category combination. A row equal to the
//! values that fewer than k owners' records hold on its pattern reproduces them, and is
//! moved: a row of 20 measurements equal to one person's 20 values is that person. A row
//! of one measurement is not compared: one value alone is no one's record (at the
//! millimetre, every neck in the range is a few people's, so any value a class could be
//! given "equals" someone's), and such a row is still shared by k owners. This is the
//! rule the independent checker (`linkage`) applies, values compared rounded to the unit;
//! a class whose row cannot be moved off is suppressed.

use super::patterns::Mask;
use super::Partition;
use crate::filter::Eligible;
use crate::num::round_i64;
use crate::pipeline::Pipeline;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

/// Rounds of moving rows before giving up (the class is then suppressed).
const TRIES: usize = 32;

/// Measurements a row holds for it to be compared with records at all (the checker's
/// `MIN_COMPARED` too).
pub const MIN_COMPARED: usize = 2;

/// Moves each row that reproduces records of fewer than k owners in its first
/// measurement: one step up, one down, two up, ..., until it reproduces none. Returns the
/// rows moved, and the classes whose row still reproduces records after every try.
pub fn move_off_source_records(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    class_values: &mut [Vec<Option<i64>>],
) -> (u64, Vec<usize>) {
    let res: Vec<f64> = pl
        .measurements
        .iter()
        .map(|&m| pl.catalog.measurements[m].resolution)
        .collect();
    // Category combinations by id, for strata and for people.
    let mut cat_ids: FxHashMap<&[String], u32> = FxHashMap::default();
    let stratum_cat: Vec<u32> = part
        .strata
        .iter()
        .map(|cats| {
            let next = cat_ids.len() as u32;
            *cat_ids.entry(cats.as_slice()).or_insert(next)
        })
        .collect();
    let mut code_ids: FxHashMap<&[u32], Option<u32>> = FxHashMap::default();
    let person_cat: Vec<Option<u32>> = (0..e.people.len())
        .map(|i| {
            let codes = e.people.codes(i);
            *code_ids.entry(codes).or_insert_with(|| {
                let cats: Vec<String> = (0..codes.len())
                    .map(|c| {
                        e.people
                            .value_of(c, codes[c])
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect();
                cat_ids.get(cats.as_slice()).copied()
            })
        })
        .collect();
    // Each category's patterns (distinct), as masks; each stratum's among them.
    let mut patterns: Vec<Vec<(Mask, Vec<usize>)>> = vec![Vec::new(); cat_ids.len()];
    let mut stratum_pattern = Vec::with_capacity(part.dims.len());
    for (s, dims) in part.dims.iter().enumerate() {
        let mut m = Mask::default();
        for &j in dims {
            m.set(j);
        }
        let list = &mut patterns[stratum_cat[s] as usize];
        let p = match list.iter().position(|(x, _)| *x == m) {
            Some(p) => p,
            None => {
                list.push((m, dims.clone()));
                list.len() - 1
            }
        };
        stratum_pattern.push(p);
    }
    let row_key = |c: usize, row: &[Option<i64>]| -> Vec<i64> {
        let mut k = vec![stratum_cat[part.classes[c].stratum] as i64];
        k.extend(
            row.iter()
                .zip(&res)
                .map(|(v, r)| v.map_or(i64::MIN, |v| round_i64(v as f64 * r))),
        );
        k
    };
    let mut tries: Vec<Option<(i64, i64)>> = vec![None; class_values.len()];
    // The rows looked at: every row of two measurements or more first, then only the rows
    // that moved.
    let mut looking: Vec<usize> = (0..class_values.len())
        .filter(|&c| part.dims[part.classes[c].stratum].len() >= MIN_COMPARED)
        .collect();
    // What each person holds, once; after the first round, per pattern, the people who
    // hold it (found once, the first time a row of it moves).
    let held: Vec<Mask> = (0..e.people.len())
        .into_par_iter()
        .map(|r| Mask::of(e.people.values(r)))
        .collect();
    for _attempt in 0..TRIES {
        // Each looked-at row's first two measurements and values there: records are
        // looked up by them (a record whose values there differ equals none of the row), so
        // each row is compared with the few records sharing those two values, not every
        // record with every pattern. (Rows hold two measurements or more.)
        let mut ids: FxHashMap<(u16, u16, i64, i64), u32> = FxHashMap::default();
        let mut row_id = Vec::with_capacity(looking.len());
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        for &c in &looking {
            let dims = &part.dims[part.classes[c].stratum];
            let (j0, j1) = (dims[0], dims[1]);
            let at =
                |j: usize| class_values[c][j].map_or(i64::MIN, |v| round_i64(v as f64 * res[j]));
            let next = ids.len() as u32;
            let id = *ids
                .entry((j0 as u16, j1 as u16, at(j0), at(j1)))
                .or_insert(next);
            row_id.push(id);
            if !pairs.contains(&(j0, j1)) {
                pairs.push((j0, j1));
            }
        }
        // (id, record) for every record holding a looked-up pair of values.
        let mut postings: Vec<(u32, u32)> = (0..e.people.len())
            .into_par_iter()
            .fold(Vec::new, |mut out, r| {
                if person_cat[r].is_some() {
                    let values = e.people.values(r);
                    for &(j0, j1) in &pairs {
                        if !(held[r].has(j0) && held[r].has(j1)) {
                            continue;
                        }
                        let key = (
                            j0 as u16,
                            j1 as u16,
                            round_i64(values[j0] as f64),
                            round_i64(values[j1] as f64),
                        );
                        if let Some(&id) = ids.get(&key) {
                            out.push((id, r as u32));
                        }
                    }
                }
                out
            })
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            });
        postings.par_sort_unstable();
        let starts = |id: u32| -> &[(u32, u32)] {
            let a = postings.partition_point(|x| x.0 < id);
            let b = postings.partition_point(|x| x.0 <= id);
            &postings[a..b]
        };
        // Owners of the records whose values on a row's pattern equal the row.
        let hits: Vec<(Vec<i64>, u32)> = looking
            .par_iter()
            .zip(row_id.par_iter())
            .flat_map_iter(|(&c, &id)| {
                let s = part.classes[c].stratum;
                let cat = stratum_cat[s];
                let (mask, dims) = &patterns[cat as usize][stratum_pattern[s]];
                let key = row_key(c, &class_values[c]);
                let mut found = Vec::new();
                for &(_, r) in starts(id) {
                    let r = r as usize;
                    if person_cat[r] != Some(cat) || !held[r].contains(mask) {
                        continue;
                    }
                    let values = e.people.values(r);
                    if dims
                        .iter()
                        .all(|&j| round_i64(values[j] as f64) == key[1 + j])
                    {
                        found.push((key.clone(), e.people.owner(r)));
                    }
                }
                found
            })
            .collect();
        let mut owners: FxHashMap<Vec<i64>, FxHashSet<u32>> = FxHashMap::default();
        for (k, o) in hits {
            owners.entry(k).or_default().insert(o);
        }
        let mut moved = Vec::new();
        for &c in &looking {
            let row = &mut class_values[c];
            let k = row_key(c, row);
            if owners.get(&k).is_none_or(|o| o.len() >= pl.release.k) {
                continue;
            }
            let Some(pos) = row.iter().position(Option::is_some) else {
                continue;
            };
            let (base, t) = tries[c].get_or_insert((row[pos].unwrap_or(0), 0));
            *t += 1;
            let step = (*t + 1) / 2;
            let def = &pl.catalog.measurements[pl.measurements[pos]];
            let (lo, hi) = (
                (def.min / def.resolution).round() as i64,
                (def.max / def.resolution).round() as i64,
            );
            let v = if *t % 2 == 1 {
                *base + step
            } else {
                *base - step
            };
            row[pos] = Some(v.clamp(lo, hi));
            moved.push(c);
        }
        if moved.is_empty() {
            looking.clear();
            break;
        }
        looking = moved;
    }
    // The rows still on a record after the last try (their last move is not checked: the
    // caller suppresses them).
    (tries.iter().filter(|t| t.is_some()).count() as u64, looking)
}
