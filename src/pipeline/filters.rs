//! `[filters]`: consent, accounts, retention, dedupe, plausibility, and the rules resolved
//! from them when the pipeline loads.

use super::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
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
    /// Largest share of read records that may be quarantined before a release stops.
    pub max_rejected: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub consent: Consent,
    /// The consent rule in force, resolved from `consent` when the pipeline loads.
    #[serde(skip)]
    pub consent_rule: ConsentRule,
    /// The retention rule in force, resolved from `retention` when the pipeline loads.
    #[serde(skip)]
    pub retention_rule: RetentionRule,
    /// Account rules (optional): status, role, test accounts.
    pub account: Option<Account>,
    pub retention: Retention,
    pub dedupe: Dedupe,
    pub plausibility: Plausibility,
}
