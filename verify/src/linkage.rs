//! The `linkage` check: the release against the eligible source records it came from.
//!
//! The caller reads the source (opentape does it with the pipeline's reader) and passes
//! plain values; the release's private `membership.csv` says which released row each
//! record's class got. From these, independently of the anonymizer:
//! - every class holds at least k distinct owners (recounted from the source records);
//! - no released row reproduces a source record that fewer than k owners share;
//! - nearest-neighbour record linkage (standardized measurements, within category) finds
//!   a person's own class row, divided by that row's multiplicity, at most 1/k of the time.

use crate::{check, rerr, Check, ReadError};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// One eligible source person: where it was (as the membership file names it), its owner,
/// its category values and its measurements (in the release's measurement order).
#[derive(Debug, Clone)]
pub struct SourcePerson {
    pub record: String,
    pub owner: u32,
    pub categories: Vec<String>,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Default)]
pub struct Source {
    /// Released category column names, in order.
    pub categories: Vec<String>,
    /// Measurement names, in order (for a range release: the names before `_min`/`_max`).
    pub measurements: Vec<String>,
    pub people: Vec<SourcePerson>,
}

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

/// A released row as numbers: categories as text, one point per measurement (the value,
/// or the midpoint of `_min`/`_max` for range releases).
struct Released {
    categories: Vec<String>,
    points: Vec<Option<f64>>,
}

fn released(columns: &[String], rows: &[Vec<String>], s: &Source) -> Result<Vec<Released>, String> {
    let idx = |n: &str| columns.iter().position(|c| c == n);
    let cat_idx: Vec<usize> = s
        .categories
        .iter()
        .map(|c| idx(c).ok_or(format!("category `{c}` is not released")))
        .collect::<Result<_, _>>()?;
    let mut meas: Vec<(usize, Option<usize>)> = Vec::new();
    for m in &s.measurements {
        match (idx(m), idx(&format!("{m}_min")), idx(&format!("{m}_max"))) {
            (Some(i), _, _) => meas.push((i, None)),
            (None, Some(a), Some(b)) => meas.push((a, Some(b))),
            _ => return Err(format!("measurement `{m}` is not released")),
        }
    }
    let num = |s: &str| s.parse::<f64>().ok();
    Ok(rows
        .iter()
        .map(|r| Released {
            categories: cat_idx.iter().map(|&i| r[i].clone()).collect(),
            points: meas
                .iter()
                .map(|&(a, b)| match b {
                    None => num(&r[a]),
                    Some(b) => Some((num(&r[a])? + num(&r[b])?) / 2.0),
                })
                .collect(),
        })
        .collect())
}

pub(crate) fn check_linkage(
    columns: &[String],
    rows: &[Vec<String>],
    source: &Source,
    membership: &Path,
    k: usize,
) -> Result<Check, ReadError> {
    let member = read_membership(membership)?;
    Ok(check_linkage_with(
        columns, rows, source, &member, k, MAX_SCORED,
    ))
}

