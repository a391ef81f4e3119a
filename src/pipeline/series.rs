//! `[series]`: the noise on what a release computes from the current people, and the
//! budget a person may spend over a series of versions.

use super::*;

/// What happens to a person whose next version would pass `max_budget`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverBudget {
    /// Their values are not used again (as after a withdrawal: their class keeps its
    /// rows), counted in the manifest.
    LeaveOut,
    /// The release refuses.
    Refuse,
}

/// Noise and budget of the figures a release computes from the current people (the moment
/// targets of the class rows and every figure the documents give about the eligible
/// people). Noise is Gaussian, in the measurements' public frame: centred on the catalog
/// range's midpoint, in units of an eighth of its half-range (`anonymize::known::Frame`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Series {
    /// Standard deviation of the noise on each count of people (holders of a measurement,
    /// of a pair).
    pub count_noise: f64,
    /// Standard deviation of the noise on each sum of values (frame units).
    pub sum_noise: f64,
    /// Standard deviation of the noise on each sum of squares and products (frame units
    /// squared), taken once per series: spreads and correlations carry over.
    pub square_noise: f64,
    /// Each person's centred values are scaled down to at most `clip * sqrt(d)` frame units
    /// (d measurements) before their squares are summed: what bounds one person's share.
    pub clip: f64,
    /// zCDP budget (rho) a person may spend over the whole series. Default: what three
    /// cuts spend (the first version and two re-cuts of a person, with the spreads once):
    /// on ANSUR II an attacker averaging three versions with a person and three without
    /// found nobody (BENCHMARKS.md, "Release series"); five and five found 3 of 20.
    pub max_budget: f64,
    pub over_budget: OverBudget,
}

impl Default for Series {
    fn default() -> Series {
        Series {
            count_noise: 2.0,
            sum_noise: 3.0,
            square_noise: 0.5,
            clip: 2.0,
            // Resolved by `resolve` once the number of measurements is known.
            max_budget: f64::NAN,
            over_budget: OverBudget::LeaveOut,
        }
    }
}

/// Cuts (first version or re-cut) a person may be in under the default `max_budget`.
pub const DEFAULT_CUTS: f64 = 3.0;

/// Frame units per catalog half-range (see `anonymize::known::Frame`): a value's largest
/// share of a sum.
pub const UNITS_PER_HALF_RANGE: f64 = 8.0;

impl Series {
    /// zCDP rho per person of one cut's noisy counts and means, and of the spreads and
    /// correlations (measured once), for `d` measurements: the Gaussian mechanism, rho =
    /// sensitivity^2 / (2 sigma^2), added over the parts. A person holds at most `d`
    /// measurements; their values lie in the catalog range, so within
    /// `UNITS_PER_HALF_RANGE` frame units of the centre; their centred values are clipped
    /// to norm `clip * sqrt(d)`.
    pub fn rho(&self, d: usize) -> (f64, f64) {
        let d = d as f64;
        let counts = (d + d * (d - 1.0) / 2.0) / (2.0 * self.count_noise.powi(2));
        let sums = d * UNITS_PER_HALF_RANGE.powi(2) / (2.0 * self.sum_noise.powi(2));
        let squares = (self.clip.powi(2) * d).powi(2) / (2.0 * self.square_noise.powi(2));
        (counts + sums, squares)
    }

    /// The default cap, once the number of released measurements is known.
    pub(super) fn resolve(&mut self, d: usize) {
        if self.max_budget.is_nan() {
            let (figures, spread) = self.rho(d);
            self.max_budget = (spread + DEFAULT_CUTS * figures).ceil();
        }
    }

    /// Refuses settings the noise cannot honour.
    pub(super) fn check(&self) -> std::result::Result<(), String> {
        for (what, v) in [
            ("count_noise", self.count_noise),
            ("sum_noise", self.sum_noise),
            ("square_noise", self.square_noise),
            ("clip", self.clip),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!(
                    "[series] {what} = {v}: must be a positive number (nothing computed from \
                     the current people is published without noise)"
                ));
            }
        }
        if !(self.max_budget.is_nan() || self.max_budget.is_finite() && self.max_budget > 0.0) {
            return Err(format!(
                "[series] max_budget = {}: must be a positive number",
                self.max_budget
            ));
        }
        Ok(())
    }
}
