//! The released table before it is written: each class's row once, and for each released
//! row its class.

use super::partition::Partition;
use crate::pipeline::{Pipeline, Representation};
use rayon::prelude::*;

/// The released table, before it is written: one row per non-suppressed person. Rows of
/// a class are identical, so it is held per class: each class's row once, and for each
/// released row, its class.
#[derive(Debug)]
pub struct Table {
    pub category_names: Vec<String>,
    /// Column names (measurements, or `<name>_min`/`<name>_max` for ranges).
    pub columns: Vec<String>,
    /// Each class's released values (partition order); `None` where the measurement does
    /// not apply.
    pub class_values: Vec<Vec<Option<i64>>>,
    /// Each stratum's category values (partition order), and each class's stratum.
    pub strata: Vec<Vec<String>>,
    pub class_stratum: Vec<u32>,
    /// For each released row, in order, its class. Private: it links people to rows.
    pub row_class: Vec<u32>,
    pub clamped: u64,
    /// Class rows moved off a source record fewer than k owners share (quantile only).
    pub moved: u64,
    /// For each class (partition order), the index of its first row. Private: it links
    /// people to rows, so it only ever goes to the private run folder.
    pub class_rows: Vec<usize>,
}

impl Table {
    /// Released rows.
    pub fn rows(&self) -> usize {
        self.row_class.len()
    }

    /// A class's released values.
    pub fn class_values(&self, class: usize) -> &[Option<i64>] {
        &self.class_values[class]
    }

    /// Row `i`'s category values and measurement values.
    pub fn row(&self, i: usize) -> (&[String], &[Option<i64>]) {
        let c = self.row_class[i] as usize;
        (
            &self.strata[self.class_stratum[c] as usize],
            &self.class_values[c],
        )
    }

    /// Every row, in order.
    pub fn iter_rows(&self) -> impl Iterator<Item = (&[String], &[Option<i64>])> + '_ {
        (0..self.rows()).map(|i| self.row(i))
    }
}

/// The released measurement columns: names, or `<name>_min`/`<name>_max` for ranges.
pub fn column_names(pl: &Pipeline) -> Vec<String> {
    let mut columns = Vec::new();
    for &m in &pl.measurements {
        let name = &pl.catalog.measurements[m].name;
        match pl.release.representation {
            Representation::Centroid => columns.push(name.clone()),
            Representation::Range => {
                columns.push(format!("{name}_min"));
                columns.push(format!("{name}_max"));
            }
        }
    }
    columns
}

impl Table {
    /// The table of `part`'s classes with their released values: rows sorted by
    /// (categories, values), so their order carries no information about the input order;
    /// identical rows stay identical whatever their class, the class id only breaks ties,
    /// so each class's rows ([`Class::rows`](super::partition::Class::rows)) are contiguous.
    pub fn assemble(
        pl: &Pipeline,
        columns: Vec<String>,
        part: &Partition,
        class_values: Vec<Vec<Option<i64>>>,
        clamped: u64,
        moved: u64,
    ) -> Table {
        let strata = part.strata.clone();
        let class_stratum: Vec<u32> = part.classes.iter().map(|c| c.stratum as u32).collect();
        let class_categories = |c: usize| &strata[class_stratum[c] as usize];
        let mut order: Vec<usize> = (0..part.classes.len()).collect();
        order.par_sort_unstable_by(|&a, &b| {
            (class_categories(a), &class_values[a], a).cmp(&(
                class_categories(b),
                &class_values[b],
                b,
            ))
        });
        let mut class_rows = vec![usize::MAX; part.classes.len()];
        let mut row_class = Vec::with_capacity(part.classes.iter().map(|c| c.rows()).sum());
        for ci in order {
            class_rows[ci] = row_class.len();
            row_class.extend(std::iter::repeat_n(ci as u32, part.classes[ci].rows()));
        }
        Table {
            category_names: pl.categories.iter().map(|c| c.name.clone()).collect(),
            columns,
            class_values,
            strata,
            class_stratum,
            row_class,
            clamped,
            moved,
            class_rows,
        }
    }
}
