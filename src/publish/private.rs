//! The private run folder: where dropped records were and why, and which released row
//! each person's class got. Never next to a release.

use super::layout;
use crate::anonymize::{Partition, Table};
use crate::error::{Error, Result};
use crate::filter::Eligible;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Refuses a private folder inside the release folder, lexically and, once both exist,
/// after resolving symbolic links.
pub fn check_private_dir(dir: &Path, out: &Path) -> Result<()> {
    let lexical = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| lexical(p));
    if lexical(dir).starts_with(lexical(out)) || resolved(dir).starts_with(resolved(out)) {
        return Err(Error::Usage(format!(
            "--private-dir {} is inside the release folder {}: private outputs never go next to a release",
            dir.display(),
            out.display()
        )));
    }
    Ok(())
}

/// Quarantined and dropped records (where they were and why; no values) for the private
/// run folder. Never written next to a release.
pub fn write_private(dir: &Path, out: &Path, e: &Eligible) -> Result<PathBuf> {
    check_private_dir(dir, out)?;
    std::fs::create_dir_all(dir).map_err(|er| Error::io(dir, er))?;
    check_private_dir(dir, out)?;
    let path = dir.join(layout::DROPPED);
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(&path).map_err(|er| Error::io(&path, er))?);
    let mut text = String::from("record,field,stage,reason\n");
    for d in &e.dropped {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        text.push_str(&format!(
            "{},{},{},{}\n",
            q(&e.describe(d.at)),
            q(d.field.as_deref().unwrap_or("")),
            d.reason.stage().name(),
            d.reason.name()
        ));
    }
    w.write_all(text.as_bytes())
        .and_then(|_| w.flush())
        .map_err(|er| Error::io(&path, er))?;
    Ok(path)
}

/// Which released row each eligible person's class got (`membership.csv` in the private
/// folder): what `opentape verify --source` needs to recompute owners per class and to
/// score nearest-neighbour linkage against the true classes. Private: it links records
/// to rows. `kept`: the first classes, kept with their rows from the previous version of
/// a series (`kept` = 1: checked when they were made, with the owners they had then).
pub fn write_membership(
    dir: &Path,
    e: &Eligible,
    part: &Partition,
    t: &Table,
    kept: usize,
) -> Result<()> {
    let mut rows: Vec<(u32, String)> = Vec::with_capacity(e.people.len());
    for (ci, c) in part.classes.iter().enumerate() {
        let k = u8::from(ci < kept);
        for &m in &c.members {
            rows.push((m, format!("{ci},{},{k}", t.class_rows[ci])));
        }
    }
    for &m in &part.suppressed {
        rows.push((m, ",,0".into()));
    }
    rows.sort_unstable();
    let mut text = String::from("record,class,row,kept\n");
    for (m, rest) in rows {
        let rec = e.record_key(e.people.at(m as usize)).replace('"', "\"\"");
        text.push_str(&format!("\"{rec}\",{rest}\n"));
    }
    let path = dir.join(layout::MEMBERSHIP);
    std::fs::write(&path, text).map_err(|er| Error::io(&path, er))
}

/// The released rows against the eligible people themselves (`utility.json` in the private
/// folder): the exact comparison, which the published documents replace with the noisy
/// figures because exact figures of the current people can be differenced across versions.
pub fn write_utility(
    dir: &Path,
    out: &Path,
    pl: &crate::pipeline::Pipeline,
    part: &Partition,
    exact: &crate::assess::utility::Analysis,
) -> Result<()> {
    check_private_dir(dir, out)?;
    let mut v = super::manifest::utility(pl, part, exact, false);
    if let Some(p) = &exact.pooled {
        // The whole table per measurement and pair, as the manifest's `utility.pooled`
        // gives it against the noisy figures; here against the people themselves.
        let pct = |a: f64, b: f64| 100.0 * (a - b) / b.abs().max(1e-9);
        let big = |x: &&crate::assess::pooled::MeasurementFigures| {
            x.holders >= pl.release.k && x.released >= crate::assess::pooled::PAIR_PEOPLE
        };
        let worst = |f: &dyn Fn(&crate::assess::pooled::MeasurementFigures) -> f64| {
            p.measurements
                .iter()
                .filter(big)
                .map(f)
                .fold(0.0f64, f64::max)
        };
        v["pooled"] = serde_json::json!({
            "worst": {
                "mean_error_pct": worst(&|x| pct(x.released_moments.0, x.holders_moments.0).abs()),
                "std_error_pct": worst(&|x| pct(x.released_moments.1, x.holders_moments.1).abs()),
                "correlation_change": p.pairs.max_change,
            },
            "selection": {
                "what": "the released people's own values against the holders': what choosing who is released with which measurement does, before anonymization",
                "mean_error_pct": worst(&|x| pct(x.own_moments.0, x.holders_moments.0).abs()),
                "std_error_pct": worst(&|x| pct(x.own_moments.1, x.holders_moments.1).abs()),
            },
        });
    }
    let path = dir.join(layout::UTILITY);
    std::fs::write(&path, super::manifest::pretty(&v)).map_err(|er| Error::io(&path, er))
}
