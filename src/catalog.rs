//! The measurement catalog: names, units, plausible ranges, breasts-only flags and legacy
//! aliases. Read at run time from `schemas/*.toml` so a new measurement needs no rebuild.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurement {
    pub name: String,
    pub unit: String,
    pub min: f64,
    pub max: f64,
    /// Released values are rounded to a multiple of this (1 = whole mm).
    pub resolution: f64,
    pub breasts_only: bool,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    name: String,
    #[serde(default)]
    retired: Vec<String>,
    measurement: Vec<Measurement>,
}

/// What a key found in a measurement container means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Index into `Catalog::measurements`.
    Known(usize),
    /// A legacy name with no current equivalent: dropped and counted.
    Retired,
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub name: String,
    pub measurements: Vec<Measurement>,
    by_name: HashMap<String, Lookup>,
}

impl Catalog {
    pub fn load(path: &Path) -> Result<Catalog> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Catalog::parse(&text).map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_name = HashMap::new();
        for (i, m) in file.measurement.iter().enumerate() {
            if m.min.partial_cmp(&m.max) != Some(std::cmp::Ordering::Less) || m.resolution <= 0.0 {
                return Err(format!(
                    "measurement `{}`: need min < max and resolution > 0",
                    m.name
                ));
            }
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                if by_name.insert(n.clone(), Lookup::Known(i)).is_some() {
                    return Err(format!("measurement name or alias `{n}` is declared twice"));
                }
            }
        }
        for r in &file.retired {
            if by_name.insert(r.clone(), Lookup::Retired).is_some() {
                return Err(format!("retired name `{r}` is also a measurement name"));
            }
        }
        Ok(Catalog {
            name: file.name,
            measurements: file.measurement,
            by_name,
        })
    }

    pub fn lookup(&self, name: &str) -> Lookup {
        self.by_name.get(name).copied().unwrap_or(Lookup::Unknown)
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        match self.lookup(name) {
            Lookup::Known(i) if self.measurements[i].name == name => Some(i),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_catalog(name: &str) -> Catalog {
        Catalog::load(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schemas")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn freesewing_catalog_has_38_measurements_with_aliases() {
        let c = repo_catalog("freesewing-measurements.toml");
        assert_eq!(c.measurements.len(), 38);
        let chest = c.index("chest").unwrap();
        assert_eq!(c.lookup("chestCircumference"), Lookup::Known(chest));
        assert_eq!(
            c.lookup("seatDepth"),
            Lookup::Known(c.index("crotchDepth").unwrap())
        );
        assert_eq!(c.lookup("hpsToHipsBack"), Lookup::Retired);
        assert_eq!(c.lookup("favouriteColour"), Lookup::Unknown);
        let slope = &c.measurements[c.index("shoulderSlope").unwrap()];
        assert_eq!(slope.unit, "deg");
        let bust = &c.measurements[c.index("bustSpan").unwrap()];
        assert!(bust.breasts_only);
        // An alias is not a canonical name.
        assert_eq!(c.index("naturalWaist"), None);
    }

    #[test]
    fn ansur_catalog_has_93_measurements() {
        assert_eq!(
            repo_catalog("ansur2-measurements.toml").measurements.len(),
            93
        );
    }

    #[test]
    fn catalog_rejects_duplicates_and_bad_ranges() {
        let m = |name: &str, min: i32, max: i32| {
            format!("[[measurement]]\nname = \"{name}\"\nunit = \"mm\"\nmin = {min}\nmax = {max}\nresolution = 1\nbreasts_only = false\ndescription = \"x\"\n")
        };
        let dup = format!("name = \"t\"\n{}{}", m("a", 1, 2), m("a", 1, 2));
        assert!(Catalog::parse(&dup).unwrap_err().contains("twice"));
        let bad = format!("name = \"t\"\n{}", m("a", 5, 2));
        assert!(Catalog::parse(&bad).unwrap_err().contains("min < max"));
    }
}
