//! How far a long stage has got, for a progress display: the library counts (bytes read,
//! people placed in classes), the command line draws. Counting is a relaxed atomic add,
//! cheap enough for the hot loops; a run without a display still counts, unseen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What is counted in the current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    /// People placed, releases checked: the stage message names what.
    Count,
}

#[derive(Debug, Default)]
pub struct Meter {
    done: AtomicU64,
    total: AtomicU64,
    unit: Mutex<Option<Unit>>,
}

impl Meter {
    /// A new stage of `total` units (0: no known amount, nothing to count).
    pub fn start(&self, total: u64, unit: Unit) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        *self.unit.lock().unwrap_or_else(|e| e.into_inner()) = (total > 0).then_some(unit);
    }

    /// A stage with nothing to count (a spinner is all a display can show).
    pub fn stop(&self) {
        self.start(0, Unit::Count);
    }

    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// (done, total, unit); unit is None when the current stage counts nothing.
    pub fn get(&self) -> (u64, u64, Option<Unit>) {
        let unit = *self.unit.lock().unwrap_or_else(|e| e.into_inner());
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            unit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_a_stage_and_resets_on_the_next() {
        let m = Meter::default();
        assert_eq!(m.get(), (0, 0, None));
        m.start(100, Unit::Bytes);
        m.add(30);
        m.add(12);
        assert_eq!(m.get(), (42, 100, Some(Unit::Bytes)));
        m.start(7, Unit::Count);
        assert_eq!(m.get(), (0, 7, Some(Unit::Count)));
        m.stop();
        assert_eq!(m.get().2, None);
    }
}
