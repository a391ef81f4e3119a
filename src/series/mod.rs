//! A release series that cannot be differenced (m-invariance with noisy figures).
//!
//! An attacker holds every version. So, between a version and the next:
//! - a patch version (withdrawals, corrections) publishes the previous version's rows
//!   unchanged: everyone who stays keeps their class and its row, and a class whose people
//!   left keeps their rows (m-invariance's counterfeits: rows computed while they
//!   consented, which describe a class, not them). Nothing new is computed from anyone's
//!   values; new people (and people whose values changed: a withdrawal and a join) wait;
//! - a minor version adds classes made among the new and waiting people only, placed by
//!   noisy figures of those people; the old rows stay unchanged;
//! - a major version re-cuts everyone with fresh, version-keyed noise on the figures; the
//!   spreads and correlations measured in the first version are carried over, never
//!   measured again.
//!
//! Every figure computed from the current people is noisy (`anonymize::known`), and each
//! version's cost per person (zCDP rho) is added to their budget in the ledger,
//! which has a cap.

pub mod ledger;

use crate::anonymize::known::{Budget, Knowledge};
use crate::anonymize::noise::NoiseKey;
use crate::anonymize::partition::Class;
use crate::anonymize::{Partition, Table};
use crate::error::{Error, Result};
use crate::filter::Eligible;
use crate::pipeline::{OverBudget, Pipeline};
use crate::publish::versions::{self, Level, Version};
use hmac::{Hmac, Mac};
use ledger::{Entry, Ledger, LedgerClass};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

/// What a version is to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The first version of a series (nothing published in the release folder yet).
    First,
    /// Withdrawals and corrections: the previous rows, unchanged.
    Patch,
    /// New classes of new and waiting people added to the previous rows.
    Minor,
    /// Everyone re-cut.
    Major,
}

/// Whether a person spends budget in a version of `kind` (`new`: not in a class of the
/// version before): a cut measures everyone's figures, a minor version its new people's,
/// a patch nobody's.
fn spends(kind: Kind, new: bool) -> bool {
    match kind {
        Kind::Patch => false,
        Kind::Minor => new,
        Kind::First | Kind::Major => true,
    }
}

impl Kind {
    /// The kind as the manifest and report spell it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::First => "first",
            Kind::Patch => "patch",
            Kind::Minor => "minor",
            Kind::Major => "major",
        }
    }

    /// Whether the previous version's classes are kept.
    pub fn continues(self) -> bool {
        matches!(self, Kind::Patch | Kind::Minor)
    }
}

/// Where a release stands in its series: what it is, the ledger it continues, and the
/// keyed fingerprints of its people.
pub struct Step {
    pub kind: Kind,
    pub previous: Option<Ledger>,
    secret: Vec<u8>,
    /// Per eligible person: fingerprint of the owner, categories and values (the budget is
    /// per person: a body as released; one whose values change is a new person, as a
    /// withdrawal and a join are).
    person: Vec<String>,
    pub over_budget: usize,
    /// This version's cost per person: the most any one person spends in it (a first
    /// version or re-cut: everyone's figures and, once, spreads; a minor version: the new
    /// people's figures; a patch: nothing).
    pub cost: f64,
    /// Per eligible person: whether they are new to the series' classes (not a member of
    /// a class of the previous version).
    new: Vec<bool>,
}

type HmacSha256 = Hmac<Sha256>;

fn fingerprint(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key");
    for p in parts {
        m.update(&(p.len() as u64).to_le_bytes());
        m.update(p);
    }
    hex::encode(&m.finalize().into_bytes()[..16])
}

/// The settings a series' kept classes depend on, as text: k, and the noise the figures
/// (and the budget) were measured with.
fn made_with(pl: &Pipeline) -> String {
    let s = &pl.series;
    format!(
        "k = {}, count_noise = {}, sum_noise = {}, square_noise = {}, clip = {}",
        pl.release.k, s.count_noise, s.sum_noise, s.square_noise, s.clip
    )
}

/// The released columns: categories, then measurement columns.
fn columns(pl: &Pipeline) -> Vec<String> {
    pl.categories
        .iter()
        .map(|c| c.name.clone())
        .chain(crate::anonymize::generalize::column_names(pl))
        .collect()
}

/// What a release continues: its kind, the previous ledger, the fingerprints' key, and
/// whether people's fingerprints are kept (only with a private folder to keep them in).
pub struct Start {
    pub kind: Kind,
    pub previous: Option<Ledger>,
    pub secret: Vec<u8>,
    pub fingerprints: bool,
}

