//! `[release]`: k, suppression, representation, how class values are placed, noise.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Representation {
    Centroid,
    Range,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// Released measurement columns, in order. Empty = every catalog measurement.
    #[serde(default)]
    pub measurements: Vec<String>,
    pub k: usize,
    pub max_suppressed: f64,
    /// Distinct owners a measurement pattern needs in a category combination for rows to
    /// be released in it (at least k, the default: one class). Larger makes fewer, larger
    /// patterns, each with more classes, and keeps fewer values.
    #[serde(default, rename = "min_pattern_owners")]
    pub(super) min_pattern_owners_setting: Option<usize>,
    /// The size in force, resolved from the setting and k.
    #[serde(skip)]
    pub min_pattern_owners: usize,
    #[serde(default = "default_representation")]
    pub representation: Representation,
    /// How class means are moved before rounding and noise (centroid only): `none` (plain
    /// class means), `restore` (one linear map per stratum toward the eligible data's
    /// covariance, with strength `moments_strength` between 0 = none and 1 = full) or
    /// `quantile` (exact mean and covariance, each measurement's k-smoothed quantiles, and
    /// mean-exact rounding; measured in BENCHMARKS.md "Privacy-utility frontier on ANSUR II").
    /// Default: `quantile` for centroid releases, `none` for ranges.
    #[serde(default, rename = "moments")]
    pub(super) moments_setting: Option<Moments>,
    /// The method in force, resolved from the setting and the representation.
    #[serde(skip)]
    pub moments: Moments,
    /// Strength of `moments = "restore"` (0 = none, 1 = full). Only that method reads it.
    #[serde(default = "default_strength")]
    pub moments_strength: f64,
    /// Rounds of quantile assignment and exact map of `moments = "quantile"` (1 to 50).
    #[serde(default = "default_quantile_rounds")]
    pub quantile_rounds: usize,
    /// The space Mondrian cuts in: `standardized` (z-scores) or `whitened` (z-scores
    /// decorrelated and scaled to unit variance: a class holds people of similar shape but
    /// mixed size). Default: `whitened` with `moments = "quantile"`, else `standardized`.
    #[serde(default, rename = "partition_space")]
    pub(super) partition_space_setting: Option<PartitionSpace>,
    /// The space in force, resolved from the setting and the method.
    #[serde(skip)]
    pub partition_space: PartitionSpace,
    /// Where Mondrian cuts a node: `median`; `balanced` (at a multiple of k people, so a
    /// stratum ends as about n / k classes rather than n / (1.5 k); the median when that
    /// cut is not allowed); or `auto` (median, and balanced for a stratum whose median cuts
    /// end with no more classes than measurements: more classes than measurements is what
    /// lets `quantile` restore the covariance exactly). Default: `auto` with
    /// `moments = "quantile"`, else `median`.
    #[serde(default, rename = "cut")]
    pub(super) cut_setting: Option<Cut>,
    /// The cut in force, resolved from the setting and the method.
    #[serde(skip)]
    pub cut: Cut,
    /// Scale of the discrete Laplace noise added to each class centroid, in units of each
    /// measurement's resolution (mm). 0 = no noise.
    #[serde(default)]
    pub noise_scale: NoiseScale,
}

/// Scale of the discrete Laplace noise, in units of a measurement's resolution: a whole
/// number of tenths from 0 (no noise) to 1000, the scales the exact sampler draws at (as
/// the ratio t/s with s = 10). Checked when it is made, so a scale is never published as
/// one value and drawn at another, and nothing downstream checks it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoiseScale {
    tenths: u64,
}

impl NoiseScale {
    /// No noise.
    pub const NONE: NoiseScale = NoiseScale { tenths: 0 };

    /// The scale `s`, if the sampler can draw at it.
    pub fn new(s: f64) -> std::result::Result<NoiseScale, String> {
        let tenths = (s * 10.0).round();
        if !(0.0..=1000.0).contains(&s) || (s * 10.0 - tenths).abs() > 1e-9 {
            return Err(format!(
                "noise_scale = {s}: the noise is drawn at scales of whole tenths of a step; \
                 use 0 (no noise) or 0.1, 0.2, ... up to 1000"
            ));
        }
        Ok(NoiseScale {
            tenths: tenths as u64,
        })
    }

    /// The scale as a number (what the manifest states).
    pub fn value(self) -> f64 {
        self.tenths as f64 / 10.0
    }

    /// The scale as the sampler's ratio t/s (s = 10); `None` for no noise.
    pub fn ratio(self) -> Option<(u64, u64)> {
        (self.tenths > 0).then_some((10, self.tenths))
    }
}

impl std::fmt::Display for NoiseScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value().fmt(f)
    }
}

impl<'de> Deserialize<'de> for NoiseScale {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        NoiseScale::new(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for NoiseScale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Moments {
    #[default]
    None,
    Restore,
    Quantile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionSpace {
    #[default]
    Standardized,
    Whitened,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cut {
    #[default]
    Median,
    Balanced,
    Auto,
}

/// Rounds of `moments = "quantile"`: five, as measured in BENCHMARKS.md (the privacy-utility frontier).
pub const DEFAULT_QUANTILE_ROUNDS: usize = 5;

fn default_quantile_rounds() -> usize {
    DEFAULT_QUANTILE_ROUNDS
}

/// The default strength of `moments = "restore"` (the default method before `quantile`,
/// kept for comparison): chosen on anonymeter figures that the later frontier showed do not
/// separate methods (BENCHMARKS.md).
pub const DEFAULT_STRENGTH: f64 = 0.7;

fn default_strength() -> f64 {
    DEFAULT_STRENGTH
}

impl Release {
    /// How class values are placed, in a few words (changelog, datasheet).
    pub fn moments_summary(&self) -> String {
        match self.moments {
            Moments::None => "none (class means)".into(),
            Moments::Restore => format!("restore (strength {})", self.moments_strength),
            Moments::Quantile => format!(
                "quantile ({} rounds, exact mean and covariance, mean-exact rounding)",
                self.quantile_rounds
            ),
        }
    }
}

impl Moments {
    /// The setting's spelling in a pipeline file.
    pub fn name(self) -> &'static str {
        match self {
            Moments::None => "none",
            Moments::Restore => "restore",
            Moments::Quantile => "quantile",
        }
    }
}

fn default_representation() -> Representation {
    Representation::Centroid
}
