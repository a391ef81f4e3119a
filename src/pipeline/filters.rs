//! `[filters]`: consent, accounts, retention, dedupe, plausibility, and the rules resolved
//! from them when the pipeline loads.

use super::*;

/// `[filters.consent]` as written; resolved into [`Consent`] when the pipeline loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentTable {
    /// `entity.path`, e.g. `user.consent` or `user.consent.openData`.
    pub field: Option<String>,
    /// Keep owners whose value is a number >= this (FreeSewing v3).
    pub at_least: Option<f64>,
    /// Keep owners whose value equals this (FreeSewing v2: `true`).
    pub equals: Option<toml::Value>,
    /// No consent field exists; the reason is stated in the manifest.
    pub waived: Option<String>,
    /// A kept value counted on its own in the manifest (FreeSewing: 3, the pre-launch
    /// "open data" level that later meant the same as 2).
    pub count_value: Option<i64>,
    /// Fields that must also be `true` (FreeSewing v2: `user.consent.profile`).
    #[serde(default)]
    pub also_true: Vec<String>,
    /// Fields of which at least one must be `true` (FreeSewing v2:
    /// `user.consent.measurements`, or `user.consent.model` before its 2019 rename).
    #[serde(default)]
    pub any_true: Vec<String>,
}

/// The consent rules in force, as validated.
#[derive(Debug, Clone, Default)]
pub struct Consent {
    /// Who counts as having consented (besides `also_true` / `any_true`).
    pub rule: ConsentRule,
    /// A kept value counted on its own in the manifest (FreeSewing: 3).
    pub count_value: Option<i64>,
    /// Fields that must also be `true`.
    pub also_true: Vec<String>,
    /// Fields of which at least one must be `true` (when any are given).
    pub any_true: Vec<String>,
}

/// Who counts as having consented (besides `also_true` / `any_true`), as validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsentRule {
    /// No consent field exists; the reason is published.
    Waived(String),
    /// Owners whose `field` is a number of at least `min` (FreeSewing v3).
    AtLeast { field: String, min: f64 },
    /// Owners whose `field` equals `value` (FreeSewing v2: `true`).
    Equals { field: String, value: toml::Value },
}

impl Default for ConsentRule {
    fn default() -> Self {
        ConsentRule::Waived(String::new())
    }
}

impl ConsentRule {
    /// The field the rule reads, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConsentRule::Waived(_) => None,
            ConsentRule::AtLeast { field, .. } | ConsentRule::Equals { field, .. } => Some(field),
        }
    }
}

/// Which owners are recent enough, as validated.
#[derive(Debug, Clone, PartialEq)]
pub enum RetentionRule {
    /// No activity field exists; the reason is published.
    Waived(String),
    /// Owners whose `field` is at most `days` before the reference date.
    MaxAge { field: String, days: u32 },
}

impl Default for RetentionRule {
    fn default() -> Self {
        RetentionRule::Waived(String::new())
    }
}

impl RetentionRule {
    /// The field the rule reads, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            RetentionRule::Waived(_) => None,
            RetentionRule::MaxAge { field, .. } => Some(field),
        }
    }
}

/// Account rules of a platform: only live accounts, no blocked roles, no test accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// `entity.path` of the account status; owners whose status is not `active` are dropped.
    pub status_field: Option<String>,
    pub active: Option<toml::Value>,
    /// `entity.path` of the account role; owners whose role is listed are dropped.
    pub role_field: Option<String>,
    #[serde(default)]
    pub refused_roles: Vec<String>,
    /// `entity.path` of the account's e-mail (decrypted in memory, never kept past the
    /// filter); owners whose e-mail domain is listed are test accounts and are dropped.
    pub email_field: Option<String>,
    #[serde(default)]
    pub test_domains: Vec<String>,
}

/// `[filters.retention]` as written; resolved into a [`RetentionRule`] when the pipeline
/// loads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetentionTable {
    pub field: Option<String>,
    pub max_age_days: Option<u32>,
    pub waived: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dedupe {
    /// Two people of one owner whose every measurement differs by at most this (in the
    /// catalog unit) are the same body measured twice. 0 = identical only.
    #[serde(default)]
    pub tolerance: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plausibility {
    /// Largest share of read records that may be quarantined before a release stops. An
    /// absent measurement is never counted: only broken values are.
    pub max_rejected: f64,
    /// A record holding fewer of the released measurements (those that apply to it) is
    /// dropped as `too-few-measurements`. Default 1: a set with no value is dropped.
    #[serde(default = "default_min_measurements")]
    pub min_measurements: usize,
    /// Measurements every record must hold, or `"all"` (every released measurement that
    /// applies to it): a record lacking one is dropped as `missing-required`. Default: none,
    /// an absent value is released as null where the release's patterns allow.
    #[serde(default)]
    pub(super) required: Option<RequiredSetting>,
    /// The rule in force, resolved when the pipeline loads.
    #[serde(skip)]
    pub required_rule: Required,
}

fn default_min_measurements() -> usize {
    1
}

/// `required` as a pipeline spells it: `"all"` or a list of measurement names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum RequiredSetting {
    Word(String),
    List(Vec<String>),
}

/// Which measurements a record must hold, as validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Required {
    /// None: a record may hold any of them.
    #[default]
    None,
    /// Every released measurement that applies to the record.
    All,
    /// These release positions (where they apply).
    Some(Vec<usize>),
}

impl Required {
    /// Whether the measurement at release position `pos` is required (where it applies).
    pub fn requires(&self, pos: usize) -> bool {
        match self {
            Required::None => false,
            Required::All => true,
            Required::Some(v) => v.contains(&pos),
        }
    }
}

/// `[filters]` as written: the loader resolves it into [`Filters`]; nothing else reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FiltersTable {
    pub consent: ConsentTable,
    pub account: Option<Account>,
    pub retention: RetentionTable,
    pub dedupe: Dedupe,
    pub plausibility: Plausibility,
}

/// The filters in force, validated when the pipeline loads.
#[derive(Debug, Clone)]
pub struct Filters {
    pub consent: Consent,
    /// Which owners are recent enough.
    pub retention: RetentionRule,
    /// Account rules (optional): status, role, test accounts.
    pub account: Option<Account>,
    pub dedupe: Dedupe,
    pub plausibility: Plausibility,
}
