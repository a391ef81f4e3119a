//! Filters: consent, retention, plausibility, dedupe, in that order. Every drop is counted
//! by stage and reason; the dropped records themselves only ever go to the private folder.

mod dedupe;

use crate::date::days_since_epoch;
use crate::pipeline::{ConsentRule, Pipeline, RetentionRule};
use crate::read::{Export, OwnerVerdict, People, Users, NO_VALUE};
use crate::record::{Dropped, Problem, Reason, RecordRef, Tally};
use dedupe::dedupe;
use rustc_hash::FxHashMap;
use serde_json::Value;

/// People who passed every filter, with the counts of those who did not.
#[derive(Debug)]
pub struct Eligible {
    pub people: People,
    pub tally: Tally,
    /// Emptied by `prepare::prepare` once written to the private folder and counted.
    pub dropped: Vec<Dropped>,
    /// Person records read (sets, people, rows), including malformed ones.
    pub records_read: u64,
    pub users_read: u64,
    /// Source files, to say where a dropped record was.
    pub files: Vec<crate::record::SourceFile>,
    /// Owner keys by interned id: count owners and key the noise; never released.
    pub owner_keys: crate::read::OwnerKeys,
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

    /// The people `keep` keeps, with the owner keys and counts (no dropped records): what a
    /// series' new cohort is made from.
    pub fn subset(&self, keep: &[bool]) -> Eligible {
        let mut people = self.people.clone();
        let mut it = keep.iter();
        people.retain(|_| *it.next().expect("one flag per person"));
        Eligible {
            people,
            tally: self.tally.clone(),
            dropped: Vec::new(),
            records_read: self.records_read,
            users_read: self.users_read,
            files: self.files.clone(),
            owner_keys: self.owner_keys.clone(),
            consent_value_owners: self.consent_value_owners,
        }
    }

    pub fn owners(&self) -> usize {
        let mut o: Vec<u32> = self.people.owners().collect();
        o.sort_unstable();
        o.dedup();
        o.len()
    }
}

/// What the owner rules say of a person's owner: from the reader's verdict on the user
/// record where the person holds no filter field of its own, else from the values (the
/// person's own value for a field first, then its owner's user record's).
fn owner_side(
    pl: &Pipeline,
    c: &Checks,
    users: &Users,
    own: Option<&Vec<Option<Value>>>,
    owner: u32,
) -> OwnerVerdict {
    if let (None, Some(Some(v))) = (own, users.verdicts.get(owner as usize)) {
        return *v;
    }
    let user = users.values.get(&owner);
    fn field(f: Option<&Vec<Option<Value>>>, i: usize) -> Option<&Value> {
        f?.get(i)?.as_ref()
    }
    owner_facts(pl, c, |i| field(own, i).or_else(|| field(user, i)))
}

/// The owner rules' verdict on the filter values that `value(i)` gives by filter-field
/// index, and whether the consent value is the one the pipeline counts on its own.
fn owner_facts<'v>(
    pl: &Pipeline,
    c: &Checks,
    value: impl Fn(usize) -> Option<&'v Value>,
) -> OwnerVerdict {
    let counted = match (pl.filters.consent.count_value, c.consent) {
        (Some(want), Some(i)) => value(i).and_then(Value::as_i64) == Some(want),
        _ => false,
    };
    OwnerVerdict {
        dropped: owner_verdict(pl, c, value),
        counted,
    }
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
            consent: pl.filters.consent.rule.field().and_then(index),
            retention: pl.filters.retention.field().and_then(index),
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

/// Everything the filter knows besides the people: the owners' user records, the
/// people's own filter fields and read problems, the released category codes.
struct Context<'a> {
    pl: &'a Pipeline,
    checks: Checks,
    users: Users,
    single_entity: bool,
    own: FxHashMap<u32, Vec<Option<Value>>>,
    problems: FxHashMap<u32, Problem>,
    released: Released,
}

/// Per category, the released code of each code (None: a value the pipeline does not
/// declare); every declared value has a code, and a released value's code is its own.
struct Released {
    codes: Vec<Vec<Option<u32>>>,
    /// The code of "true" in the breasts category, if it has one.
    breasts_true: Option<u32>,
}

impl Released {
    fn new(pl: &Pipeline, people: &mut People) -> Released {
        for (ci, c) in pl.categories.iter().enumerate() {
            for v in &c.values {
                people.intern(ci, v);
            }
        }
        let people = &*people;
        let codes = pl
            .categories
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                people
                    .dict(ci)
                    .iter()
                    .map(|v| c.released(v).and_then(|r| people.code_of(ci, r)))
                    .collect()
            })
            .collect();
        let breasts_true = pl.breasts_category.and_then(|c| people.code_of(c, "true"));
        Released {
            codes,
            breasts_true,
        }
    }
}

