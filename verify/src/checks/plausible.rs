//! `plausible`: every value lies in its declared range.

use crate::prelude::*;

pub(crate) fn check_plausible(manifest: &Value, g: &Grouped) -> Check {
    let cons = &manifest["columns"]["constraints"];
    let mut problems = Vec::new();
    let (_, meas) = claimed_columns(manifest);
    let mut checked = 0u64;
    let first = g.first_rows();
    for (j, name) in g.columns.iter().enumerate() {
        if !meas.contains(name) {
            continue;
        }
        let (Some(lo), Some(hi)) = (
            cons[name]["minimum"].as_i64(),
            cons[name]["maximum"].as_i64(),
        ) else {
            problems.push(format!("no declared range for `{name}`"));
            continue;
        };
        for (gi, r) in g.rows.iter().enumerate() {
            let v = r[j];
            if v == table::NULL {
                continue;
            }
            checked += g.count[gi];
            let i = first[gi];
            if g.text[j] {
                problems.push(format!("row {i}, `{name}`: not an integer"));
            } else if v < lo || v > hi {
                problems.push(format!("row {i}, `{name}`: outside [{lo}, {hi}]"));
            }
        }
    }
    check(
        "plausible",
        problems,
        format!("{checked} values inside their declared ranges"),
    )
}
