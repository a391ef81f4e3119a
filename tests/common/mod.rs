//! Test helpers: an isolated work folder and the real binary run inside it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The date the shipped samples were made: the retention filter's `--as-of` in tests.
pub const AS_OF: &str = "2026-11-29";
/// The noise key of the tests (the golden cases were made with it).
pub const KEY: &str = "test-key-0123456789abcdef-not-secret";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn opentape(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_opentape"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run opentape");
    Run::from(out)
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `dropped[stage][reason]` from an inspect JSON summary, 0 when absent.
pub fn dropped(summary: &serde_json::Value, stage: &str, reason: &str) -> u64 {
    summary["dropped"][stage][reason].as_u64().unwrap_or(0)
}

/// A copy of a shipped pipeline in `dir`, with text replacements applied and its relative
/// paths (catalog, default input) made absolute so it works from there.
pub fn edited_pipeline(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    let root = repo().display().to_string();
    let mut text = std::fs::read_to_string(repo().join(format!("pipelines/{name}.toml"))).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}.toml has no `{from}`");
        text = text.replace(from, to);
    }
    let text = text
        .replace("\"../schemas/", &format!("\"{root}/schemas/"))
        .replace("\"../data-samples/", &format!("\"{root}/data-samples/"));
    let p = dir.join(format!("{name}-edited-{}.toml", edits.len()));
    std::fs::write(&p, text).unwrap();
    p
}

/// `opentape release` of `pipeline` (a path in the repository) as `version` into `out`,
/// at the samples' date, run from the repository with `key` as the noise key; add
/// arguments (`--input`, `--private-dir`, ...) before running it.
pub fn release_cmd(pipeline: &str, version: &str, out: &Path, key: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_opentape"));
    c.current_dir(repo())
        .args(["release", "--pipeline", pipeline, "--version", version])
        .args(["--as-of", AS_OF, "--quiet", "--out"])
        .arg(out)
        .env("OPENTAPE_NOISE_KEY", key);
    c
}
