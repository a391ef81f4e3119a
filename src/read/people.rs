//! People column by column (for speed at 10M people): where each was, its owner, its category values as
//! codes into one list of values per category, and its measurements in one f32 block.
//! Stored in chunks of 16,384 people, so the store grows without copying what it holds
//! and a filter that drops people frees the chunks it empties.

use crate::record::RecordRef;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

const SHIFT: usize = 14;
const CHUNK: usize = 1 << SHIFT;

/// The code of a category the record gave no value for.
pub const NO_VALUE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
struct Chunk {
    at: Vec<RecordRef>,
    owner: Vec<u32>,
    /// `len x code_stride` codes.
    codes: Vec<u32>,
    /// `len x value_stride` values; NaN = absent.
    values: Vec<f32>,
}

/// People as the reader found them and the filter kept them. A person is an index.
#[derive(Debug, Clone, Default)]
pub struct People {
    categories: usize,
    measurements: usize,
    len: usize,
    chunks: Vec<Chunk>,
    /// Per category, its distinct values (each once): codes index these.
    dict: Vec<Vec<String>>,
    index: Vec<FxHashMap<String, u32>>,
}

/// One person's codes and values, to change in place (the filter).
pub struct RowMut<'a> {
    pub index: usize,
    pub owner: u32,
    pub codes: &'a mut [u32],
    pub values: &'a mut [f32],
}

impl People {
    /// An empty store for people with `categories` category values and `measurements`
    /// measurements each.
    pub fn new(categories: usize, measurements: usize) -> People {
        People {
            categories,
            measurements,
            len: 0,
            chunks: Vec::new(),
            dict: vec![Vec::new(); categories],
            index: vec![FxHashMap::default(); categories],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Measurements per person (release order).
    pub fn measurements(&self) -> usize {
        self.measurements
    }

    // A store with no categories (or no measurements) keeps one unused slot per person, so
    // every person has a slice of its own in every column.
    fn code_stride(&self) -> usize {
        self.categories.max(1)
    }

    fn value_stride(&self) -> usize {
        self.measurements.max(1)
    }

    #[inline]
    fn loc(&self, i: usize) -> (&Chunk, usize) {
        debug_assert!(i < self.len);
        (&self.chunks[i >> SHIFT], i & (CHUNK - 1))
    }

    #[inline]
    pub fn at(&self, i: usize) -> RecordRef {
        let (c, j) = self.loc(i);
        c.at[j]
    }

    #[inline]
    pub fn owner(&self, i: usize) -> u32 {
        let (c, j) = self.loc(i);
        c.owner[j]
    }

    /// Person `i`'s values, one per released measurement; NaN = absent.
    #[inline]
    pub fn values(&self, i: usize) -> &[f32] {
        let (s, d) = (self.value_stride(), self.measurements);
        let (c, j) = self.loc(i);
        &c.values[j * s..j * s + d]
    }

    #[inline]
    pub fn values_mut(&mut self, i: usize) -> &mut [f32] {
        let (s, d) = (self.value_stride(), self.measurements);
        let c = &mut self.chunks[i >> SHIFT];
        let j = i & (CHUNK - 1);
        &mut c.values[j * s..j * s + d]
    }

    /// Person `i`'s category codes ([`NO_VALUE`] where it has none): equal codes are
    /// equal values.
    #[inline]
    pub fn codes(&self, i: usize) -> &[u32] {
        let (s, n) = (self.code_stride(), self.categories);
        let (c, j) = self.loc(i);
        &c.codes[j * s..j * s + n]
    }

    /// Person `i`'s value of category `c`, if it has one.
    #[inline]
    pub fn category(&self, i: usize, c: usize) -> Option<&str> {
        self.value_of(c, self.codes(i)[c])
    }

    /// The value that `code` stands for in category `c`.
    #[inline]
    pub fn value_of(&self, c: usize, code: u32) -> Option<&str> {
        (code != NO_VALUE).then(|| self.dict[c][code as usize].as_str())
    }

    /// Category `c`'s values, by code.
    pub fn dict(&self, c: usize) -> &[String] {
        &self.dict[c]
    }

    /// The code of `value` in category `c`, if it has one.
    pub fn code_of(&self, c: usize, value: &str) -> Option<u32> {
        self.index[c].get(value).copied()
    }

    /// The code of `value` in category `c`, added to the category's values if new.
    pub fn intern(&mut self, c: usize, value: &str) -> u32 {
        if let Some(&code) = self.index[c].get(value) {
            return code;
        }
        let code = self.dict[c].len() as u32;
        self.dict[c].push(value.to_string());
        self.index[c].insert(value.to_string(), code);
        code
    }

    /// Adds a person: `codes` one per category, `values` one per measurement.
    pub fn push(&mut self, at: RecordRef, owner: u32, codes: &[u32], values: &[f32]) {
        debug_assert_eq!(codes.len(), self.categories);
        debug_assert_eq!(values.len(), self.measurements);
        let (cs, vs) = (self.code_stride(), self.value_stride());
        if self.len == self.chunks.len() * CHUNK {
            self.chunks.push(Chunk {
                at: Vec::with_capacity(CHUNK),
                owner: Vec::with_capacity(CHUNK),
                codes: Vec::with_capacity(CHUNK * cs),
                values: Vec::with_capacity(CHUNK * vs),
            });
        }
        let c = self.chunks.last_mut().expect("a chunk with room");
        c.at.push(at);
        c.owner.push(owner);
        c.codes.extend_from_slice(codes);
        c.codes.resize(c.at.len() * cs, NO_VALUE);
        c.values.extend_from_slice(values);
        c.values.resize(c.at.len() * vs, f32::NAN);
        self.len += 1;
    }

    /// Every person's owner, in order.
    pub fn owners(&self) -> impl Iterator<Item = u32> + '_ {
        self.chunks.iter().flat_map(|c| c.owner.iter().copied())
    }

    /// Every person's codes and values, in parallel (a chunk per task), in order, to
    /// change in place.
    pub fn par_rows_mut(&mut self) -> impl ParallelIterator<Item = RowMut<'_>> + '_ {
        let (cs, vs) = (self.code_stride(), self.value_stride());
        let (n, d) = (self.categories, self.measurements);
        self.chunks
            .par_iter_mut()
            .enumerate()
            .flat_map_iter(move |(ci, c)| {
                let owners = &c.owner;
                c.codes
                    .chunks_mut(cs)
                    .zip(c.values.chunks_mut(vs))
                    .enumerate()
                    .map(move |(j, (codes, values))| RowMut {
                        index: (ci << SHIFT) + j,
                        owner: owners[j],
                        codes: &mut codes[..n],
                        values: &mut values[..d],
                    })
            })
    }

    /// Keeps the people for whom `keep(i)` is true (called once per person, in order),
    /// moving them up in place; emptied chunks are freed.
    pub fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut w = 0;
        for i in 0..self.len {
            if keep(i) {
                if w != i {
                    self.move_down(i, w);
                }
                w += 1;
            }
        }
        self.truncate(w);
    }

