//! `opentape diff`: what changed between two releases.

use super::crate_result::Result;
use opentape::publish::versions;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    about = "Compare two releases: schema changes, row counts, parameter changes, and per-measurement mean and standard deviation shifts.",
    after_help = "Examples:\n  opentape diff releases/1.0.0 releases/1.1.0\n  opentape diff releases/1.0.0 releases/2.0.0 --json"
)]
pub struct Args {
    /// The earlier release folder.
    pub a: PathBuf,
    /// The later release folder.
    pub b: PathBuf,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Released mean and std per (stratum, measurement), from the manifest's utility section.
fn moments(m: &Value) -> Vec<(String, String, f64, f64)> {
    let mut out = Vec::new();
    for s in m["utility"]["strata"].as_array().into_iter().flatten() {
        let stratum = s["categories"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        for (name, v) in s["measurements"].as_object().into_iter().flatten() {
            if let (Some(mean), Some(std)) = (v["mean"][1].as_f64(), v["std"][1].as_f64()) {
                out.push((stratum.clone(), name.clone(), mean, std));
            }
        }
    }
    out
}

pub fn run(a: Args) -> Result<i32> {
    let (ma, mb) = (
        versions::read_manifest(&a.a)?,
        versions::read_manifest(&a.b)?,
    );
    let c = versions::compare(&ma, &mb);
    let (pa, pb) = (moments(&ma), moments(&mb));
    let shifts: Vec<Value> = pb
        .iter()
        .filter_map(|(s, n, mean, std)| {
            let (_, _, m0, s0) = pa.iter().find(|(s2, n2, ..)| s2 == s && n2 == n)?;
            Some(
                json!({"stratum": s, "measurement": n, "mean": [m0, mean], "mean_shift": mean - m0,
                        "std": [s0, std], "std_shift": std - s0}),
            )
        })
        .collect();
    let report = json!({
        "a": a.a, "b": a.b,
        "version": [ma["dataset"]["version"], mb["dataset"]["version"]],
        "columns_added": c.columns_added, "columns_removed": c.columns_removed,
        "rows": [c.rows_before, c.rows_after],
        "values_changed": c.values_changed,
        "parameters_changed": c.parameters,
        "needed_bump": c.level().to_string(),
        "measurement_shifts": shifts,
    });
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&report).expect("JSON"));
        return Ok(0);
    }
    outln!("{} -> {}", a.a.display(), a.b.display());
    outln!(
        "versions        {} -> {}",
        ma["dataset"]["version"],
        mb["dataset"]["version"]
    );
    outln!("rows            {} -> {}", c.rows_before, c.rows_after);
    outln!(
        "columns added   {}",
        if c.columns_added.is_empty() {
            "none".into()
        } else {
            c.columns_added.join(", ")
        }
    );
    outln!(
        "columns removed {}",
        if c.columns_removed.is_empty() {
            "none".into()
        } else {
            c.columns_removed.join(", ")
        }
    );
    outln!("values changed  {}", c.values_changed);
    outln!("change needs    a {} version bump", c.level());
    for p in &c.parameters {
        outln!("parameter       {p}");
    }
    outln!("\nper measurement (released mean and std, a -> b):");
    for s in &shifts {
        outln!(
            "  {:<28} {:<20} mean {:>8.1} -> {:>8.1} ({:+.2})   std {:>7.2} -> {:>7.2} ({:+.2})",
            s["measurement"].as_str().unwrap_or(""),
            s["stratum"].as_str().unwrap_or(""),
            s["mean"][0].as_f64().unwrap_or(0.0),
            s["mean"][1].as_f64().unwrap_or(0.0),
            s["mean_shift"].as_f64().unwrap_or(0.0),
            s["std"][0].as_f64().unwrap_or(0.0),
            s["std"][1].as_f64().unwrap_or(0.0),
            s["std_shift"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(0)
}
