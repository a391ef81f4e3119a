//! Filters: consent, retention, plausibility, dedupe, in that order. Every drop is counted
//! by stage and reason; the dropped records themselves only ever go to the private folder.

mod dedupe;

use crate::date::days_since_epoch;
use crate::pipeline::{ConsentRule, Pipeline, RetentionRule};
use crate::read::{Export, Person};
use crate::record::{Dropped, Problem, Reason, RecordRef, Tally};
use dedupe::dedupe;
use serde_json::Value;

/// People who passed every filter, with the counts of those who did not.
#[derive(Debug)]
pub struct Eligible {
    pub people: Vec<Person>,
    pub tally: Tally,
    pub dropped: Vec<Dropped>,
    /// Person records read (sets, people, rows), including malformed ones.
    pub records_read: u64,
    pub users_read: u64,
    /// Source files, to say where a dropped record was.
    pub files: Vec<crate::record::SourceFile>,
    /// Owner keys by interned id: count owners and key the noise; never released.
    pub owner_keys: Vec<String>,
    /// Eligible owners whose consent value is the pipeline's `count_value`, if it has one.
    pub consent_value_owners: Option<u64>,
}

impl Eligible {
    /// Share of read records quarantined as malformed or implausible.
    pub fn rejected_share(&self) -> f64 {
        let rejected: u64 = self
            .dropped
            .iter()
            .filter(|d| d.reason.is_rejection())
            .count() as u64;
        rejected as f64 / self.records_read.max(1) as f64
    }

    /// Where a record was: file and line or index. No values.
    pub fn describe(&self, at: RecordRef) -> String {
        crate::record::describe(&self.files, at)
    }

    /// A stable key for a record, independent of how its file's path was spelled: file
    /// name and position. Used by the private membership file.
    pub fn record_key(&self, at: RecordRef) -> String {
        let name = self
            .files
            .get(at.file as usize)
            .and_then(|f| f.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match at.sub {
            Some(s) => format!("{name}#{}#{s}", at.n),
            None => format!("{name}#{}", at.n),
        }
    }

    pub fn owners(&self) -> usize {
        let mut o: Vec<u32> = self.people.iter().map(|p| p.owner).collect();
        o.sort_unstable();
        o.dedup();
        o.len()
    }
}

/// Users' filter values by owner.
type UserFilters = rustc_hash::FxHashMap<u32, Vec<Option<Value>>>;

/// Filter field `i` of a person: its own value, else its owner's user record's.
fn filter_value<'a>(p: &'a Person, users: &'a UserFilters, i: usize) -> Option<&'a Value> {
    p.filters.get(i).and_then(Option::as_ref).or_else(|| {
        users
            .get(&p.owner)
            .and_then(|f| f.get(i))
            .and_then(Option::as_ref)
    })
}

impl Checks {
    fn new(pl: &Pipeline, as_of: i64) -> Checks {
        let filter_fields = pl.filter_fields();
        let index = |f: &str| filter_fields.iter().position(|x| x == f);
        let all = |v: &[String]| {
            v.iter()
                .map(|f| index(f).expect("a filter field"))
                .collect()
        };
        let account = pl.filters.account.as_ref();
        Checks {
            consent: pl.filters.consent.field.as_deref().and_then(index),
            retention: pl.filters.retention.field.as_deref().and_then(index),
            status: account
                .and_then(|a| a.status_field.as_deref())
                .and_then(index),
            role: account
                .and_then(|a| a.role_field.as_deref())
                .and_then(index),
            email: account
                .and_then(|a| a.email_field.as_deref())
                .and_then(index),
            also_true: all(&pl.filters.consent.also_true),
            any_true: all(&pl.filters.consent.any_true),
            as_of,
        }
    }
}

/// Where the consent, retention and account fields are among the filter fields.
struct Checks {
    consent: Option<usize>,
    retention: Option<usize>,
    status: Option<usize>,
    role: Option<usize>,
    email: Option<usize>,
    /// Consent fields that must also be true, and of which one must be.
    also_true: Vec<usize>,
    any_true: Vec<usize>,
    /// Days since 1970-01-01 of the reference date for retention.
    as_of: i64,
}

/// Why a person is dropped by consent, retention or plausibility, if so. Clears the
/// values that do not apply to the person.
fn verdict(pl: &Pipeline, c: &Checks, users: &UserFilters, p: &mut Person) -> Option<Reason> {
    if !p.has_user {
        return Some(Reason::NoUserRecord);
    }
    owner_verdict(pl, c, |i| filter_value(p, users, i))
        .or_else(|| implausible(pl, p).map(|(_, reason)| reason))
}

/// The rules about the owner (consent, account, retention), on the filter values that
/// `value(i)` gives by filter-field index.
fn owner_verdict<'v>(
    pl: &Pipeline,
    c: &Checks,
    value: impl Fn(usize) -> Option<&'v Value>,
) -> Option<Reason> {
    if let Some(i) = c.consent {
        if !consents(pl, value(i)) {
            return Some(Reason::NoConsent);
        }
    }
    let yes = |i: &usize| value(*i) == Some(&Value::Bool(true));
    if !c.also_true.iter().all(yes) || !(c.any_true.is_empty() || c.any_true.iter().any(yes)) {
        return Some(Reason::NoConsent);
    }
    if let Some(reason) = account_verdict(pl, c, &value) {
        return Some(reason);
    }
    let max_age = match &pl.filters.retention_rule {
        RetentionRule::MaxAge { days, .. } => Some(*days),
        RetentionRule::Waived(_) => None,
    };
    if let (Some(i), Some(max)) = (c.retention, max_age) {
        match value(i).and_then(days_since_epoch) {
            None => return Some(Reason::NoLastSeen),
            Some(d) if c.as_of - d > max as i64 => return Some(Reason::StaleOwner),
            _ => {}
        }
    }
    None
}

