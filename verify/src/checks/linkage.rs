//! The `linkage` check: the release against the eligible source records it came from.
//!
//! The caller reads the source (opentape does it with the pipeline's reader) and passes
//! plain values; the release's private `membership.csv` says which released row each
//! record's class got. From these, independently of the anonymizer:
//! - every class holds at least k distinct owners (recounted from the source records);
//! - no released row reproduces a source record that fewer than k owners share;
//! - nearest-neighbour record linkage (standardized measurements, within category) finds
//!   a person's own class row, divided by that row's multiplicity, at most 1/k of the time.

use super::nearest::Nearest;
use crate::{check, rerr, Check, Grouped, ReadError};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::path::Path;

/// The eligible source records as the linkage check reads them. opentape implements it
/// over its own records (no copy).
pub trait SourceRecords: Sync {
    /// Released category column names, in order.
    fn category_names(&self) -> &[String];
    /// Measurement names, in order (for a range release: the names before `_min`/`_max`).
    fn measurement_names(&self) -> &[String];
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Where record `i` was, as the membership file names it.
    fn record(&self, i: usize) -> String;
    fn owner(&self, i: usize) -> u32;
    /// Record `i`'s value of category `c` (empty when missing).
    fn category(&self, i: usize, c: usize) -> &str;
    /// Record `i`'s measurement `j`, in the release's measurement order.
    fn value(&self, i: usize, j: usize) -> Option<f64>;
    /// Record `i`'s measurements at once, in order, into `out` (NaN where `value` gives
    /// none): the checker's passes over every record read them this way.
    fn values_into(&self, i: usize, out: &mut [f64]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.value(i, j).unwrap_or(f64::NAN);
        }
    }
}

/// Each source record's place in the release: `Some(Some(row))` placed in the class
/// whose first row is `row`, `Some(None)` suppressed, `None` not in the membership.
pub type Membership = Vec<Option<Option<usize>>>;

/// Measurements a released row holds for it to be compared with source records.
pub const MIN_COMPARED: usize = 2;

/// At most this many source people are scored for nearest-neighbour linkage (a fixed,
/// evenly spaced subset beyond that), to bound the cost on million-person releases.
pub const MAX_SCORED: usize = 20_000;

fn read_membership(path: &Path) -> Result<HashMap<String, Option<usize>>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|e| rerr(path, e))?;
    let mut m = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        // "record",class,row[,kept] : the record is quoted and may hold commas. A class
        // kept from a series' previous version (kept = 1) keeps its rows while people
        // leave it: it was checked when it was made, and its people are set aside here
        // (not counted, not scored), as the release's own check does.
        let (rec, rest) = line
            .strip_prefix('"')
            .and_then(|l| l.rsplit_once("\","))
            .ok_or_else(|| rerr(path, format!("line {}: not `\"record\",class,row`", i + 1)))?;
        let mut f = rest.split(',');
        let row = f.nth(1).unwrap_or("");
        let kept = f.next() == Some("1");
        let place = if kept {
            None
        } else {
            row.parse::<usize>().ok()
        };
        m.insert(rec.replace("\"\"", "\""), place);
    }
    Ok(m)
}

/// The released table as the linkage check needs it: per distinct row, its category
/// values (as an id) and one point per measurement (the value, or the midpoint of
/// `_min`/`_max` for range releases), rounded for record comparison.
struct Released {
    /// Category tuples, by id.
    cats: Vec<Vec<String>>,
    cat_ids: HashMap<Vec<String>, u32>,
    /// Per distinct row: category id and points (NaN: missing; half the memory of
    /// `Option<f64>`, and no released cell is NaN).
    rows: Vec<(u32, Box<[f64]>)>,
}

/// A record as compared for reproduction: category id, then values rounded to integers
/// (missing: `i64::MIN`).
type Key = Box<[i64]>;

fn key(cat: u32, vals: &[f64]) -> Key {
    let mut k = Vec::with_capacity(vals.len() + 1);
    key_into(
        &mut k,
        cat,
        vals.iter().map(|&v| (!v.is_nan()).then_some(v)),
    );
    k.into()
}