/// Why person `i` is dropped by consent, retention or plausibility, if so, and whether
/// its owner's consent is the counted value. Clears the values that do not apply to the
/// person and gives its categories their released codes.
fn verdict(
    x: &Context,
    i: u32,
    owner: u32,
    codes: &mut [u32],
    values: &mut [f32],
) -> (Option<Reason>, bool) {
    if !(x.single_entity || x.users.has(owner)) {
        return (Some(Reason::NoUserRecord), false);
    }
    let o = owner_side(x.pl, &x.checks, &x.users, x.own.get(&i), owner);
    let reason = o
        .dropped
        .or_else(|| implausible(x, i, codes, values).map(|(_, reason)| reason));
    (reason, o.counted)
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
    let max_age = match &pl.filters.retention {
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
    /// order) is dropped by these rules, and whether its consent is the counted value.
    pub fn verdict(&self, filters: &[Option<Value>]) -> OwnerVerdict {
        owner_facts(&self.pl, &self.checks, |i| {
            filters.get(i).and_then(Option::as_ref)
        })
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
fn verdict_field(x: &Context, reason: Reason, i: u32, people: &People) -> Option<String> {
    let pl = x.pl;
    match reason {
        Reason::NoUserRecord => None,
        Reason::NoConsent => pl.filters.consent.rule.field().map(str::to_string),
        Reason::NoLastSeen | Reason::StaleOwner => pl.filters.retention.field().map(str::to_string),
        Reason::NotActive | Reason::RefusedRole | Reason::TestAccount => {
            let a = pl.filters.account.as_ref();
            a.and_then(|a| match reason {
                Reason::NotActive => a.status_field.clone(),
                Reason::RefusedRole => a.role_field.clone(),
                _ => a.email_field.clone(),
            })
        }
        // The plausibility check again: it gives the same answer the second time.
        _ => {
            let (mut codes, mut values) = (
                people.codes(i as usize).to_vec(),
                people.values(i as usize).to_vec(),
            );
            implausible(x, i, &mut codes, &mut values).map(|(field, _)| field)
        }
    }
}

/// `as_of`: days since 1970-01-01 of the reference date for retention.
pub fn apply(pl: &Pipeline, export: Export, as_of: i64) -> Eligible {
    use rayon::prelude::*;
    let Export {
        files,
        mut people,
        problems,
        person_filters,
        users,
        owner_keys,
        reference_sets,
        mut dropped,
        users_read,
        records_read,
    } = export;
    let released = Released::new(pl, &mut people);
    let x = Context {
        pl,
        checks: Checks::new(pl, as_of),
        users,
        // A format of one entity (a table) has no user records to need.
        single_entity: pl.format.entities().len() == 1,
        own: person_filters.into_iter().collect(),
        problems: problems.into_iter().collect(),
        released,
    };
    // Each person on their own, in parallel; then kept or dropped in record order.
    let verdicts: Vec<(Option<Reason>, bool)> = people
        .par_rows_mut()
        .map(|r| verdict(&x, r.index as u32, r.owner, r.codes, r.values))
        .collect();
    // Owners whose consent is the value counted on its own.
    let noted: Option<rustc_hash::FxHashSet<u32>> = pl.filters.consent.count_value.map(|_| {
        (0..people.len())
            .filter(|&i| verdicts[i].1)
            .map(|i| people.owner(i))
            .collect()
    });
    for (i, v) in verdicts.iter().enumerate() {
        if let Some(reason) = v.0 {
            dropped.push(Dropped {
                at: people.at(i),
                field: verdict_field(&x, reason, i as u32, &people),
                reason,
            });
        }
    }
    // The users' records have done their job: freed beside the work that follows.
    let Context {
        users,
        own,
        problems,
        ..
    } = x;
    rayon::spawn(move || std::mem::drop((users, own, problems)));
    // Kept in place, in record order.
    people.retain(|i| verdicts[i].0.is_none());
    drop(verdicts);

    let mut drop = |at: RecordRef, reason: Reason| {
        dropped.push(Dropped {
            at,
            field: None,
            reason,
        })
    };
    dedupe(pl, &mut people, &reference_sets, &mut drop);
    let consent_value_owners = noted.map(|set| {
        let mut owners: Vec<u32> = people.owners().filter(|o| set.contains(o)).collect();
        owners.sort_unstable();
        owners.dedup();
        owners.len() as u64
    });
    let mut tally = Tally::default();
    for d in &dropped {
        tally.add(d.reason);
    }
    Eligible {
        people,
        tally,
        dropped,
        records_read,
        users_read,
        files,
        owner_keys,
        consent_value_owners,
    }
}

fn consents(pl: &Pipeline, v: Option<&Value>) -> bool {
    let Some(v) = v else { return false };
    match &pl.filters.consent.rule {
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
/// Category codes become their declared released value's; a value the pipeline does not
/// declare is never published (the same answer on a second call: a released value's code
/// is its own). An absent measurement is not a fault: it is dropped only where the
/// pipeline requires it, or when the record holds fewer than `min_measurements`.
fn implausible(
    x: &Context,
    i: u32,
    codes: &mut [u32],
    values: &mut [f32],
) -> Option<(String, Reason)> {
    let pl = x.pl;
    for ((c, code), released) in pl
        .categories
        .iter()
        .zip(codes.iter_mut())
        .zip(&x.released.codes)
    {
        if *code == NO_VALUE {
            return Some((c.name.clone(), Reason::MissingCategory));
        }
        match released[*code as usize] {
            None => return Some((c.name.clone(), Reason::UndeclaredCategory)),
            Some(r) => *code = r,
        }
    }
    if let Some(Problem { field, reason }) = x.problems.get(&i) {
        return Some((field.clone(), *reason));
    }
    let has_breasts = pl
        .breasts_category
        .is_none_or(|c| Some(codes[c]) == x.released.breasts_true);
    let plausibility = &pl.filters.plausibility;
    let mut held = 0;
    for (pos, &m) in pl.measurements.iter().enumerate() {
        let def = &pl.catalog.measurements[m];
        if def.breasts_only && !has_breasts {
            values[pos] = f32::NAN;
            continue;
        }
        let v = values[pos] as f64;
        let reason = if v.is_nan() {
            if !plausibility.required_rule.requires(pos) {
                continue;
            }
            Reason::Missing
        } else if v < 0.0 {
            Reason::Negative
        } else if v < def.min || v > def.max {
            Reason::OutOfRange
        } else {
            held += 1;
            continue;
        };
        return Some((def.name.clone(), reason));
    }
    (held < plausibility.min_measurements).then(|| (String::new(), Reason::TooFew))
}