/// The owner rules (consent, account, retention) at a date, for a reader that need not
/// decrypt the records of owners they drop.
pub struct OwnerRules {
    pl: std::sync::Arc<Pipeline>,
    checks: Checks,
}

impl OwnerRules {
    pub fn new(pl: std::sync::Arc<Pipeline>, as_of: i64) -> Self {
        let checks = Checks::new(&pl, as_of);
        OwnerRules { pl, checks }
    }

    /// Whether an owner whose user record holds `filters` (pipeline `filter_fields`
    /// order) is dropped by these rules.
    pub fn drop(&self, filters: &[Option<Value>]) -> bool {
        owner_verdict(&self.pl, &self.checks, |i| {
            filters.get(i).and_then(Option::as_ref)
        })
        .is_some()
    }
}

/// The platform's account rules: a live account, no refused role, no test account.
fn account_verdict<'v>(
    pl: &Pipeline,
    c: &Checks,
    value: &impl Fn(usize) -> Option<&'v Value>,
) -> Option<Reason> {
    let a = pl.filters.account.as_ref()?;
    if let (Some(i), Some(active)) = (c.status, &a.active) {
        if !value(i).is_some_and(|v| equals(active, v)) {
            return Some(Reason::NotActive);
        }
    }
    if let Some(i) = c.role {
        let role = value(i).and_then(Value::as_str);
        if role.is_some_and(|r| a.refused_roles.iter().any(|x| x == r)) {
            return Some(Reason::RefusedRole);
        }
    }
    if let Some(i) = c.email {
        let domain = value(i)
            .and_then(Value::as_str)
            .and_then(|e| e.trim().rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        if let Some(d) = domain {
            let test = a.test_domains.iter().any(|t| {
                let t = t.to_ascii_lowercase();
                d == t || d.ends_with(&format!(".{t}"))
            });
            if test {
                return Some(Reason::TestAccount);
            }
        }
    }
    None
}

/// The field a [`verdict`] names (worked out for dropped people only: a verdict per
/// person is two bytes, a field name would be 24 more for ten million people).
fn verdict_field(pl: &Pipeline, reason: Reason, p: &mut Person) -> Option<String> {
    match reason {
        Reason::NoUserRecord => None,
        Reason::NoConsent => pl.filters.consent.field.clone(),
        Reason::NoLastSeen | Reason::StaleOwner => pl.filters.retention.field.clone(),
        Reason::NotActive | Reason::RefusedRole | Reason::TestAccount => {
            let a = pl.filters.account.as_ref();
            a.and_then(|a| match reason {
                Reason::NotActive => a.status_field.clone(),
                Reason::RefusedRole => a.role_field.clone(),
                _ => a.email_field.clone(),
            })
        }
        // The plausibility check again: it gives the same answer the second time.
        _ => implausible(pl, p).map(|(field, _)| field),
    }
}

/// `as_of`: days since 1970-01-01 of the reference date for retention.
pub fn apply(pl: &Pipeline, export: Export, as_of: i64) -> Eligible {
    use rayon::prelude::*;
    let mut dropped = export.dropped;
    let mut drop = |p: &Person, field: Option<String>, reason: Reason| {
        dropped.push(Dropped {
            at: p.at,
            field,
            reason,
        })
    };
    let checks = Checks::new(pl, as_of);
    let users = export.user_filters;
    let mut people = export.people;
    // Each person on their own, in parallel; then kept or dropped in record order.
    let verdicts: Vec<Option<Reason>> = people
        .par_iter_mut()
        .map(|p| verdict(pl, &checks, &users, p))
        .collect();
    // Owners whose consent is the value counted on its own (before the values go).
    let noted: Option<rustc_hash::FxHashSet<u32>> =
        match (pl.filters.consent.count_value, checks.consent) {
            (Some(want), Some(i)) => Some(
                people
                    .iter()
                    .filter(|p| filter_value(p, &users, i).and_then(Value::as_i64) == Some(want))
                    .map(|p| p.owner)
                    .collect(),
            ),
            _ => None,
        };
    // The users' values have done their job: freed beside the work that follows.
    rayon::spawn(move || std::mem::drop(users));
    // Kept in place (no second vector of people), in record order.
    let mut verdicts = verdicts.into_iter();
    people.retain_mut(|p| {
        if let Some(reason) = verdicts.next().flatten() {
            let field = verdict_field(pl, reason, p);
            drop(p, field, reason);
            return false;
        }
        // Filter fields have done their job: later stages never see them.
        p.filters = Vec::new();
        p.problem = None;
        true
    });

    let kept = dedupe(pl, people, &export.reference_sets, &mut drop);
    let consent_value_owners = noted.map(|set| {
        let mut owners: Vec<u32> = kept
            .iter()
            .map(|p| p.owner)
            .filter(|o| set.contains(o))
            .collect();
        owners.sort_unstable();
        owners.dedup();
        owners.len() as u64
    });
    let mut tally = Tally::default();
    for d in &dropped {
        tally.add(d.reason);
    }
    Eligible {
        people: kept,
        tally,
        dropped,
        records_read: export.records_read,
        users_read: export.users_read,
        files: export.files,
        owner_keys: export.owner_keys,
        consent_value_owners,
    }
}

fn consents(pl: &Pipeline, v: Option<&Value>) -> bool {
    let Some(v) = v else { return false };
    match &pl.filters.consent_rule {
        ConsentRule::AtLeast { min, .. } => v.as_f64().is_some_and(|x| x >= *min),
        ConsentRule::Equals { value, .. } => equals(value, v),
        ConsentRule::Waived(_) => false,
    }
}

/// Whether a read value is the pipeline's value (same type: `1` is not `"1"`).
fn equals(want: &toml::Value, v: &Value) -> bool {
    match (want, v) {
        (toml::Value::Boolean(a), Value::Bool(b)) => a == b,
        (toml::Value::String(a), Value::String(b)) => a == b,
        (toml::Value::Integer(a), Value::Number(b)) => b.as_i64() == Some(*a),
        _ => false,
    }
}

/// Checks categories and every released measurement that applies to this person; values
/// that do not apply (breasts-only on a person without) are cleared, never released.
/// Category values become their declared released spelling; a value the pipeline does not
/// declare is never published (the same answer on a second call: released values are
/// declared, and no mapped spelling is one).
fn implausible(pl: &Pipeline, p: &mut Person) -> Option<(String, Reason)> {
    for (c, v) in pl.categories.iter().zip(&mut p.categories) {
        let Some(value) = v else {
            return Some((c.name.clone(), Reason::MissingCategory));
        };
        match c
            .released(value)
            .map(|r| (r != value).then(|| r.to_string()))
        {
            None => return Some((c.name.clone(), Reason::UndeclaredCategory)),
            Some(Some(mapped)) => *value = mapped,
            Some(None) => {}
        }
    }
    if let Some(Problem { field, reason }) = p.problem.as_deref() {
        return Some((field.clone(), *reason));
    }
    for (pos, &m) in pl.measurements.iter().enumerate() {
        let def = &pl.catalog.measurements[m];
        if !pl.applies_to(m, &p.categories) {
            p.values[pos] = f32::NAN;
            continue;
        }
        let v = p.values[pos] as f64;
        let reason = if v.is_nan() {
            Reason::Missing
        } else if v < 0.0 {
            Reason::Negative
        } else if v < def.min || v > def.max {
            Reason::OutOfRange
        } else {
            continue;
        };
        return Some((def.name.clone(), reason));
    }
    None
}