/// Where `version` starts after what `out` holds, continuing the ledger of `private`.
/// Refuses (exit 2) a patch or minor version without the ledger.
pub fn open(
    pl: &Pipeline,
    out: &Path,
    private: Option<&Path>,
    version: &str,
    key: &NoiseKey,
) -> Result<Start> {
    let start = |kind, previous, secret: &[u8]| Start {
        kind,
        previous,
        secret: secret.to_vec(),
        fingerprints: private.is_some(),
    };
    let new = Version::parse(version).expect("checked by the caller");
    let latest = versions::published(out).last().map(|(v, _)| v.clone());
    let ledger = match private {
        Some(d) => ledger::read(d)?,
        None => None,
    };
    let Some(latest) = latest else {
        let secret = key.pseudonym(&format!("opentape/series\0{}", pl.dataset.name));
        return Ok(start(Kind::First, None, &secret));
    };
    if new <= latest {
        return Err(Error::Refused(format!(
            "version {new} is not above the latest published version {latest}"
        )));
    }
    let kind = match latest.level_to(&new) {
        Level::Patch => Kind::Patch,
        Level::Minor => Kind::Minor,
        Level::Major => Kind::Major,
    };
    match ledger {
        Some(l) if l.latest() == Some(latest.to_string().as_str()) => {
            if l.dataset != pl.dataset.name {
                return Err(Error::Usage(format!(
                    "the series ledger is of dataset {:?}, this pipeline publishes {:?}",
                    l.dataset, pl.dataset.name
                )));
            }
            let secret = hex::decode(&l.secret)
                .map_err(|_| Error::Usage("the series ledger's secret is not hex".into()))?;
            if kind != Kind::Major && l.made_with != made_with(pl) {
                return Err(Error::Refused(format!(
                    "version {new} understates the change since {latest}: the series' classes were made with {}, this pipeline has {}; a {} version keeps them, so the change needs a major bump ({} or later)",
                    l.made_with,
                    made_with(pl),
                    if kind == Kind::Patch { "patch" } else { "minor" },
                    latest.bump(Level::Major)
                )));
            }
            let now = columns(pl);
            if kind != Kind::Major && l.columns != now {
                let added: Vec<&String> = now.iter().filter(|c| !l.columns.contains(c)).collect();
                let removed: Vec<&String> = l.columns.iter().filter(|c| !now.contains(c)).collect();
                return Err(Error::Refused(format!(
                    "version {new} understates the change since {latest}: columns changed (added: {added:?}, removed: {removed:?}) needs a major bump ({} or later): a {} version keeps the previous rows, which hold the previous columns",
                    latest.bump(Level::Major),
                    if kind == Kind::Patch { "patch" } else { "minor" }
                )));
            }
            Ok(start(kind, Some(l), &secret))
        }
        other => {
            if kind == Kind::Major {
                // A re-cut needs no earlier classes; a new ledger starts (its spreads are
                // measured again: stated in the manifest).
                let secret =
                    key.pseudonym(&format!("opentape/series\0{}\0{version}", pl.dataset.name));
                return Ok(start(kind, None, &secret));
            }
            let found = match (&other, private) {
                (Some(l), _) => format!(
                    "the ledger there ends at {}, not at {latest}",
                    l.latest().unwrap_or("nothing")
                ),
                (None, Some(d)) => format!("there is none in {}", ledger::path(d).display()),
                (None, None) => "no --private-dir was given".into(),
            };
            Err(Error::Usage(format!(
                "{} holds versions up to {latest}; a {} version keeps their classes and needs the series ledger of {latest} (in the --private-dir of the earlier releases, {}/{}), but {found}. Give that --private-dir; if the ledger is lost, the next version must be a re-cut: --version {}",
                out.display(),
                match kind { Kind::Patch => "patch", _ => "minor" },
                ledger::DIR,
                ledger::LATEST,
                latest.bump(Level::Major)
            )))
        }
    }
}

