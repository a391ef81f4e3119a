//! The independent checker's linkage check run on the table in memory, before anything is
//! written: the eligible people as the checker reads them, and the table grouped by row.

use crate::anonymize::{Partition, Table};
use crate::filter::Eligible;
use crate::pipeline::Pipeline;

/// People scored for nearest-neighbour linkage inside `release` (the full check,
/// `opentape verify --source`, scores up to opentape_verify::MAX_SCORED).
const RELEASE_LINKAGE_SCORED: usize = 2_000;

/// The eligible people as the checker reads them (no copy): `E` is `&Eligible` inside a
/// release, `Box<Eligible>` for `opentape verify --source`.
pub struct CheckerSource<E> {
    e: E,
    categories: Vec<String>,
    measurements: Vec<String>,
}

pub fn checker_source<E: std::ops::Deref<Target = Eligible>>(
    pl: &Pipeline,
    e: E,
) -> CheckerSource<E> {
    CheckerSource {
        e,
        categories: pl.categories.iter().map(|c| c.name.clone()).collect(),
        measurements: pl
            .measurements
            .iter()
            .map(|&m| pl.catalog.measurements[m].name.clone())
            .collect(),
    }
}

impl<E: std::ops::Deref<Target = Eligible> + Sync> opentape_verify::SourceRecords
    for CheckerSource<E>
{
    fn category_names(&self) -> &[String] {
        &self.categories
    }
    fn measurement_names(&self) -> &[String] {
        &self.measurements
    }
    fn len(&self) -> usize {
        self.e.people.len()
    }
    fn record(&self, i: usize) -> String {
        self.e.record_key(self.e.people.at(i))
    }
    fn owner(&self, i: usize) -> u32 {
        self.e.people.owner(i)
    }
    fn category(&self, i: usize, c: usize) -> &str {
        self.e.people.category(i, c).unwrap_or("")
    }
    fn value(&self, i: usize, j: usize) -> Option<f64> {
        let v = self.e.people.values(i)[j] as f64;
        (!v.is_nan()).then_some(v)
    }
    fn values_into(&self, i: usize, out: &mut [f64]) {
        for (o, &v) in out.iter_mut().zip(self.e.people.values(i)) {
            *o = v as f64;
        }
    }
}

/// The checker's linkage check on the table in memory, against the eligible people and
/// the true class membership, before anything is written. The first `kept` classes are a
/// series' classes kept from the previous version, rows unchanged (checked when they were
/// made, with the owners they had then): their people are set aside as the checker counts
/// owners and scores linkage; every row is still compared with every record.
pub fn linkage(
    pl: &Pipeline,
    e: &Eligible,
    part: &Partition,
    t: &Table,
    kept: usize,
) -> opentape_verify::Check {
    let source = checker_source(pl, e);
    let mut member: opentape_verify::Membership = vec![None; e.people.len()];
    for (ci, c) in part.classes.iter().enumerate() {
        let place = (ci >= kept).then_some(t.class_rows[ci]);
        for &m in &c.members {
            member[m as usize] = Some(place);
        }
    }
    for &m in &part.suppressed {
        member[m as usize] = Some(None);
    }
    opentape_verify::check_linkage_with(
        &grouped(t),
        &source,
        &member,
        pl.release.k,
        RELEASE_LINKAGE_SCORED,
    )
}

/// The table as the checker groups it: distinct rows, their counts, each row's group.
fn grouped(t: &Table) -> opentape_verify::Grouped {
    use opentape_verify::Cell;
    let columns: Vec<String> = t.category_names.iter().chain(&t.columns).cloned().collect();
    let text = (0..columns.len())
        .map(|j| j < t.category_names.len())
        .collect();
    let mut b = opentape_verify::Builder::new(columns, text);
    for (c, v) in t.iter_rows() {
        for (j, s) in c.iter().enumerate() {
            b.cell(j, Cell::Text(s));
        }
        for (j, x) in v.iter().enumerate() {
            b.cell(c.len() + j, x.map_or(Cell::Null, Cell::Int));
        }
        b.end_row();
    }
    b.finish()
}