    /// Copies person `from` over person `to` (`to < from`).
    fn move_down(&mut self, from: usize, to: usize) {
        let (cs, vs) = (self.code_stride(), self.value_stride());
        let (fc, fj) = (from >> SHIFT, from & (CHUNK - 1));
        let (tc, tj) = (to >> SHIFT, to & (CHUNK - 1));
        if tc == fc {
            let c = &mut self.chunks[fc];
            c.at[tj] = c.at[fj];
            c.owner[tj] = c.owner[fj];
            c.codes.copy_within(fj * cs..(fj + 1) * cs, tj * cs);
            c.values.copy_within(fj * vs..(fj + 1) * vs, tj * vs);
            return;
        }
        // The chunk written comes before the one read.
        let (head, tail) = self.chunks.split_at_mut(fc);
        let (dst, src) = (&mut head[tc], &tail[0]);
        dst.at[tj] = src.at[fj];
        dst.owner[tj] = src.owner[fj];
        dst.codes[tj * cs..(tj + 1) * cs].copy_from_slice(&src.codes[fj * cs..(fj + 1) * cs]);
        dst.values[tj * vs..(tj + 1) * vs].copy_from_slice(&src.values[fj * vs..(fj + 1) * vs]);
    }

    fn truncate(&mut self, n: usize) {
        if n >= self.len {
            return;
        }
        let (cs, vs) = (self.code_stride(), self.value_stride());
        self.chunks.truncate(n.div_ceil(CHUNK));
        if let Some(c) = self.chunks.last_mut() {
            let rows = n - ((n - 1) >> SHIFT << SHIFT);
            c.at.truncate(rows);
            c.owner.truncate(rows);
            c.codes.truncate(rows * cs);
            c.values.truncate(rows * vs);
        }
        self.len = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: u64) -> RecordRef {
        RecordRef {
            file: 0,
            n,
            sub: None,
        }
    }

    #[test]
    fn push_read_retain_across_chunks() {
        let mut p = People::new(2, 3);
        let n = CHUNK * 2 + 100;
        for i in 0..n {
            let a = p.intern(0, if i % 2 == 0 { "even" } else { "odd" });
            let codes = [a, if i % 5 == 0 { NO_VALUE } else { 0 }];
            if i % 5 != 0 && p.dict[1].is_empty() {
                p.intern(1, "x");
            }
            p.push(
                at(i as u64),
                i as u32 % 7,
                &codes,
                &[i as f32, -(i as f32), f32::NAN],
            );
        }
        assert_eq!(p.len(), n);
        assert_eq!(
            p.values(CHUNK + 3)[..2],
            [(CHUNK + 3) as f32, -((CHUNK + 3) as f32)]
        );
        assert!(p.values(CHUNK + 3)[2].is_nan());
        assert_eq!(p.category(4, 0), Some("even"));
        assert_eq!(p.category(5, 1), None);
        assert_eq!(p.category(6, 1), Some("x"));
        // Keep every third person.
        p.retain(|i| i % 3 == 0);
        let kept = n.div_ceil(3);
        assert_eq!(p.len(), kept);
        assert_eq!(p.chunks.len(), kept.div_ceil(CHUNK));
        for w in 0..kept {
            let i = w * 3;
            assert_eq!(p.at(w).n, i as u64);
            assert_eq!(p.owner(w), i as u32 % 7);
            assert_eq!(p.values(w)[0], i as f32);
            assert_eq!(
                p.category(w, 0),
                Some(if i % 2 == 0 { "even" } else { "odd" })
            );
        }
        assert_eq!(p.owners().count(), kept);
        p.retain(|_| false);
        assert!(p.is_empty());
        assert!(p.chunks.is_empty());
    }

    #[test]
    fn rows_mut_and_no_categories() {
        let mut p = People::new(0, 2);
        for i in 0..(CHUNK + 5) {
            p.push(at(i as u64), 0, &[], &[1.0, 2.0]);
        }
        let seen: Vec<usize> = p
            .par_rows_mut()
            .map(|r| {
                r.values[1] = r.index as f32;
                assert!(r.codes.is_empty());
                r.index
            })
            .collect();
        assert_eq!(seen, (0..CHUNK + 5).collect::<Vec<_>>());
        assert_eq!(p.values(CHUNK + 4), &[1.0, (CHUNK + 4) as f32]);
        assert!(p.codes(3).is_empty());
    }
}
