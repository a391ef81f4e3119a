//! Pipeline files (`pipelines/*.toml`): what to read, the role of every input field, the
//! filters and the release parameters. Parsed strictly: an unknown key is an error that
//! names its line, so a typo can never silently switch a protection off.

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod categories;
mod filters;
mod release;
mod series;
mod text;

pub use categories::*;
pub use filters::*;
pub use release::*;
pub use series::*;
pub use text::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    FreesewingV3,
    FreesewingV2,
    /// The FreeSewing backend's SQLite database (tables `User`, `Set`, `CuratedSet`).
    FreesewingSqlite,
    Table,
}

impl Format {
    /// The format as a pipeline spells it (`input.format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::FreesewingV3 => "freesewing-v3",
            Format::FreesewingV2 => "freesewing-v2",
            Format::FreesewingSqlite => "freesewing-sqlite",
            Format::Table => "table",
        }
    }

    /// The record kinds ("entities") whose fields need roles.
    pub fn entities(self) -> &'static [&'static str] {
        match self {
            Format::FreesewingV3 | Format::FreesewingSqlite => &["set", "user"],
            Format::FreesewingV2 => &["person", "user"],
            Format::Table => &["row"],
        }
    }

    /// The entity that holds one person's measurements.
    pub fn person_entity(self) -> &'static str {
        self.entities()[0]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Identifier,
    Owner,
    Filter,
    Category,
    Measurement,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Series name: keys the noise and names the release.
    pub name: String,
    pub title: String,
    pub description: String,
    pub license: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub format: Format,
    /// Default inputs, relative to the pipeline file.
    pub default: Vec<PathBuf>,
    /// Measurement catalog, relative to the pipeline file.
    pub catalog: PathBuf,
}

/// A released category column: read from a field, or derived.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDef {
    /// `entity.path` of the field holding the value.
    pub field: Option<String>,
    /// `breasts-only-present`: "true" when any breasts-only measurement is present.
    pub derive: Option<String>,
    /// The values that may be released (deny by default: a record holding any other
    /// value is quarantined as `undeclared-category`). Required for a field; a derived
    /// category's values are fixed.
    pub values: Option<Vec<String>>,
    /// Input spellings mapped to released values (`M = "Male"`).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    dataset: Dataset,
    input: Input,
    roles: BTreeMap<String, BTreeMap<String, Role>>,
    #[serde(default)]
    categories: BTreeMap<String, CategoryDef>,
    filters: FiltersTable,
    release: Release,
    #[serde(default)]
    series: Series,
}

/// Released measurements a pipeline may have (the anonymizer's measurement patterns are
/// bit sets of this size).
pub const MAX_MEASUREMENTS: usize = 256;

/// A validated pipeline, with its catalog loaded and paths resolved.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub dataset: Dataset,
    pub format: Format,
    pub default_inputs: Vec<PathBuf>,
    pub catalog: Catalog,
    pub catalog_path: PathBuf,
    /// roles[entity][field path]
    pub roles: BTreeMap<String, BTreeMap<String, Role>>,
    pub categories: Vec<Category>,
    pub filters: Filters,
    pub release: Release,
    pub series: Series,
    /// Catalog indices of the released measurements, in release order.
    pub measurements: Vec<usize>,
    /// Name of the category that says whether a person has breasts (breasts-only
    /// measurements are required, and released, only where it is "true").
    pub breasts_category: Option<usize>,
}

