//! The released table as this crate holds it: its distinct rows with their counts, and for
//! every released row the distinct row it is. A k-anonymous table has at most n / k
//! distinct rows, so this is small whatever the row count, and the k, plausibility,
//! secrets and linkage checks all work on distinct values. Text cells are interned per
//! column; integer cells are stored as themselves; a missing cell is [`NULL`].

use rustc_hash::FxHashMap;

/// A missing cell.
pub const NULL: i64 = i64::MIN;

/// A cell as a caller hands it over.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

#[derive(Debug, Default)]
pub struct Grouped {
    pub columns: Vec<String>,
    /// Per column: whether it holds text (interned) or integers.
    pub text: Vec<bool>,
    /// Per text column: its distinct values, indexed by the cell's code.
    pub dicts: Vec<Vec<String>>,
    /// Distinct rows (coded cells).
    pub rows: Vec<Box<[i64]>>,
    /// How many released rows each distinct row stands for.
    pub count: Vec<u64>,
    /// For each released row, in order: its distinct row.
    pub row_group: Vec<u32>,
}

impl Grouped {
    /// Released rows.
    pub fn len(&self) -> usize {
        self.row_group.len()
    }

    pub fn is_empty(&self) -> bool {
        self.row_group.is_empty()
    }

    /// The cell of column `j` as text (missing: empty), as the CSV writes it.
    pub fn cell_text(&self, j: usize, v: i64) -> std::borrow::Cow<'_, str> {
        if v == NULL {
            "".into()
        } else if self.text[j] {
            self.dicts[j][v as usize].as_str().into()
        } else {
            v.to_string().into()
        }
    }

    /// The cell of column `j` as a number, for integer columns.
    pub fn number(&self, j: usize, v: i64) -> Option<f64> {
        (v != NULL && !self.text[j]).then_some(v as f64)
    }

    /// The first released row of each distinct row.
    pub fn first_rows(&self) -> Vec<usize> {
        let mut first = vec![usize::MAX; self.rows.len()];
        for (i, &g) in self.row_group.iter().enumerate() {
            let f = &mut first[g as usize];
            if *f == usize::MAX {
                *f = i;
            }
        }
        first
    }
}

/// Builds a [`Grouped`] row by row.
/// No group: the end of a chain of groups with one hash.
const NO_GROUP: u32 = u32::MAX;

pub struct Builder {
    g: Grouped,
    /// Distinct rows by hash: the last group with that hash, and per group the one before
    /// it with the same hash ([`NO_GROUP`] for none). The rows are not held twice (as keys).
    index: FxHashMap<u64, u32>,
    chain: Vec<u32>,
    interned: Vec<FxHashMap<String, i64>>,
    row: Vec<i64>,
}

impl Builder {
    pub fn new(columns: Vec<String>, text: Vec<bool>) -> Builder {
        let n = columns.len();
        Builder {
            g: Grouped {
                columns,
                text,
                dicts: vec![Vec::new(); n],
                ..Default::default()
            },
            index: FxHashMap::default(),
            chain: Vec::new(),
            interned: vec![FxHashMap::default(); n],
            row: Vec::with_capacity(n),
        }
    }

    /// Codes a cell of column `j` of the row being built; true when it is text seen for
    /// the first time in that column.
    pub fn cell(&mut self, j: usize, c: Cell) -> bool {
        let (v, new) = match c {
            Cell::Null => (NULL, false),
            Cell::Int(v) => (v, false),
            Cell::Text(s) => match self.interned[j].get(s) {
                Some(&v) => (v, false),
                None => {
                    let v = self.g.dicts[j].len() as i64;
                    self.g.dicts[j].push(s.to_string());
                    self.interned[j].insert(s.to_string(), v);
                    (v, true)
                }
            },
        };
        self.row.push(v);
        new
    }

    /// Ends the row being built.
    pub fn end_row(&mut self) {
        // A row equal to the one before (rows of a class are contiguous) is its group.
        let previous = self.g.row_group.last().map(|&g| g as usize);
        let same = previous.filter(|&g| *self.g.rows[g] == *self.row.as_slice());
        let hash = || {
            use std::hash::{Hash, Hasher};
            let mut h = rustc_hash::FxHasher::default();
            self.row.hash(&mut h);
            h.finish()
        };
        let g = match same.map(|g| g as u32) {
            Some(g) => g,
            None => {
                let h = hash();
                let mut g = self.index.get(&h).copied().unwrap_or(NO_GROUP);
                while g != NO_GROUP && *self.g.rows[g as usize] != *self.row.as_slice() {
                    g = self.chain[g as usize];
                }
                if g == NO_GROUP {
                    g = self.g.rows.len() as u32;
                    self.g.rows.push(self.row.as_slice().into());
                    self.g.count.push(0);
                    self.chain.push(self.index.insert(h, g).unwrap_or(NO_GROUP));
                }
                g
            }
        };
        self.g.count[g as usize] += 1;
        self.g.row_group.push(g);
        self.row.clear();
    }

    /// Adds a whole row.
    pub fn push(&mut self, cells: &[Cell]) {
        for (j, c) in cells.iter().enumerate() {
            self.cell(j, *c);
        }
        self.end_row();
    }

    pub fn finish(self) -> Grouped {
        self.g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_identical_rows_and_keeps_row_order() {
        let mut b = Builder::new(vec!["sex".into(), "chest".into()], vec![true, false]);
        b.push(&[Cell::Text("f"), Cell::Int(900)]);
        b.push(&[Cell::Text("m"), Cell::Int(900)]);
        b.push(&[Cell::Text("f"), Cell::Int(900)]);
        b.push(&[Cell::Text("f"), Cell::Null]);
        let g = b.finish();
        assert_eq!(g.len(), 4);
        assert_eq!(g.rows.len(), 3);
        assert_eq!(g.row_group, [0, 1, 0, 2]);
        assert_eq!(g.count, [2, 1, 1]);
        assert_eq!(g.cell_text(0, g.rows[1][0]), "m");
        assert_eq!(g.cell_text(1, g.rows[0][1]), "900");
        assert_eq!(g.cell_text(1, g.rows[2][1]), "");
        assert_eq!(g.first_rows(), [0, 1, 3]);
    }
}