fn key_into(k: &mut Vec<i64>, cat: u32, vals: impl Iterator<Item = Option<f64>>) {
    k.clear();
    k.push(cat as i64);
    k.extend(vals.map(|v| v.map_or(i64::MIN, |v| v.round() as i64)));
}

fn released(g: &Grouped, s: &dyn SourceRecords) -> Result<Released, String> {
    let idx = |n: &str| g.columns.iter().position(|c| c == n);
    let cat_idx: Vec<usize> = s
        .category_names()
        .iter()
        .map(|c| idx(c).ok_or(format!("category `{c}` is not released")))
        .collect::<Result<_, _>>()?;
    let mut meas: Vec<(usize, Option<usize>)> = Vec::new();
    for m in s.measurement_names() {
        match (idx(m), idx(&format!("{m}_min")), idx(&format!("{m}_max"))) {
            (Some(i), _, _) => meas.push((i, None)),
            (None, Some(a), Some(b)) => meas.push((a, Some(b))),
            _ => return Err(format!("measurement `{m}` is not released")),
        }
    }
    let mut r = Released {
        cats: Vec::new(),
        cat_ids: HashMap::new(),
        rows: Vec::with_capacity(g.rows.len()),
    };
    for row in &g.rows {
        let cats: Vec<String> = cat_idx
            .iter()
            .map(|&j| g.cell_text(j, row[j]).into_owned())
            .collect();
        let id = r.cat_id(cats);
        let points = meas
            .iter()
            .map(|&(a, b)| match b {
                None => g.number(a, row[a]),
                Some(b) => Some((g.number(a, row[a])? + g.number(b, row[b])?) / 2.0),
            })
            .map(|v| v.unwrap_or(f64::NAN))
            .collect();
        r.rows.push((id, points));
    }
    Ok(r)
}

impl Released {
    fn cat_id(&mut self, cats: Vec<String>) -> u32 {
        if let Some(&id) = self.cat_ids.get(&cats) {
            return id;
        }
        let id = self.cats.len() as u32;
        self.cats.push(cats.clone());
        self.cat_ids.insert(cats, id);
        id
    }
}

/// The measurement patterns of the released rows: which columns a row holds.
struct Patterns {
    /// In order of their first row: the positions held, and whether each position is.
    list: Vec<Pattern>,
    /// Per distinct released row, its pattern.
    row: Vec<u32>,
}

struct Pattern {
    dims: Vec<usize>,
    holds: Vec<bool>,
}

impl Patterns {
    fn of(rel: &Released, d: usize) -> Patterns {
        let mut ids: FxHashMap<(u32, Vec<bool>), u32> = FxHashMap::default();
        let mut p = Patterns {
            list: Vec::new(),
            row: Vec::with_capacity(rel.rows.len()),
        };
        for (c, v) in &rel.rows {
            let holds: Vec<bool> = v.iter().map(|x| !x.is_nan()).collect();
            let next = ids.len() as u32;
            let id = *ids.entry((*c, holds.clone())).or_insert(next);
            if id == next {
                p.list.push(Pattern {
                    dims: (0..d).filter(|&j| holds[j]).collect(),
                    holds,
                });
            }
            p.row.push(id);
        }
        p
    }
}

/// Distinct owners of each group, from (group, owner) pairs (in group order).
fn owners_per_group<G: Ord + Send>(mut pairs: Vec<(G, u32)>) -> Vec<usize> {
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs.chunk_by(|a, b| a.0 == b.0).map(<[_]>::len).collect()
}

pub(crate) fn check_linkage(
    g: &Grouped,
    source: &dyn SourceRecords,
    membership: &Path,
    k: usize,
) -> Result<Check, ReadError> {
    let by_record = read_membership(membership)?;
    let member: Membership = (0..source.len())
        .map(|i| by_record.get(&source.record(i)).copied())
        .collect();
    Ok(check_linkage_with(g, source, &member, k, MAX_SCORED))
}

