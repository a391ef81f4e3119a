//! What `opentape inspect` reports: counts per stage and reason, owners and people per
//! category, and the raw re-identification risk. Aggregates only.

use crate::assess::risk::{self, Uniqueness};
use crate::filter::Eligible;
use crate::pipeline::Pipeline;
use crate::record::Tally;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub pipeline: String,
    pub format: String,
    pub as_of: String,
    pub inputs: Vec<String>,
    pub records_read: u64,
    pub users_read: u64,
    pub dropped: Tally,
    pub eligible_people: usize,
    pub eligible_owners: usize,
    /// Share of read records quarantined as malformed or implausible.
    pub rejected_share: f64,
    pub max_rejected: f64,
    /// Category name -> value -> counts.
    pub categories: BTreeMap<String, BTreeMap<String, GroupCount>>,
    pub measurements: usize,
    /// Per measurement: eligible people holding it, and of them those a release would
    /// keep it for (their chosen measurement pattern holds it).
    pub held: BTreeMap<String, Held>,
    /// Values held in all, and releasable.
    pub values_held: usize,
    pub values_releasable: usize,
    /// The measurement patterns a release would choose, most people first.
    pub patterns: Vec<PatternSummary>,
    /// Eligible people whose record holds no chosen pattern (a release suppresses them).
    pub people_without_pattern: usize,
    pub uniqueness: Vec<Uniqueness>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Held {
    pub held: usize,
    pub releasable: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct PatternSummary {
    /// Category name -> value.
    pub categories: BTreeMap<String, String>,
    pub measurements: Vec<String>,
    pub people: usize,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct GroupCount {
    pub people: usize,
    pub owners: usize,
}

pub fn summarize(pl: &Pipeline, inputs: &[String], as_of: i64, e: &Eligible) -> Summary {
    let mut categories: BTreeMap<String, BTreeMap<String, GroupCount>> = BTreeMap::new();
    for (ci, c) in pl.categories.iter().enumerate() {
        let mut owners: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for i in 0..e.people.len() {
            let v = e.people.category(i, ci).unwrap_or_default().to_string();
            owners.entry(v).or_default().push(e.people.owner(i));
        }
        let m = categories.entry(c.name.clone()).or_default();
        for (v, mut o) in owners {
            let people = o.len();
            o.sort_unstable();
            o.dedup();
            m.insert(
                v,
                GroupCount {
                    people,
                    owners: o.len(),
                },
            );
        }
    }
    // What a release would keep: the patterns it would choose.
    let patterns = crate::anonymize::patterns::choose(pl, e);
    let name = |p: usize| pl.catalog.measurements[pl.measurements[p]].name.clone();
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    let mut people_in = vec![0usize; patterns.patterns.len()];
    let (mut values_held, mut values_releasable) = (0, 0);
    for i in 0..e.people.len() {
        let pat = patterns.of[i];
        let mask =
            (pat != crate::anonymize::patterns::NONE).then(|| patterns.patterns[pat as usize].mask);
        if mask.is_some() {
            people_in[pat as usize] += 1;
        }
        for (p, v) in e.people.values(i).iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let h = held.entry(name(p)).or_default();
            h.held += 1;
            values_held += 1;
            if mask.is_some_and(|m| m.has(p)) {
                h.releasable += 1;
                values_releasable += 1;
            }
        }
    }
    let mut pattern_list: Vec<PatternSummary> = patterns
        .patterns
        .iter()
        .zip(&people_in)
        .map(|(p, &people)| PatternSummary {
            categories: pl
                .categories
                .iter()
                .enumerate()
                .map(|(c, cat)| {
                    (
                        cat.name.clone(),
                        e.people
                            .value_of(c, p.codes[c])
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect(),
            measurements: p.mask.dims().into_iter().map(name).collect(),
            people,
        })
        .collect();
    pattern_list.sort_by(|a, b| {
        b.people
            .cmp(&a.people)
            .then(b.measurements.len().cmp(&a.measurements.len()))
    });
    let people_without_pattern = patterns
        .of
        .iter()
        .filter(|&&p| p == crate::anonymize::patterns::NONE)
        .count();
    Summary {
        pipeline: pl.path.display().to_string(),
        format: pl.format.name().to_string(),
        as_of: crate::date::format_date(as_of),
        inputs: inputs.to_vec(),
        records_read: e.records_read,
        users_read: e.users_read,
        dropped: e.tally.clone(),
        eligible_people: e.people.len(),
        eligible_owners: e.owners(),
        rejected_share: e.rejected_share(),
        max_rejected: pl.filters.plausibility.max_rejected,
        categories,
        measurements: pl.measurements.len(),
        held,
        values_held,
        values_releasable,
        patterns: pattern_list,
        people_without_pattern,
        uniqueness: risk::uniqueness(e),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pipeline   {} ({})", self.pipeline, self.format)?;
        writeln!(f, "input      {}", self.inputs.join(", "))?;
        writeln!(f, "as of      {}", self.as_of)?;
        writeln!(f)?;
        writeln!(f, "read       {:>9} people records", self.records_read)?;
        if self.users_read > 0 {
            writeln!(f, "           {:>9} user records", self.users_read)?;
        }
        for (stage, reasons) in &self.dropped.0 {
            for (reason, n) in reasons {
                writeln!(f, "dropped    {n:>9} {}: {reason}", stage.name())?;
            }
        }
        writeln!(
            f,
            "eligible   {:>9} people, {} owners, {} released measurements",
            self.eligible_people, self.eligible_owners, self.measurements
        )?;
        writeln!(
            f,
            "quarantine {:>8.2}% of records (limit {:.2}%)",
            self.rejected_share * 100.0,
            self.max_rejected * 100.0
        )?;
        for (name, values) in &self.categories {
            writeln!(f)?;
            writeln!(f, "category {name}")?;
            for (v, c) in values {
                writeln!(f, "  {v:<12} {:>9} people {:>9} owners", c.people, c.owners)?;
            }
        }
        writeln!(f)?;
        writeln!(
            f,
            "values     {:>9} held, {} releasable ({:.1}%) in {} measurement patterns; {} people hold no pattern",
            self.values_held,
            self.values_releasable,
            100.0 * self.values_releasable as f64 / self.values_held.max(1) as f64,
            self.patterns.len(),
            self.people_without_pattern
        )?;
        writeln!(
            f,
            "  {:<22} {:>9} {:>11}",
            "measurement", "held", "releasable"
        )?;
        for (name, h) in &self.held {
            writeln!(f, "  {name:<22} {:>9} {:>11}", h.held, h.releasable)?;
        }
        let shown = self.patterns.len().min(10);
        writeln!(f)?;
        writeln!(
            f,
            "patterns (the {shown} holding most people of {})",
            self.patterns.len()
        )?;
        for p in &self.patterns[..shown] {
            let cats: Vec<String> = p
                .categories
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            writeln!(
                f,
                "  {:>6} people  {} measurements  {}: {}",
                p.people,
                p.measurements.len(),
                cats.join(" "),
                p.measurements.join(", ")
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "raw risk (before anonymization): people unique on categories + measurements"
        )?;
        for u in &self.uniqueness {
            writeln!(
                f,
                "  rounded to {:>3} mm: {:>9} unique ({:.1}%)",
                u.rounding,
                u.unique_people,
                u.share * 100.0
            )?;
        }
        Ok(())
    }
}