/// The linkage check with the membership given in memory (record key -> released row,
/// `None` for suppressed people); at most `max_scored` people are scored for
/// nearest-neighbour linkage. Used by `release` on its staged files, before publishing.
pub fn check_linkage_with(
    columns: &[String],
    rows: &[Vec<String>],
    source: &Source,
    member: &HashMap<String, Option<usize>>,
    k: usize,
    max_scored: usize,
) -> Check {
    let rel = match released(columns, rows, source) {
        Ok(r) => r,
        Err(e) => return check("linkage", vec![e], "release and source do not match".into()),
    };
    let mut problems = Vec::new();

    // 1. Distinct owners per class, recounted from the source.
    let mut class_owners: HashMap<usize, Vec<u32>> = HashMap::new();
    let mut missing = 0;
    for p in &source.people {
        match member.get(&p.record) {
            Some(Some(row)) => {
                if rel.get(*row).is_none_or(|r| r.categories != p.categories) {
                    problems.push(format!(
                        "{}: its class row has other category values",
                        p.record
                    ));
                }
                class_owners.entry(*row).or_default().push(p.owner);
            }
            Some(None) => {}
            None => missing += 1,
        }
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
    let key = |cats: &[String], vals: &[Option<f64>]| -> String {
        let mut s = cats.join("\u{1f}");
        for v in vals {
            s.push('\u{1f}');
            if let Some(v) = v {
                s.push_str(&format!("{}", v.round() as i64));
            }
        }
        s
    };
    let released_keys: std::collections::HashSet<String> =
        rel.iter().map(|r| key(&r.categories, &r.points)).collect();
    let mut record_owners: HashMap<String, Vec<u32>> = HashMap::new();
    for p in &source.people {
        record_owners
            .entry(key(&p.categories, &p.values))
            .or_default()
            .push(p.owner);
    }
    let mut reproduced = 0;
    for (rk, owners) in &mut record_owners {
        owners.sort_unstable();
        owners.dedup();
        if owners.len() < k && released_keys.contains(rk) {
            reproduced += 1;
        }
    }
    if reproduced > 0 {
        problems.push(format!(
            "{reproduced} released row values reproduce a source record shared by fewer than k owners"
        ));
    }

    // 3. Nearest-neighbour linkage within category, on measurements standardized by the
    // source's own mean and deviation.
    let mut multiplicity: HashMap<String, usize> = HashMap::new();
    for r in &rel {
        *multiplicity
            .entry(key(&r.categories, &r.points))
            .or_default() += 1;
    }
    let mut by_cat: HashMap<&[String], Vec<usize>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rel.iter().enumerate() {
        if seen.insert(key(&r.categories, &r.points)) {
            by_cat.entry(r.categories.as_slice()).or_default().push(i);
        }
    }
    let d = source.measurements.len();
    let mut stats: HashMap<&[String], Vec<(f64, f64)>> = HashMap::new();
    for cats in by_cat.keys() {
        let ps: Vec<&SourcePerson> = source
            .people
            .iter()
            .filter(|p| p.categories.as_slice() == *cats)
            .collect();
        let st = (0..d)
            .map(|j| {
                let v: Vec<f64> = ps.iter().filter_map(|p| p.values[j]).collect();
                let n = v.len().max(1) as f64;
                let mean = v.iter().sum::<f64>() / n;
                let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
                (mean, if sd > 0.0 { sd } else { 1.0 })
            })
            .collect();
        stats.insert(cats, st);
    }
    let placed: Vec<(&SourcePerson, usize)> = source
        .people
        .iter()
        .filter_map(|p| member.get(&p.record).copied().flatten().map(|row| (p, row)))
        .collect();
    let step = placed.len().div_ceil(max_scored.max(1)).max(1);
    let scored: Vec<&(&SourcePerson, usize)> = placed.iter().step_by(step).collect();
    // Collected in order, then summed in order: the figure is the same bytes whatever the
    // thread count (a parallel float sum is not).
    let hits: Vec<f64> = scored
        .par_iter()
        .map(|(p, own)| {
            let Some(cands) = by_cat.get(p.categories.as_slice()) else {
                return 0.0;
            };
            let st = &stats[p.categories.as_slice()];
            let dist = |r: &Released| -> f64 {
                (0..d)
                    .filter_map(|j| Some(((p.values[j]? - r.points[j]?) / st[j].1).powi(2)))
                    .sum()
            };
            let best = cands
                .iter()
                .min_by(|&&a, &&b| dist(&rel[a]).total_cmp(&dist(&rel[b])).then(a.cmp(&b)))
                .copied();
            match best {
                Some(b) => {
                    let bk = key(&rel[b].categories, &rel[b].points);
                    let own = key(&rel[*own].categories, &rel[*own].points);
                    if bk == own {
                        1.0 / multiplicity[&bk] as f64
                    } else {
                        0.0
                    }
                }
                None => 0.0,
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
        source.people.len(),
        if min_owners == usize::MAX { 0 } else { min_owners },
        share,
        1.0 / k as f64,
        scored.len()
    );
    let mut c = check("linkage", problems, detail);
    c.figures = Some(serde_json::json!({
        "source_people": source.people.len(),
        "min_owners_per_class": if min_owners == usize::MAX { 0 } else { min_owners },
        "reproduced_records": reproduced,
        "nearest_neighbour_share": share,
        "bound": 1.0 / k as f64,
        "scored": scored.len(),
    }));
    c
}
