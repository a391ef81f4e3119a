//! `k`: every combination of released values appears at least k times.

use crate::prelude::*;

pub(crate) fn check_k(manifest: &Value, g: &Grouped, min_k: usize) -> Check {
    let claimed = manifest["parameters"]["k"].as_u64().unwrap_or(0) as usize;
    let k = claimed.max(min_k).max(2);
    let min = g.count.iter().copied().min().unwrap_or(0);
    let mut problems: Vec<String> = g
        .count
        .iter()
        .filter(|&&n| (n as usize) < k)
        .map(|n| format!("a combination of quasi-identifier values appears {n} times"))
        .collect();
    if claimed == 0 {
        problems.push("the manifest states no k".into());
    }
    check(
        "k",
        problems,
        format!(
            "smallest group {min} >= k {k} ({} rows, {} distinct)",
            g.len(),
            g.rows.len()
        ),
    )
}