/// The linkage check with the membership given in memory; at most `max_scored` people
/// are scored for nearest-neighbour linkage. Used by `release` on its table before
/// writing it.
pub fn check_linkage_with(
    g: &Grouped,
    source: &dyn SourceRecords,
    member: &[Option<Option<usize>>],
    k: usize,
    max_scored: usize,
) -> Check {
    let mut rel = match released(g, source) {
        Ok(r) => r,
        Err(e) => return check("linkage", vec![e], "release and source do not match".into()),
    };
    let mut problems = Vec::new();
    let n = source.len();
    let ncats = source.category_names().len();
    let d = source.measurement_names().len();
    // Source people's category ids (a category no released row has gets a new id).
    let mut seen_cats: FxHashMap<Vec<&str>, u32> = FxHashMap::default();
    let mut cats: Vec<&str> = Vec::with_capacity(ncats);
    let person_cat: Vec<u32> = (0..n)
        .map(|i| {
            cats.clear();
            cats.extend((0..ncats).map(|c| source.category(i, c)));
            if let Some(&id) = seen_cats.get(cats.as_slice()) {
                return id;
            }
            let id = rel.cat_id(cats.iter().map(|c| c.to_string()).collect());
            seen_cats.insert(cats.clone(), id);
            id
        })
        .collect();

    // 1. Distinct owners per class, recounted from the source.
    let mut class_owners: Vec<(usize, u32)> = Vec::with_capacity(n);
    let mut missing = 0;
    let mut mismatched = 0;
    // A row holds only measurements its people hold: nothing is made up (people side by
    // side; the rest of this count runs in order).
    let invented = (0..n)
        .into_par_iter()
        .map_init(
            || vec![0.0; d],
            |own, pi| match member.get(pi).copied().flatten() {
                Some(Some(row)) => !g.row_group.get(row).is_some_and(|&dr| {
                    source.values_into(pi, own);
                    let v = &rel.rows[dr as usize].1;
                    v.iter()
                        .zip(own.iter())
                        .all(|(v, o)| v.is_nan() || !o.is_nan())
                }),
                _ => false,
            },
        )
        .filter(|&invented| invented)
        .count();
    for (pi, &cat) in person_cat.iter().enumerate() {
        match member.get(pi).copied().flatten() {
            Some(Some(row)) => {
                let same = g
                    .row_group
                    .get(row)
                    .is_some_and(|&d| rel.rows[d as usize].0 == cat);
                if !same {
                    mismatched += 1;
                    if mismatched <= 5 {
                        problems.push(format!(
                            "{}: its class row has other category values",
                            source.record(pi)
                        ));
                    }
                }
                class_owners.push((row, source.owner(pi)));
            }
            Some(None) => {}
            None => missing += 1,
        }
    }
    if mismatched > 5 {
        problems.push(format!(
            "{} more records whose class row has other category values",
            mismatched - 5
        ));
    }
    if invented > 0 {
        problems.push(format!(
            "{invented} records are placed in a class row that holds a measurement they do not"
        ));
    }
    if missing > 0 {
        problems.push(format!(
            "{missing} eligible source records are not in the membership file (other source, or other --as-of?)"
        ));
    }
    let min_owners = owners_per_group(class_owners)
        .into_iter()
        .min()
        .unwrap_or(usize::MAX);
    if min_owners < k {
        problems.push(format!(
            "a class holds only {min_owners} distinct owners < k = {k}"
        ));
    }

    // 2. No released row reproduces the records of fewer than k owners. A row holds one
    // measurement pattern (its non-null columns); a record is compared on that pattern,
    // its other values set aside: a row of 20 measurements equal to one person's 20
    // values is that person. A row of a single measurement is not compared: one value
    // alone is no one's record (at the millimetre, every value in a measurement's range is
    // a few people's), and the row is shared by k owners like any other.
    let row_keys: Vec<Key> = rel.rows.iter().map(|(c, v)| key(*c, v)).collect();
    // Distinct released records: (released rows, the record's number).
    let mut multiplicity: FxHashMap<&[i64], (u64, u32)> = FxHashMap::default();
    for (d, rk) in row_keys.iter().enumerate() {
        let next = multiplicity.len() as u32;
        multiplicity.entry(rk).or_insert((0, next)).0 += g.count[d];
    }
    // The patterns of each category's rows, in order of their first row, each with the
    // rounded values its rows hold first (a record whose first value is none of these
    // equals none of its rows).
    let pats = Patterns::of(&rel, d);
    // Only source records equal to a released row can be reproduced: owners are
    // collected for those alone (memory follows the released rows, not the source). A
    // record is looked up by its values at the first two measurements of each row's
    // pattern, so it is compared in full only with the rows it agrees with there.
    let mut by_pair: FxHashMap<(u32, usize, usize, i64, i64), Vec<u32>> = FxHashMap::default();
    let mut dim_pairs: Vec<(usize, usize)> = Vec::new();
    for (r, (c, v)) in rel.rows.iter().enumerate() {
        let dims = &pats.list[pats.row[r] as usize].dims;
        if dims.len() < MIN_COMPARED {
            continue;
        }
        let (j0, j1) = (dims[0], dims[1]);
        by_pair
            .entry((*c, j0, j1, v[j0].round() as i64, v[j1].round() as i64))
            .or_default()
            .push(r as u32);
        if !dim_pairs.contains(&(j0, j1)) {
            dim_pairs.push((j0, j1));
        }
    }
    let matched: Vec<(u32, u32)> = (0..n)
        .into_par_iter()
        .fold(
            || (Vec::new(), vec![0.0; d]),
            |(mut found, mut own), pi| {
                let cat = person_cat[pi];
                source.values_into(pi, &mut own);
                // The record's key on a row's pattern, value by value, as `key_into` makes it:
                // compared as it goes, so a row stops at its first differing value.
                let value = |j: usize, holds: bool| {
                    let v = own[j];
                    if holds && !v.is_nan() {
                        v.round() as i64
                    } else {
                        i64::MIN
                    }
                };
                for &(j0, j1) in &dim_pairs {
                    let (a, b) = (own[j0], own[j1]);
                    if a.is_nan() || b.is_nan() {
                        continue;
                    }
                    let Some(rows) =
                        by_pair.get(&(cat, j0, j1, a.round() as i64, b.round() as i64))
                    else {
                        continue;
                    };
                    for &r in rows {
                        let pat = &pats.list[pats.row[r as usize] as usize];
                        let row = &row_keys[r as usize];
                        // Equal keys: the record holds the row's every measurement, equal.
                        if row[0] == cat as i64
                            && (0..d).all(|j| row[j + 1] == value(j, pat.holds[j]))
                        {
                            found.push((
                                multiplicity[&row_keys[r as usize][..]].1,
                                source.owner(pi),
                            ));
                        }
                    }
                }
                (found, own)
            },
        )
        .map(|(found, _)| found)
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a
        });
    let record_owners = matched;
    let reproduced = owners_per_group(record_owners)
        .into_iter()
        .filter(|&owners| owners < k)
        .count();
    if reproduced > 0 {
        problems.push(format!(
            "{reproduced} released row values reproduce a source record shared by fewer than k owners"
        ));
    }

    // 3. Nearest-neighbour linkage within category, on measurements standardized by the
    // source's own mean and deviation. Candidates: one per distinct released record, in
    // the order of their first row.
    let ncat = rel.cats.len();
    let mut sums = vec![(0.0f64, 0.0f64, 0usize); ncat * d];
    let mut own = vec![0.0; d];
    for (pi, &c) in person_cat.iter().enumerate() {
        source.values_into(pi, &mut own);
        for (s, &v) in sums[c as usize * d..].iter_mut().zip(&own) {
            if !v.is_nan() {
                s.0 += v;
                s.2 += 1;
            }
        }
    }
    let means: Vec<f64> = sums.iter().map(|s| s.0 / s.2.max(1) as f64).collect();
    for (pi, &c) in person_cat.iter().enumerate() {
        let c = c as usize;
        source.values_into(pi, &mut own);
        for ((s, &v), m) in sums[c * d..].iter_mut().zip(&own).zip(&means[c * d..]) {
            if !v.is_nan() {
                s.1 += (v - m).powi(2);
            }
        }
    }
    let sd: Vec<f64> = sums
        .iter()
        .map(|s| {
            let sd = (s.1 / s.2.max(1) as f64).sqrt();
            if sd > 0.0 {
                sd
            } else {
                1.0
            }
        })
        .collect();
    // Per pattern of a category: candidate keys and their standardized points (NaN:
    // missing), flat; and each distinct row's candidate (pattern, place), for a first
    // bound. A person is looked for among the rows of their own row's pattern, on the
    // values that pattern holds: what an attacker holding their record would compare.
    let mut cands: Vec<(Vec<usize>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); pats.list.len()];
    let mut seen: FxHashMap<&[i64], (usize, usize)> = FxHashMap::default();
    let mut cand_of = Vec::with_capacity(rel.rows.len());
    for (di, (c, v)) in rel.rows.iter().enumerate() {
        let p = pats.row[di] as usize;
        let (ids, pts) = &mut cands[p];
        let place = *seen.entry(&row_keys[di]).or_insert((p, ids.len()));
        cand_of.push(place);
        if place == (p, ids.len()) {
            ids.push(di);
            pts.extend(
                v.iter()
                    .enumerate()
                    .map(|(j, x)| x / sd[*c as usize * d + j]),
            );
        }
    }
    let placed: Vec<(usize, usize)> = (0..n)
        .filter_map(|pi| {
            member
                .get(pi)
                .copied()
                .flatten()
                .flatten()
                .map(|row| (pi, row))
        })
        .filter(|&(_, row)| row < g.row_group.len())
        .collect();
    let step = placed.len().div_ceil(max_scored.max(1)).max(1);
    let scored: Vec<&(usize, usize)> = placed.iter().step_by(step).collect();
    let index: Vec<Nearest> = cands
        .par_iter()
        .map(|(_, pts)| Nearest::new(pts, d))
        .collect();
    // Collected in order, then summed in order: the figure is the same bytes whatever the
    // thread count (a parallel float sum is not).
    let hits: Vec<f64> = scored
        .par_iter()
        .map(|&&(pi, own)| {
            let c = person_cat[pi] as usize;
            let own_place = cand_of[g.row_group[own] as usize];
            let p = own_place.0;
            let ids = &cands[p].0;
            let holds = &pats.list[p].holds;
            let q: Vec<f64> = (0..d)
                .map(|j| match source.value(pi, j) {
                    Some(x) if holds[j] => x / sd[c * d + j],
                    _ => f64::NAN,
                })
                .collect();
            // The first candidate at the smallest distance (the person's own row, usually
            // near, tried first for an early bound).
            let own_i = Some(own_place.1);
            let best_i = index[p].nearest(&q, own_i);
            let Some(b) = best_i else {
                return 0.0;
            };
            let bk = &row_keys[ids[b]];
            let own = &row_keys[g.row_group[own] as usize];
            if bk == own {
                1.0 / multiplicity[&bk[..]].0 as f64
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = hits.iter().sum();
    let share = total / scored.len().max(1) as f64;
    // Unweighted: how often the nearest row is the person's own class's row at all.
    let hit_rate = hits.iter().filter(|&&h| h > 0.0).count() as f64 / scored.len().max(1) as f64;
    if share > 1.0 / k as f64 {
        problems.push(format!(
            "nearest-neighbour linkage finds the true record {share:.4} of the time > 1/k"
        ));
    }
    let detail = format!(
        "{} source people; min owners per class {}; {} reproduced records; nearest-neighbour linkage {:.4} <= 1/k = {:.4} ({} scored)",
        n,
        if min_owners == usize::MAX { 0 } else { min_owners },
        reproduced,
        share,
        1.0 / k as f64,
        scored.len()
    );
    let mut c = check("linkage", problems, detail);
    c.figures = Some(serde_json::json!({
        "source_people": n,
        "min_owners_per_class": if min_owners == usize::MAX { 0 } else { min_owners },
        "reproduced_records": reproduced,
        "nearest_neighbour_share": share,
        "nearest_neighbour_hit_rate": hit_rate,
        "bound": 1.0 / k as f64,
        "scored": scored.len(),
    }));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Builder, Cell};

    /// Source records in memory: one category column `c` and one measurement `m`.
    struct Mem {
        cats: Vec<String>,
        meas: Vec<String>,
        values: Vec<f64>,
    }

    impl SourceRecords for Mem {
        fn category_names(&self) -> &[String] {
            &self.cats
        }
        fn measurement_names(&self) -> &[String] {
            &self.meas
        }
        fn len(&self) -> usize {
            self.values.len()
        }
        fn record(&self, i: usize) -> String {
            format!("r{i}")
        }
        fn owner(&self, i: usize) -> u32 {
            i as u32
        }
        fn category(&self, _: usize, _: usize) -> &str {
            "x"
        }
        fn value(&self, i: usize, _: usize) -> Option<f64> {
            Some(self.values[i]).filter(|v| !v.is_nan())
        }
    }

    /// Two classes of `k` rows, released at 10 and 30 mm, and their people's places: the
    /// first `k` people in the first class, the next `k` in the second.
    fn two_classes(k: usize) -> (Grouped, Membership) {
        let mut b = Builder::new(vec!["c".into(), "m".into()], vec![true, false]);
        for v in [10, 30] {
            for _ in 0..k {
                b.push(&[Cell::Text("x"), Cell::Int(v)]);
            }
        }
        let member = (0..2 * k)
            .map(|i| Some(Some(if i < k { 0 } else { k })))
            .collect();
        (b.finish(), member)
    }

    /// A row holding a measurement that some of its people lack is found (a value made
    /// up), counted once per such person; the same rows over people who hold it pass.
    #[test]
    fn a_row_holding_what_its_people_lack_is_found() {
        let k = 3;
        let (g, member) = two_classes(k);
        let run = |second: f64| {
            let source = Mem {
                cats: vec!["c".into()],
                meas: vec!["m".into()],
                values: [vec![10.0; k], vec![second; k]].concat(),
            };
            check_linkage_with(&g, &source, &member, k, 100).problems
        };
        let lacking = run(f64::NAN);
        assert!(
            lacking
                .iter()
                .any(|p| p
                    == "3 records are placed in a class row that holds a measurement they do not"),
            "{lacking:?}"
        );
        let holding = run(30.0);
        assert!(
            !holding
                .iter()
                .any(|p| p.contains("holds a measurement they do not")),
            "{holding:?}"
        );
    }

    /// k people at 10 mm in a class released at 10, k at 20 mm in a class released at
    /// 30. Standardized (mean 15, sd 5) the second group sits at 4, exactly as far from
    /// 2 (the first row) as from 6 (their own): the first candidate in order wins the
    /// tie, as it must whatever candidate bounds the search first.
    #[test]
    fn nearest_neighbour_ties_go_to_the_first_candidate() {
        let k = 2;
        let (g, member) = two_classes(k);
        let source = Mem {
            cats: vec!["c".into()],
            meas: vec!["m".into()],
            values: [vec![10.0; k], vec![20.0; k]].concat(),
        };
        let c = check_linkage_with(&g, &source, &member, k, 100);
        let share = c.figures.as_ref().unwrap()["nearest_neighbour_share"]
            .as_f64()
            .unwrap();
        // First group: own row at distance 0, shared by k rows: 1/k each. Second group:
        // the tie goes to the 10 mm row, not theirs: 0. Mean: 1 / (2k).
        assert_eq!(share, 1.0 / (2 * k) as f64, "{}", c.detail);
    }
}
