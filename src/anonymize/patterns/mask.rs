//! A set of release positions, one bit each: which measurements a record or a pattern holds.

/// Released measurements a pipeline may have (patterns are bit sets of this size).
pub use crate::pipeline::MAX_MEASUREMENTS;
pub(super) const WORDS: usize = MAX_MEASUREMENTS / 64;

/// A set of release positions, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mask(pub(super) [u64; WORDS]);

impl Mask {
    /// The positions where `values` holds a value (not NaN).
    pub fn of(values: &[f32]) -> Mask {
        let mut m = Mask::default();
        for (j, v) in values.iter().enumerate() {
            if !v.is_nan() {
                m.set(j);
            }
        }
        m
    }

    /// Every position below `d`.
    pub fn full(d: usize) -> Mask {
        let mut m = Mask::default();
        for j in 0..d {
            m.set(j);
        }
        m
    }

    pub fn set(&mut self, j: usize) {
        self.0[j / 64] |= 1 << (j % 64);
    }

    #[inline]
    pub fn has(&self, j: usize) -> bool {
        self.0[j / 64] >> (j % 64) & 1 == 1
    }

    #[inline]
    pub fn and(self, o: Mask) -> Mask {
        let mut m = self;
        for (a, b) in m.0.iter_mut().zip(o.0) {
            *a &= b;
        }
        m
    }

    /// Whether every position of `o` is in `self`.
    #[inline]
    pub fn contains(&self, o: &Mask) -> bool {
        self.0.iter().zip(&o.0).all(|(a, b)| a & b == *b)
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The positions, in order.
    pub fn dims(&self) -> Vec<usize> {
        (0..MAX_MEASUREMENTS).filter(|&j| self.has(j)).collect()
    }
}