impl Pipeline {
    pub fn load(path: &Path) -> Result<Pipeline> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Pipeline::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Pipeline> {
        let err = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        let file: PipelineFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for (what, text) in [
            ("name", &file.dataset.name),
            ("title", &file.dataset.title),
            ("description", &file.dataset.description),
            ("license", &file.dataset.license),
        ] {
            if let Some(why) = hidden_characters(text, &['\n']) {
                return Err(err(format!("[dataset] {what} {why}: it is published")));
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let catalog_path = base.join(&file.input.catalog);
        let catalog = Catalog::load(&catalog_path)?;
        let format = file.input.format;

        for entity in file.roles.keys() {
            if !format.entities().contains(&entity.as_str()) {
                return Err(err(format!(
                    "[roles.{entity}]: format {format:?} has the record kinds {:?}",
                    format.entities()
                )));
            }
        }
        for entity in format.entities() {
            let roles = file.roles.get(*entity).ok_or_else(|| {
                err(format!(
                    "[roles.{entity}] is missing: every field needs a role"
                ))
            })?;
            if !roles.values().any(|r| *r == Role::Owner) {
                return Err(err(format!(
                    "[roles.{entity}] declares no `owner` field: k is counted in owners"
                )));
            }
        }

        let role_of = |qualified: &str| -> Option<Role> {
            let (entity, field) = qualified.split_once('.')?;
            file.roles.get(entity)?.get(field).copied()
        };
        let check_field = |what: &str, qualified: &str, role: Role| -> Result<()> {
            match role_of(qualified) {
                Some(r) if r == role => Ok(()),
                Some(r) => Err(err(format!(
                    "{what} reads `{qualified}`, whose role is {r:?}, not {role:?}"
                ))),
                None => Err(err(format!(
                    "{what} reads `{qualified}`, which has no role in [roles]"
                ))),
            }
        };

        let mut categories = Vec::new();
        for (name, def) in &file.categories {
            let source = match (&def.field, &def.derive) {
                (Some(f), None) => {
                    check_field(&format!("[categories.{name}]"), f, Role::Category)?;
                    let (entity, path) = f.split_once('.').unwrap();
                    if entity != format.person_entity() {
                        return Err(err(format!(
                            "[categories.{name}]: categories must be fields of `{}`",
                            format.person_entity()
                        )));
                    }
                    CategorySource::Field {
                        entity: entity.to_string(),
                        path: path.to_string(),
                    }
                }
                (None, Some(d)) if d == "breasts-only-present" => {
                    CategorySource::BreastsOnlyPresent
                }
                _ => {
                    return Err(err(format!(
                        "[categories.{name}]: give either `field = \"entity.path\"` or `derive = \"breasts-only-present\"`"
                    )))
                }
            };
            let values = match (&source, &def.values) {
                (CategorySource::Field { .. }, Some(v)) => v.clone(),
                (CategorySource::Field { .. }, None) => {
                    return Err(err(format!(
                        "[categories.{name}]: declare the values that may be released, e.g. `values = [\"Female\", \"Male\"]`: a record with any other value is quarantined"
                    )))
                }
                (CategorySource::BreastsOnlyPresent, None) => {
                    DERIVED_VALUES.iter().map(|v| v.to_string()).collect()
                }
                (CategorySource::BreastsOnlyPresent, Some(v)) => {
                    let mut sorted = v.clone();
                    sorted.sort();
                    if sorted != DERIVED_VALUES {
                        return Err(err(format!(
                            "[categories.{name}]: a derived category has the values {DERIVED_VALUES:?}"
                        )));
                    }
                    v.clone()
                }
            };
            check_values(name, &values, &def.map).map_err(err)?;
            categories.push(Category {
                name: name.clone(),
                source,
                values,
                map: def.map.clone(),
            });
        }
        for (entity, roles) in &file.roles {
            for (field, role) in roles {
                let q = format!("{entity}.{field}");
                if *role == Role::Category
                    && !categories.iter().any(|c| {
                        c.source
                            == CategorySource::Field {
                                entity: entity.clone(),
                                path: field.clone(),
                            }
                    })
                {
                    return Err(err(format!(
                        "`{q}` has role category but no [categories] entry releases it"
                    )));
                }
            }
        }

        let c = &file.filters.consent;
        let consent_rule = match (&c.field, c.at_least, &c.equals, &c.waived) {
            (Some(f), Some(min), None, None) => {
                check_field("[filters.consent]", f, Role::Filter)?;
                ConsentRule::AtLeast { field: f.clone(), min }
            }
            (Some(f), None, Some(v), None) => {
                check_field("[filters.consent]", f, Role::Filter)?;
                ConsentRule::Equals { field: f.clone(), value: v.clone() }
            }
            (None, None, None, Some(w)) if c.also_true.is_empty() && c.any_true.is_empty() => {
                ConsentRule::Waived(w.clone())
            }
            _ => {
                return Err(err(
                    "[filters.consent]: give `field` with `at_least` or `equals`, or `waived = \"why\"`".into(),
                ))
            }
        };
        for f in c.also_true.iter().chain(&c.any_true) {
            check_field("[filters.consent]", f, Role::Filter)?;
        }
        if let Some(a) = &file.filters.account {
            let pairs = [
                ("status_field", &a.status_field, a.active.is_some()),
                ("role_field", &a.role_field, !a.refused_roles.is_empty()),
                ("email_field", &a.email_field, !a.test_domains.is_empty()),
            ];
            for (what, field, rule) in pairs {
                match (field, rule) {
                    (Some(f), true) => check_field(&format!("[filters.account] {what}"), f, Role::Filter)?,
                    (None, false) => {}
                    _ => {
                        return Err(err(format!(
                            "[filters.account]: `{what}` goes with its rule (`active`, `refused_roles` or `test_domains`)"
                        )))
                    }
                }
            }
        }
        let r = &file.filters.retention;
        let retention_rule =
            match (&r.field, r.max_age_days, &r.waived) {
                (Some(f), Some(days), None) => {
                    check_field("[filters.retention]", f, Role::Filter)?;
                    RetentionRule::MaxAge {
                        field: f.clone(),
                        days,
                    }
                }
                (None, None, Some(w)) => RetentionRule::Waived(w.clone()),
                _ => return Err(err(
                    "[filters.retention]: give `field` and `max_age_days`, or `waived = \"why\"`"
                        .into(),
                )),
            };
        let share = |v: f64| (0.0..=1.0).contains(&v);
        if !share(file.filters.plausibility.max_rejected) || !share(file.release.max_suppressed) {
            return Err(err(
                "max_rejected and max_suppressed are shares between 0 and 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&file.release.moments_strength) {
            return Err(err(
                "[release] moments_strength must be between 0 and 1".into()
            ));
        }
        if !(1..=50).contains(&file.release.quantile_rounds) {
            return Err(err(
                "[release] quantile_rounds must be between 1 and 50".into()
            ));
        }
        let mut file = file;
        file.release.moments = match (file.release.moments_setting, file.release.representation) {
            (Some(m @ (Moments::Restore | Moments::Quantile)), Representation::Range) => {
                return Err(err(format!(
                    "[release] moments = \"{}\" applies to the centroid representation only",
                    m.name()
                )))
            }
            (Some(m), _) => m,
            (None, Representation::Centroid) => Moments::Quantile,
            (None, Representation::Range) => Moments::None,
        };
        file.release.partition_space = match file.release.partition_space_setting {
            Some(s) => s,
            None if file.release.moments == Moments::Quantile => PartitionSpace::Whitened,
            None => PartitionSpace::Standardized,
        };
        file.release.cut = match file.release.cut_setting {
            Some(c) => c,
            None if file.release.moments == Moments::Quantile => Cut::Auto,
            None => Cut::Median,
        };
        file.series.check().map_err(err)?;
        if file.release.k < 2 {
            return Err(err("[release] k must be at least 2".into()));
        }
        file.release.min_pattern_owners = match file.release.min_pattern_owners_setting {
            Some(m) if m < file.release.k => {
                return Err(err(format!(
                    "[release] min_pattern_owners = {m} is below k = {}: a pattern must hold at least one class",
                    file.release.k
                )))
            }
            Some(m) => m,
            None => file.release.k,
        };

        let measurements: Vec<usize> = if file.release.measurements.is_empty() {
            (0..catalog.measurements.len()).collect()
        } else {
            let mut v = Vec::new();
            for name in &file.release.measurements {
                let i = catalog.index(name).ok_or_else(|| {
                    err(format!(
                        "[release] measurement `{name}` is not in the catalog {}",
                        catalog_path.display()
                    ))
                })?;
                if v.contains(&i) {
                    return Err(err(format!(
                        "[release] measurement `{name}` is listed twice"
                    )));
                }
                v.push(i);
            }
            v
        };
        let breasts_category = categories.iter().position(|c| c.name == "has_breasts");
        if measurements.len() > MAX_MEASUREMENTS {
            return Err(err(format!(
                "{} released measurements: at most {} are supported",
                measurements.len(),
                MAX_MEASUREMENTS
            )));
        }
        file.filters.plausibility.required_rule = match &file.filters.plausibility.required {
            None => Required::None,
            Some(RequiredSetting::Word(w)) if w == "all" => Required::All,
            Some(RequiredSetting::Word(w)) => {
                return Err(err(format!(
                    "[filters.plausibility] required = \"{w}\": give \"all\" or a list of measurement names"
                )))
            }
            Some(RequiredSetting::List(names)) => {
                let mut v = Vec::new();
                for name in names {
                    let pos = catalog
                        .index(name)
                        .and_then(|i| measurements.iter().position(|&m| m == i))
                        .ok_or_else(|| {
                            err(format!(
                                "[filters.plausibility] required measurement `{name}` is not a released measurement"
                            ))
                        })?;
                    v.push(pos);
                }
                Required::Some(v)
            }
        };

        Ok(Pipeline {
            path: path.to_path_buf(),
            dataset: file.dataset,
            format,
            default_inputs: file.input.default.iter().map(|p| base.join(p)).collect(),
            catalog,
            catalog_path,
            roles: file.roles,
            categories,
            filters: Filters {
                consent: Consent {
                    rule: consent_rule,
                    count_value: file.filters.consent.count_value,
                    also_true: file.filters.consent.also_true,
                    any_true: file.filters.consent.any_true,
                },
                retention: retention_rule,
                account: file.filters.account,
                dedupe: file.filters.dedupe,
                plausibility: file.filters.plausibility,
            },
            release: file.release,
            series: {
                let mut s = file.series;
                s.resolve(measurements.len());
                s
            },
            measurements,
            breasts_category,
        })
    }

    /// The qualified fields (`entity.path`) read by filters, in a fixed order.
    pub fn filter_fields(&self) -> Vec<String> {
        let consent = &self.filters.consent;
        let c = consent
            .rule
            .field()
            .into_iter()
            .chain(consent.also_true.iter().map(String::as_str))
            .chain(consent.any_true.iter().map(String::as_str));
        let a = self.filters.account.iter().flat_map(|a| {
            a.status_field
                .iter()
                .chain(a.role_field.iter())
                .chain(a.email_field.iter())
                .map(String::as_str)
        });
        let mut v: Vec<String> = c
            .chain(self.filters.retention.field())
            .chain(a)
            .map(str::to_string)
            .collect();
        // One field may serve two rules: listed once.
        let mut seen = std::collections::BTreeSet::new();
        v.retain(|f| seen.insert(f.clone()));
        v
    }

    /// Role of `path` (dotted) in `entity`, looking at the path and each of its parents:
    /// `social = "identifier"` covers `social.github`.
    pub fn role(&self, entity: &str, path: &str) -> Option<(Role, &str)> {
        let roles = self.roles.get(entity)?;
        let mut p = path;
        loop {
            if let Some((k, r)) = roles.get_key_value(p) {
                return Some((*r, k.as_str()));
            }
            p = &p[..p.rfind('.')?];
        }
    }

    /// Whether `path` is declared with its own role or is the parent of declared fields.
    pub fn has_declared_children(&self, entity: &str, path: &str) -> bool {
        self.roles.get(entity).is_some_and(|roles| {
            roles.keys().any(|k| {
                k.len() > path.len() && k.starts_with(path) && k.as_bytes()[path.len()] == b'.'
            })
        })
    }

    /// The released measurement is required (and released) for a person with these
    /// category values.
    pub fn applies(&self, measurement: usize, categories: &[String]) -> bool {
        !self.catalog.measurements[measurement].breasts_only
            || self
                .breasts_category
                .is_none_or(|c| categories.get(c).is_some_and(|v| v == "true"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(p: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }

    #[test]
    fn shipped_pipelines_parse() {
        for p in ["freesewing-v3", "freesewing-v2", "ansur2"] {
            let pl = Pipeline::load(&repo(&format!("pipelines/{p}.toml"))).unwrap();
            assert!(!pl.default_inputs.is_empty());
            assert!(pl.release.k >= 2);
        }
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let path = repo("pipelines/freesewing-v3.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = text.replacen("[release]\n", "[release]\nkk = 5\n", 1);
        let line = bad.lines().position(|l| l == "kk = 5").unwrap() + 1;
        let e = Pipeline::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("unknown field `kk`"), "{e}");
        assert!(e.contains(&format!("line {line}")), "{e}");
    }

    #[test]
    fn consent_must_be_explicit() {
        let path = repo("pipelines/freesewing-v3.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find("[filters.consent]").unwrap();
        let end = start + text[start..].find("\n\n").unwrap();
        let bad = format!("{}[filters.consent]\n{}", &text[..start], &text[end..]);
        let e = Pipeline::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("[filters.consent]"), "{e}");
    }

    /// A noise scale the sampler cannot honour is refused at load time, never released as
    /// a scale it was not drawn at (0.04 used to mean no noise at all, 0.55 to mean 0.6).
    #[test]
    fn noise_scale_must_be_a_whole_number_of_tenths() {
        let path = repo("pipelines/freesewing-v3.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("noise_scale = 0.5\n"));
        for bad in ["0.04", "0.55", "-1", "1000.1"] {
            let t = text.replace("noise_scale = 0.5\n", &format!("noise_scale = {bad}\n"));
            let e = Pipeline::parse(&t, &path).unwrap_err().to_string();
            assert!(e.contains("whole tenths"), "{bad}: {e}");
        }
        for good in ["0", "0.1", "0.3", "2", "1000"] {
            let t = text.replace("noise_scale = 0.5\n", &format!("noise_scale = {good}\n"));
            let pl = Pipeline::parse(&t, &path).unwrap();
            let want = good.parse::<f64>().unwrap();
            let scale = pl.release.noise_scale;
            assert_eq!(scale.value(), want);
            // What the manifest states is what the sampler draws at.
            match scale.ratio() {
                None => assert_eq!(want, 0.0),
                Some((s, t)) => assert!((t as f64 / s as f64 - want).abs() < 1e-12),
            }
        }
    }

    /// The ANSUR II pipeline with its `[categories]` line replaced.
    fn with_gender(line: &str) -> Result<Pipeline> {
        let path = repo("pipelines/ansur2.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let old = "Gender = { field = \"row.Gender\", values = [\"Female\", \"Male\"] }";
        assert!(text.contains(old));
        Pipeline::parse(&text.replace(old, line), &path)
    }

    #[test]
    fn a_category_declares_its_values_and_each_is_safe_to_publish() {
        let e = with_gender("Gender = { field = \"row.Gender\" }").unwrap_err();
        assert!(e.to_string().contains("declare the values"), "{e}");
        for bad in [
            "=1+1",
            "+1",
            "-1",
            "@SUM(1)",
            "\\tMale",
            "\\rMale",
            "Ma\\u202Ele",
            "Male\\u2067",
            "Ma\\u001Ble",
            "Ma\\nle",
            "Ma\\u0085le",
        ] {
            let line =
                format!("Gender = {{ field = \"row.Gender\", values = [\"Female\", \"{bad}\"] }}");
            let e = with_gender(&line).unwrap_err().to_string();
            assert!(
                e.contains("formula") || e.contains("control") || e.contains("white space"),
                "{bad}: {e}"
            );
            assert!(e.contains("value 2"), "{bad}: {e}");
        }
        for (line, want) in [
            ("Gender = { field = \"row.Gender\", values = [] }", "empty"),
            ("Gender = { field = \"row.Gender\", values = [\"Male\", \"Male\"] }", "twice"),
            ("Gender = { field = \"row.Gender\", values = [\"Male\"], map = { F = \"Female\" } }", "does not declare"),
            ("Gender = { field = \"row.Gender\", values = [\"Male\", \"M\"], map = { M = \"Male\" } }", "itself a declared value"),
        ] {
            let e = with_gender(line).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        let ok = with_gender(
            "Gender = { field = \"row.Gender\", values = [\"Female\", \"Male\"], map = { F = \"Female\", M = \"Male\" } }",
        )
        .unwrap();
        let c = &ok.categories[0];
        assert_eq!(c.released("Male"), Some("Male"));
        assert_eq!(c.released("M"), Some("Male"));
        assert_eq!(c.released("male"), None);
        assert_eq!(c.released("=1+1"), None);
    }

    #[test]
    fn a_derived_category_has_fixed_values_and_dataset_texts_are_checked() {
        let path = repo("pipelines/freesewing-v3.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let pl = Pipeline::parse(&text, &path).unwrap();
        assert_eq!(pl.categories[0].values, ["false", "true"]);
        let old = "has_breasts = { derive = \"breasts-only-present\" }";
        let bad = text.replace(
            old,
            "has_breasts = { derive = \"breasts-only-present\", values = [\"yes\", \"no\"] }",
        );
        let e = Pipeline::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("derived category"), "{e}");
        let bad = text.replacen("title = \"", "title = \"\\u202E", 1);
        let e = Pipeline::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("[dataset] title holds a bidirectional"), "{e}");
    }

    #[test]
    fn parent_role_covers_children() {
        let pl = Pipeline::load(&repo("pipelines/freesewing-v2.toml")).unwrap();
        assert_eq!(
            pl.role("user", "social.github").unwrap().0,
            Role::Identifier
        );
        assert_eq!(pl.role("user", "consent.openData").unwrap().0, Role::Filter);
        assert!(pl.role("user", "consent.newThing").is_none());
        assert!(pl.role("user", "phone").is_none());
    }
}
