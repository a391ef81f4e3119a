//! The `linkage` check: the release against the eligible source records it came from.
//!
//! The caller reads the source (opentape does it with the pipeline's reader) and passes
//! plain values; the release's private `membership.csv` says which released row each
//! record's class got. From these, independently of the anonymizer:
//! - every class holds at least k distinct owners (recounted from the source records);
//! - no released row reproduces a source record that fewer than k owners share;
//! - nearest-neighbour record linkage (standardized measurements, within category) finds
//!   a person's own class row, divided by that row's multiplicity, at most 1/k of the time.

use crate::{check, rerr, Check, Grouped, ReadError};
use rayon::prelude::*;
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
}

/// Each source record's place in the release: `Some(Some(row))` placed in the class
/// whose first row is `row`, `Some(None)` suppressed, `None` not in the membership.
pub type Membership = Vec<Option<Option<usize>>>;

/// At most this many source people are scored for nearest-neighbour linkage (a fixed,
/// evenly spaced subset beyond that), to bound the cost on million-person releases.
pub const MAX_SCORED: usize = 20_000;

fn read_membership(path: &Path) -> Result<HashMap<String, Option<usize>>, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|e| rerr(path, e))?;
    let mut m = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        // "record",class,row : the record is quoted and may hold commas.
        let (rec, rest) = line
            .strip_prefix('"')
            .and_then(|l| l.rsplit_once("\","))
            .ok_or_else(|| rerr(path, format!("line {}: not `\"record\",class,row`", i + 1)))?;
        let row = rest.split(',').nth(1).unwrap_or("");
        m.insert(rec.replace("\"\"", "\""), row.parse::<usize>().ok());
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
    /// Per distinct row: category id and points.
    rows: Vec<(u32, Vec<Option<f64>>)>,
}

/// A record as compared for reproduction: category id and values rounded to integers.
type Key = (u32, Box<[i64]>);

fn key(cat: u32, vals: &[Option<f64>]) -> Key {
    (
        cat,
        vals.iter()
            .map(|v| v.map_or(i64::MIN, |v| v.round() as i64))
            .collect(),
    )
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
    let values = |i: usize| -> Vec<Option<f64>> { (0..d).map(|j| source.value(i, j)).collect() };
    // Source people's category ids (a category no released row has gets a new id).
    let person_cat: Vec<u32> = (0..n)
        .map(|i| {
            let cats = (0..ncats)
                .map(|c| source.category(i, c).to_string())
                .collect();
            rel.cat_id(cats)
        })
        .collect();

    // 1. Distinct owners per class, recounted from the source.
    let mut class_owners: HashMap<usize, Vec<u32>> = HashMap::new();
    let mut missing = 0;
    let mut mismatched = 0;
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
                class_owners.entry(row).or_default().push(source.owner(pi));
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
    if missing > 0 {
        problems.push(format!(
            "{missing} eligible source records are not in the membership file (other source, or other --as-of?)"
        ));
    }
    let mut min_owners = usize::MAX;
    for owners in class_owners.values_mut() {
        owners.sort_unstable();
        owners.dedup();
        min_owners = min_owners.min(owners.len());
    }
    if min_owners < k {
        problems.push(format!(
            "a class holds only {min_owners} distinct owners < k = {k}"
        ));
    }

    // 2. No released row reproduces a source record shared by fewer than k owners.
    let row_keys: Vec<Key> = rel.rows.iter().map(|(c, v)| key(*c, v)).collect();
    let mut multiplicity: HashMap<&Key, u64> = HashMap::new();
    for (d, rk) in row_keys.iter().enumerate() {
        *multiplicity.entry(rk).or_default() += g.count[d];
    }
    // Only source records equal to a released row can be reproduced: owners are
    // collected for those alone (memory follows the released rows, not the source).
    let mut record_owners: HashMap<&Key, Vec<u32>> = HashMap::new();
    for (pi, &cat) in person_cat.iter().enumerate() {
        let pk = key(cat, &values(pi));
        if let Some((rk, _)) = multiplicity.get_key_value(&pk) {
            record_owners.entry(*rk).or_default().push(source.owner(pi));
        }
    }
    let mut reproduced = 0;
    for owners in record_owners.values_mut() {
        owners.sort_unstable();
        owners.dedup();
        if owners.len() < k {
            reproduced += 1;
        }
    }
    drop(record_owners);
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
    for (pi, &c) in person_cat.iter().enumerate() {
        let c = c as usize;
        for j in 0..d {
            if let Some(v) = source.value(pi, j) {
                let s = &mut sums[c * d + j];
                s.0 += v;
                s.2 += 1;
            }
        }
    }
    let means: Vec<f64> = sums.iter().map(|s| s.0 / s.2.max(1) as f64).collect();
    for (pi, &c) in person_cat.iter().enumerate() {
        let c = c as usize;
        for j in 0..d {
            if let Some(v) = source.value(pi, j) {
                sums[c * d + j].1 += (v - means[c * d + j]).powi(2);
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
    // Per category: candidate keys and their standardized points (NaN: missing), flat.
    let mut cands: Vec<(Vec<usize>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); ncat];
    let mut seen = std::collections::HashSet::new();
    for (di, (c, v)) in rel.rows.iter().enumerate() {
        if seen.insert(&row_keys[di]) {
            let (ids, pts) = &mut cands[*c as usize];
            ids.push(di);
            pts.extend(
                v.iter()
                    .enumerate()
                    .map(|(j, x)| x.map_or(f64::NAN, |x| x / sd[*c as usize * d + j])),
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
    // Collected in order, then summed in order: the figure is the same bytes whatever the
    // thread count (a parallel float sum is not).
    let hits: Vec<f64> = scored
        .par_iter()
        .map(|&&(pi, own)| {
            let c = person_cat[pi] as usize;
            let (ids, pts) = &cands[c];
            let q: Vec<f64> = (0..d)
                .map(|j| source.value(pi, j).map_or(f64::NAN, |x| x / sd[c * d + j]))
                .collect();
            // The first candidate at the smallest distance; a partial sum already over
            // the best so far cannot win, so its loop stops early.
            let mut best = f64::INFINITY;
            let mut best_i = None;
            for (i, p) in pts.chunks_exact(d.max(1)).enumerate() {
                let mut s = 0.0;
                for j in 0..d {
                    let t = q[j] - p[j];
                    if !t.is_nan() {
                        s += t * t;
                        if s > best {
                            break;
                        }
                    }
                }
                if s < best || best_i.is_none() {
                    best = s;
                    best_i = Some(i);
                }
            }
            let Some(b) = best_i else {
                return 0.0;
            };
            let bk = &row_keys[ids[b]];
            let own = &row_keys[g.row_group[own] as usize];
            if bk == own {
                1.0 / multiplicity[bk] as f64
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = hits.iter().sum();
    let share = total / scored.len().max(1) as f64;
    if share > 1.0 / k as f64 {
        problems.push(format!(
            "nearest-neighbour linkage finds the true record {share:.4} of the time > 1/k"
        ));
    }
    let detail = format!(
        "{} source people; min owners per class {}; 0 reproduced records; nearest-neighbour linkage {:.4} <= 1/k = {:.4} ({} scored)",
        n,
        if min_owners == usize::MAX { 0 } else { min_owners },
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
        "bound": 1.0 / k as f64,
        "scored": scored.len(),
    }));
    c
}