impl Step {
    /// Fingerprints `e`'s people and leaves out (or refuses) those whose budget
    /// would pass the cap.
    pub fn new(
        pl: &Pipeline,
        kind: Kind,
        previous: Option<Ledger>,
        secret: Vec<u8>,
        e: &mut Eligible,
        keep: bool,
    ) -> Result<Step> {
        let d = pl.measurements.len();
        let b = Budget::of(&pl.series, d);
        let measures_spread = previous.as_ref().is_none_or(|l| l.spreads.is_empty());
        // Who spends: a cut measures everyone's figures; a minor version its new people's;
        // a patch computes nothing from anyone.
        let cost = match kind {
            Kind::Patch => 0.0,
            Kind::Minor => b.figures,
            Kind::First | Kind::Major => b.figures + if measures_spread { b.spread } else { 0.0 },
        };
        let fps = |e: &Eligible| -> Vec<String> {
            (0..e.people.len())
                .into_par_iter()
                .map(|i| {
                    let owner = e.owner_keys.get(e.people.owner(i) as usize).as_bytes();
                    let cats: Vec<u8> = (0..pl.categories.len())
                        .flat_map(|c| {
                            let mut v = e
                                .people
                                .category(i, c)
                                .unwrap_or_default()
                                .as_bytes()
                                .to_vec();
                            v.push(0);
                            v
                        })
                        .collect();
                    let values: Vec<u8> = e
                        .people
                        .values(i)
                        .iter()
                        .flat_map(|v| v.to_bits().to_le_bytes())
                        .collect();
                    fingerprint(&secret, &[b"person", owner, &cats, &values])
                })
                .collect()
        };
        let known: std::collections::HashSet<&str> = previous
            .iter()
            .flat_map(|l| &l.classes)
            .flat_map(|c| c.members.iter().map(String::as_str))
            .collect();
        // Without a ledger to read or write (no private folder), nobody needs a
        // fingerprint: a million HMACs saved.
        let mut person = if keep { fps(e) } else { Vec::new() };
        let mut new: Vec<bool> = person.iter().map(|p| !known.contains(p.as_str())).collect();
        let mut over_budget = 0;
        if let Some(l) = &previous {
            let over: Vec<bool> = person
                .iter()
                .zip(&new)
                .map(|(p, &n)| {
                    // (With a relative margin: budgets are sums of floats.)
                    spends(kind, n)
                        && l.budgets.get(p).copied().unwrap_or(0.0) + cost
                            > pl.series.max_budget * (1.0 + 1e-9)
                })
                .collect();
            over_budget = over.iter().filter(|&&x| x).count();
            if over_budget > 0 {
                if pl.series.over_budget == OverBudget::Refuse {
                    return Err(Error::Refused(format!(
                        "{over_budget} people would pass the series budget cap max_budget = {} (this version costs {cost:.1} each); [series] over_budget = \"refuse\"",
                        pl.series.max_budget
                    )));
                }
                // The people left out, and their fingerprints with them.
                let mut it = over.iter();
                e.people
                    .retain(|_| !*it.next().expect("one flag per person"));
                let mut it = over.iter();
                person.retain(|_| !*it.next().expect("one flag per person"));
                let mut it = over.iter();
                new.retain(|_| !*it.next().expect("one flag per person"));
            }
        }
        Ok(Step {
            kind,
            previous,
            secret,
            person,
            over_budget,
            cost,
            new,
        })
    }

    /// What person `i` spends in this version.
    fn spends(&self, i: usize) -> f64 {
        if spends(self.kind, self.new[i]) {
            self.cost
        } else {
            0.0
        }
    }

    /// People of the previous version's classes who are not among this version's people.
    pub fn left(&self) -> usize {
        let now: std::collections::HashSet<&str> = self.person.iter().map(String::as_str).collect();
        self.previous.as_ref().map_or(0, |l| {
            l.classes
                .iter()
                .flat_map(|c| &c.members)
                .filter(|m| !now.contains(m.as_str()))
                .count()
        })
    }

    /// The most any of this version's people has spent over the series, this version
    /// included.
    pub fn spent_max(&self) -> f64 {
        let prev = self.previous.as_ref();
        self.person
            .iter()
            .enumerate()
            .map(|(i, o)| {
                prev.and_then(|l| l.budgets.get(o)).copied().unwrap_or(0.0) + self.spends(i)
            })
            .fold(
                if self.person.is_empty() {
                    self.cost
                } else {
                    0.0
                },
                f64::max,
            )
    }

    /// The spreads to carry over, if the series has them.
    pub fn spreads(&self) -> Option<crate::anonymize::known::Spreads> {
        self.previous
            .as_ref()
            .map(Ledger::spreads)
            .filter(|s| !s.is_empty())
    }

