//! What a run of the checker reports: a verdict per check, or a read error.

use crate::prelude::*;

/// A usage or I/O problem: the release could not be read at all (exit code 2).
#[derive(Debug)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

pub(crate) fn rerr(path: &Path, e: impl fmt::Display) -> ReadError {
    ReadError(format!("{}: {e}", path.display()))
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub ok: bool,
    /// One line: the figures behind the verdict.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The check's figures, where it has more than the detail line says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub release: PathBuf,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| !c.ok).map(|c| c.id).collect()
    }

    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(
                f,
                "{} {:<10} {}",
                if c.ok { "PASS" } else { "FAIL" },
                c.id,
                c.detail
            )?;
            for p in c.problems.iter().take(5) {
                writeln!(f, "     {:<10} - {p}", "")?;
            }
            if c.problems.len() > 5 {
                writeln!(f, "     {:<10} - ... and {} more", "", c.problems.len() - 5)?;
            }
        }
        write!(
            f,
            "{}: {}",
            self.release.display(),
            if self.ok {
                "all guarantees hold"
            } else {
                "GUARANTEES FAIL"
            }
        )
    }
}

pub(crate) fn check(id: &'static str, problems: Vec<String>, detail: String) -> Check {
    Check {
        id,
        ok: problems.is_empty(),
        detail,
        problems,
        figures: None,
    }
}

/// The report as JSON, for CI.
pub fn to_json(r: &Report) -> Value {
    json!(r)
}
