//! Pipeline files (`pipelines/*.toml`): what to read, the role of every input field, the
//! filters and the release parameters. Parsed strictly: an unknown key is an error that
//! names its line, so a typo can never silently switch a protection off.

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    FreesewingV3,
    FreesewingV2,
    Table,
}

impl Format {
    /// The record kinds ("entities") whose fields need roles.
    pub fn entities(self) -> &'static [&'static str] {
        match self {
            Format::FreesewingV3 => &["set", "user"],
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
}

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
    pub retention: Retention,
    pub dedupe: Dedupe,
    pub plausibility: Plausibility,
}

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
    #[serde(default = "default_representation")]
    pub representation: Representation,
    /// How class means are moved before rounding and noise (centroid only): `none` (plain
    /// class means) or `restore` (one linear map per stratum toward the eligible data's
    /// covariance, with strength `moments_strength` between 0 = none and 1 = full).
    /// Default: `restore` for centroid releases (at the default strength), `none` for ranges.
    #[serde(default, rename = "moments")]
    moments_setting: Option<Moments>,
    /// The method in force, resolved from the setting and the representation.
    #[serde(skip)]
    pub moments: Moments,
    #[serde(default = "default_strength")]
    pub moments_strength: f64,
    /// Scale of the discrete Laplace noise added to each class centroid, in units of each
    /// measurement's resolution (mm). 0 = no noise.
    #[serde(default)]
    pub noise_scale: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Moments {
    #[default]
    None,
    Restore,
}

/// The default restoration strength: the strongest map tried whose anonymeter
/// singling-out and linkability risks stay at or below 0.03 on ANSUR II at k = 10 for
/// every attack seed tried (0.8 and 0.9 exceed it for one seed; BENCHMARKS.md, issue 5).
pub const DEFAULT_STRENGTH: f64 = 0.7;

fn default_strength() -> f64 {
    DEFAULT_STRENGTH
}

fn default_representation() -> Representation {
    Representation::Centroid
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    dataset: Dataset,
    input: Input,
    roles: BTreeMap<String, BTreeMap<String, Role>>,
    #[serde(default)]
    categories: BTreeMap<String, CategoryDef>,
    filters: Filters,
    release: Release,
}

/// A category after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategorySource {
    Field { entity: String, path: String },
    BreastsOnlyPresent,
}

#[derive(Debug, Clone)]
pub struct Category {
    pub name: String,
    pub source: CategorySource,
}

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
            categories.push(Category {
                name: name.clone(),
                source,
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
        match (&c.field, c.at_least, &c.equals, &c.waived) {
            (Some(f), Some(_), None, None) | (Some(f), None, Some(_), None) => {
                check_field("[filters.consent]", f, Role::Filter)?
            }
            (None, None, None, Some(_)) => {}
            _ => {
                return Err(err(
                    "[filters.consent]: give `field` with `at_least` or `equals`, or `waived = \"why\"`".into(),
                ))
            }
        }
        let r = &file.filters.retention;
        match (&r.field, r.max_age_days, &r.waived) {
            (Some(f), Some(_), None) => check_field("[filters.retention]", f, Role::Filter)?,
            (None, None, Some(_)) => {}
            _ => {
                return Err(err(
                    "[filters.retention]: give `field` and `max_age_days`, or `waived = \"why\"`"
                        .into(),
                ))
            }
        }
        let share = |v: f64| (0.0..=1.0).contains(&v);
        if !share(file.filters.plausibility.max_rejected) || !share(file.release.max_suppressed) {
            return Err(err(
                "max_rejected and max_suppressed are shares between 0 and 1".into(),
            ));
        }
        if !(0.0..=1000.0).contains(&file.release.noise_scale) {
            return Err(err(
                "[release] noise_scale must be between 0 and 1000".into()
            ));
        }
        if !(0.0..=1.0).contains(&file.release.moments_strength) {
            return Err(err(
                "[release] moments_strength must be between 0 and 1".into()
            ));
        }
        let mut file = file;
        file.release.moments =
            match (file.release.moments_setting, file.release.representation) {
                (Some(Moments::Restore), Representation::Range) => return Err(err(
                    "[release] moments = \"restore\" applies to the centroid representation only"
                        .into(),
                )),
                (Some(m), _) => m,
                (None, Representation::Centroid) => Moments::Restore,
                (None, Representation::Range) => Moments::None,
            };
        if file.release.k < 2 {
            return Err(err("[release] k must be at least 2".into()));
        }

        let measurements = if file.release.measurements.is_empty() {
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

        Ok(Pipeline {
            path: path.to_path_buf(),
            dataset: file.dataset,
            format,
            default_inputs: file.input.default.iter().map(|p| base.join(p)).collect(),
            catalog,
            catalog_path,
            roles: file.roles,
            categories,
            filters: file.filters,
            release: file.release,
            measurements,
            breasts_category,
        })
    }

    /// The qualified fields (`entity.path`) read by filters, in a fixed order.
    pub fn filter_fields(&self) -> Vec<String> {
        let c = self.filters.consent.field.iter();
        c.chain(self.filters.retention.field.iter())
            .cloned()
            .collect()
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

    /// As [`Pipeline::applies`], for category values that may be missing (as read).
    pub fn applies_to(&self, measurement: usize, categories: &[Option<String>]) -> bool {
        !self.catalog.measurements[measurement].breasts_only
            || self
                .breasts_category
                .is_none_or(|c| categories.get(c).and_then(Option::as_deref) == Some("true"))
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