    /// The ledger after this version, whose classes are `part`'s with `t`'s values;
    /// `(new_classes, left)`: classes made now, people of the previous classes who left.
    pub fn next(
        &self,
        pl: &Pipeline,
        version: &str,
        (part, t): (&Partition, &Table),
        known: &Knowledge,
        (new_classes, left): (usize, usize),
    ) -> Ledger {
        let mut budgets = self
            .previous
            .as_ref()
            .map(|l| l.budgets.clone())
            .unwrap_or_default();
        for (i, o) in self.person.iter().enumerate() {
            *budgets.entry(o.clone()).or_default() += self.spends(i);
        }
        // What the documents and later patch and minor versions compare with: the last
        // cut's figures.
        let last_cut: Vec<(Vec<String>, crate::anonymize::known::Known)> = match &self.previous {
            Some(l) if self.kind.continues() => l.known.clone(),
            _ => known.by_category.clone().into_iter().collect(),
        };
        let classes: Vec<LedgerClass> = part
            .classes
            .iter()
            .enumerate()
            .map(|(c, class)| LedgerClass {
                categories: part.strata[class.stratum].clone(),
                dims: part.dims[class.stratum].clone(),
                values: t.class_values[c].clone(),
                rows: class.rows(),
                owners: class.owners,
                members: class
                    .members
                    .iter()
                    .map(|&m| self.person[m as usize].clone())
                    .collect(),
            })
            .collect();
        let mut versions = self
            .previous
            .as_ref()
            .map(|l| l.versions.clone())
            .unwrap_or_default();
        versions.push(Entry {
            version: version.to_string(),
            kind: self.kind,
            people: self.person.len(),
            rows: t.rows(),
            classes: part.classes.len(),
            new_classes,
            left,
            waiting: part.suppressed.len(),
            over_budget: self.over_budget,
            budget: self.cost,
        });
        Ledger {
            dataset: pl.dataset.name.clone(),
            secret: hex::encode(&self.secret),
            versions,
            columns: columns(pl),
            made_with: made_with(pl),
            spreads: known.spreads().into_iter().collect(),
            known: last_cut,
            budgets,
            classes,
        }
    }
}

