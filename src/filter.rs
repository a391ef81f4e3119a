//! Filters: consent, retention, plausibility, dedupe, in that order. Every drop is counted
//! by stage and reason; the dropped records themselves only ever go to the private folder.

use crate::model::{Dropped, Export, Person, Problem, Reason, RecordRef, Tally};
use crate::pipeline::Pipeline;
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
    pub files: Vec<crate::model::SourceFile>,
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
        crate::model::describe(&self.files, at)
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
    if let (Some(i), Some(max)) = (c.retention, pl.filters.retention.max_age_days) {
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
pub struct OwnerRules<'a> {
    pl: &'a Pipeline,
    checks: Checks,
}

impl<'a> OwnerRules<'a> {
    pub fn new(pl: &'a Pipeline, as_of: i64) -> Self {
        OwnerRules {
            pl,
            checks: Checks::new(pl, as_of),
        }
    }

    /// Whether an owner whose user record holds `filters` (pipeline `filter_fields`
    /// order) is dropped by these rules.
    pub fn drop(&self, filters: &[Option<Value>]) -> bool {
        owner_verdict(self.pl, &self.checks, |i| {
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
    let c = &pl.filters.consent;
    let Some(v) = v else { return false };
    if let Some(min) = c.at_least {
        return v.as_f64().is_some_and(|x| x >= min);
    }
    if let Some(want) = &c.equals {
        return equals(want, v);
    }
    false
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

/// One body counts once. Measured twice by the same owner (within the tolerance): the
/// first record is kept. A set equal to a public reference set (a curated set cloned into
/// an account) is not a body of that owner. A set exactly equal to another owner's (a
/// public set cloned) counts for the owner whose record comes first.
fn dedupe(
    pl: &Pipeline,
    mut people: Vec<Person>,
    reference: &[Box<[f32]>],
    drop: &mut impl FnMut(&Person, Option<String>, Reason),
) -> Vec<Person> {
    use rayon::prelude::*;
    let tol = pl.filters.dedupe.tolerance;
    let same = |q: &Person, p: &Person| {
        q.categories == p.categories
            && q.values
                .iter()
                .zip(&p.values)
                .all(|(a, b)| (a.is_nan() && b.is_nan()) || (*a as f64 - *b as f64).abs() <= tol)
    };
    // People grouped by owner, in record order within a group.
    let mut order: Vec<u32> = (0..people.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (people[i as usize].owner, i));
    let mut verdict: Vec<Option<Reason>> = vec![None; people.len()];
    let mut seen: Vec<usize> = Vec::new();
    for group in order.chunk_by(|&a, &b| people[a as usize].owner == people[b as usize].owner) {
        if group.len() < 2 {
            continue;
        }
        seen.clear();
        for &i in group {
            let p = &people[i as usize];
            if seen.iter().any(|&j| same(&people[j], p)) {
                verdict[i as usize] = Some(Reason::Duplicate);
            } else {
                seen.push(i as usize);
            }
        }
    }
    // Exact copies: people (and reference sets) with the same values, found by sorting
    // on a hash of the values and comparing within runs of one hash.
    let bits = |v: &[f32]| -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        for x in v {
            (if x.is_nan() { u32::MAX } else { x.to_bits() }).hash(&mut h);
        }
        h.finish()
    };
    let equal = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits())
    };
    let references: rustc_hash::FxHashMap<u64, Vec<usize>> =
        reference
            .iter()
            .enumerate()
            .fold(Default::default(), |mut m, (i, r)| {
                m.entry(bits(r)).or_default().push(i);
                m
            });
    let mut hashed: Vec<(u64, u32)> = people
        .par_iter()
        .enumerate()
        .filter(|(i, _)| verdict[*i].is_none())
        .map(|(i, p)| (bits(&p.values), i as u32))
        .collect();
    hashed.par_sort_unstable();
    for run in hashed.chunk_by(|a, b| a.0 == b.0) {
        if let Some(refs) = references.get(&run[0].0) {
            for &(_, i) in run {
                let p = &people[i as usize];
                if refs.iter().any(|&r| equal(&reference[r], &p.values)) {
                    verdict[i as usize] = Some(Reason::CuratedCopy);
                }
            }
        }
        if run.len() < 2 {
            continue;
        }
        // In record order: the first of each distinct body keeps it.
        seen.clear();
        for &(_, i) in run {
            let p = &people[i as usize];
            if verdict[i as usize].is_some() {
                continue;
            }
            let first = seen.iter().copied().find(|&j| {
                let q = &people[j];
                q.categories == p.categories && equal(&q.values, &p.values)
            });
            match first {
                Some(j) if people[j].owner != p.owner => {
                    verdict[i as usize] = Some(Reason::OtherOwnersCopy)
                }
                Some(_) => {}
                None => seen.push(i as usize),
            }
        }
    }
    let mut verdict = verdict.into_iter();
    people.retain(|p| match verdict.next().flatten() {
        Some(reason) => {
            drop(p, None, reason);
            false
        }
        None => true,
    });
    people
}

/// Days since 1970-01-01 of an ISO 8601 date or date-time ("2025-03-01T10:00:00Z"), or of
/// a Unix time in seconds or milliseconds.
pub fn days_since_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_date(s),
        Value::Number(n) => {
            let x = n.as_f64()?;
            let secs = if x.abs() > 1e11 { x / 1000.0 } else { x };
            Some((secs / 86400.0).floor() as i64)
        }
        _ => None,
    }
}

/// `YYYY-MM-DD` at the start of the text.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days_from_civil.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Today, in days since 1970-01-01 (UTC).
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 86400) as i64
}

/// The civil date of a day number, as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_reject_nonsense() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2026-11-29T06:39:43.000Z"),
            Some(days_from_civil(2026, 11, 29))
        );
        for d in [0, 1, 365, 10_000, 20_000, 20_500] {
            assert_eq!(parse_date(&format_date(d)), Some(d));
        }
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2025-01-01x"), None);
        // Unix time in milliseconds or seconds: 2023-11-14.
        let day = Some(days_from_civil(2023, 11, 14));
        assert_eq!(
            days_since_epoch(&serde_json::json!(1_700_000_000_000u64)),
            day
        );
        assert_eq!(days_since_epoch(&serde_json::json!(1_700_000_000u64)), day);
    }
}