/// A patch or minor version's table: the previous classes with their rows unchanged (their
/// people who are still eligible as members, the others' rows kept), and for a minor
/// version new classes made among everyone else. Returns the partition, the table, the
/// classes made now, and the people who left.
pub fn continued(
    pl: &Pipeline,
    e: &Eligible,
    step: &Step,
    key: &NoiseKey,
    version: &str,
    meter: &crate::progress::Meter,
) -> (Partition, Table, usize, usize) {
    let prev = step
        .previous
        .as_ref()
        .expect("a continued version has a ledger");
    let mut member_of: std::collections::HashMap<&str, usize> = Default::default();
    for (c, class) in prev.classes.iter().enumerate() {
        for m in &class.members {
            member_of.insert(m.as_str(), c);
        }
    }
    let mut part = Partition {
        classes: Vec::new(),
        strata: Vec::new(),
        dims: Vec::new(),
        suppressed: Vec::new(),
        unplaced: 0,
        withdrawn: 0,
    };
    let mut stratum_of: std::collections::HashMap<(Vec<String>, Vec<usize>), usize> =
        Default::default();
    let mut stratum = |part: &mut Partition, cats: &[String], dims: &[usize]| -> usize {
        *stratum_of
            .entry((cats.to_vec(), dims.to_vec()))
            .or_insert_with(|| {
                part.strata.push(cats.to_vec());
                part.dims.push(dims.to_vec());
                part.strata.len() - 1
            })
    };
    let mut values = Vec::new();
    for class in &prev.classes {
        let s = stratum(&mut part, &class.categories, &class.dims);
        part.classes.push(Class {
            stratum: s,
            members: Vec::new(),
            owners: class.owners,
            counterfeit: class.rows,
        });
        values.push(class.values.clone());
    }
    let mut cohort: Vec<u32> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, fp) in step.person.iter().enumerate() {
        match member_of.get(fp.as_str()) {
            Some(&c) if seen.insert(fp.as_str()) => {
                let class = &mut part.classes[c];
                class.members.push(i as u32);
                class.counterfeit -= 1;
            }
            _ => cohort.push(i as u32),
        }
    }
    let stayed: usize = part.classes.iter().map(|c| c.members.len()).sum();
    let left = prev.classes.iter().map(|c| c.members.len()).sum::<usize>() - stayed;
    let (mut clamped, mut moved, mut made) = (0, 0, 0);
    if step.kind == Kind::Minor && !cohort.is_empty() {
        let mut keep = vec![false; e.people.len()];
        for &i in &cohort {
            keep[i as usize] = true;
        }
        let sub = e.subset(&keep);
        let mut cpart = crate::anonymize::partition(pl, &sub, meter);
        let known = Knowledge::measure(
            pl,
            &sub,
            key,
            &format!("{version}\0new"),
            step.spreads().as_ref(),
        );
        let ct = crate::anonymize::generalize(pl, &sub, &mut cpart, key, &known);
        (clamped, moved) = (ct.clamped, ct.moved);
        made = cpart.classes.len();
        for (c, class) in cpart.classes.iter().enumerate() {
            let s = stratum(
                &mut part,
                &cpart.strata[class.stratum],
                &cpart.dims[class.stratum],
            );
            part.classes.push(Class {
                stratum: s,
                members: class.members.iter().map(|&m| cohort[m as usize]).collect(),
                owners: class.owners,
                counterfeit: 0,
            });
            values.push(ct.class_values[c].clone());
        }
        part.suppressed = cpart
            .suppressed
            .iter()
            .map(|&m| cohort[m as usize])
            .collect();
        part.unplaced = cpart.unplaced;
        part.withdrawn = cpart.withdrawn;
    } else {
        part.suppressed = cohort;
    }
    let columns = crate::anonymize::generalize::column_names(pl);
    let table = Table::assemble(pl, columns, &part, values, clamped, moved);
    (part, table, made, left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::{classes_of, pipeline};

    fn ledger(pl: &Pipeline, spent: f64, e: &Eligible, secret: &[u8]) -> Ledger {
        let step = Step::new(
            pl,
            Kind::First,
            None,
            secret.to_vec(),
            &mut e.subset(&vec![true; e.people.len()]),
            true,
        )
        .unwrap();
        Ledger {
            dataset: pl.dataset.name.clone(),
            secret: hex::encode(secret),
            versions: Vec::new(),
            columns: columns(pl),
            made_with: made_with(pl),
            // Spreads measured: a re-cut carries them (and does not spend on them again).
            spreads: vec![(
                Vec::new(),
                crate::anonymize::known::Spread {
                    sd: Vec::new(),
                    corr: Vec::new(),
                    offset: Vec::new(),
                    pair_sd: Vec::new(),
                },
            )],
            known: Vec::new(),
            budgets: step.person.iter().map(|o| (o.clone(), spent)).collect(),
            classes: Vec::new(),
        }
    }

    /// A re-cut leaves out (or refuses) the people whose budget it would pass, and
    /// spends nothing of anyone in a patch.
    #[test]
    fn the_budget_cap_leaves_out_or_refuses() {
        let mut pl = pipeline();
        let (e, _) = classes_of(&pl);
        let secret = b"test-secret".to_vec();
        let (figures, spread) = pl.series.rho(pl.measurements.len());
        pl.series.max_budget = spread + 2.0 * figures;
        // Spent one cut and the spreads: one more cut fits, two do not.
        let fits = ledger(&pl, spread + figures, &e, &secret);
        let mut x = e.subset(&vec![true; e.people.len()]);
        let s = Step::new(&pl, Kind::Major, Some(fits), secret.clone(), &mut x, true).unwrap();
        assert_eq!((s.over_budget, x.people.len()), (0, e.people.len()));
        assert!((s.spent_max() - (spread + 2.0 * figures)).abs() < 1e-6);
        let full = ledger(&pl, spread + 2.0 * figures, &e, &secret);
        let mut x = e.subset(&vec![true; e.people.len()]);
        let s = Step::new(
            &pl,
            Kind::Major,
            Some(full.clone()),
            secret.clone(),
            &mut x,
            true,
        )
        .unwrap();
        assert_eq!((s.over_budget, x.people.len()), (e.people.len(), 0));
        // A patch computes nothing from anyone: nobody is over.
        let mut x = e.subset(&vec![true; e.people.len()]);
        let s = Step::new(
            &pl,
            Kind::Patch,
            Some(full.clone()),
            secret.clone(),
            &mut x,
            true,
        )
        .unwrap();
        assert_eq!((s.over_budget, s.cost), (0, 0.0));
        pl.series.over_budget = OverBudget::Refuse;
        let mut x = e.subset(&vec![true; e.people.len()]);
        let r = Step::new(&pl, Kind::Major, Some(full), secret, &mut x, true);
        assert!(matches!(r, Err(Error::Refused(m)) if m.contains("max_budget")));
    }

    /// The default cap is three cuts' worth.
    #[test]
    fn the_default_cap_is_three_cuts() {
        let pl = pipeline();
        let (figures, spread) = pl.series.rho(pl.measurements.len());
        assert!((pl.series.max_budget - (spread + 3.0 * figures).ceil()).abs() < 1e-9);
    }
}
