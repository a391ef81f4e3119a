//! manifest.json: parameters, counts per stage and reason, classes, utility, files.

use super::facts::Facts;
use crate::error::{Error, Result};
use crate::pipeline::{Moments, PartitionSpace, Pipeline};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) fn manifest(f: &Facts, files: &[(String, u64, String)]) -> Value {
    let pl = f.pl;
    let mut sizes = f.partition.class_sizes();
    sizes.sort_unstable();
    let owners_min = f
        .partition
        .classes
        .iter()
        .map(|c| c.owners)
        .min()
        .unwrap_or(0);
    let median = if sizes.is_empty() {
        0
    } else {
        sizes[sizes.len() / 2]
    };
    let c = &pl.filters.consent;
    let r = &pl.filters.retention;
    let mut m = json!({
        "tool": "opentape",
        "tool_version": env!("CARGO_PKG_VERSION"),
        "dataset": {
            "name": pl.dataset.name,
            "title": pl.dataset.title,
            "description": pl.dataset.description,
            "license": pl.dataset.license,
            "version": f.version,
            "created": f.created,
        },
        "parameters": {
            "pipeline": pl.path.file_name().map(|p| p.to_string_lossy().into_owned()),
            "format": format!("{:?}", pl.format),
            "k": pl.release.k,
            "k_counts": "distinct owners",
            "partitioning": match pl.release.partition_space {
                PartitionSpace::Standardized => "strict multidimensional Mondrian over standardized measurements, within each category combination",
                PartitionSpace::Whitened => "strict multidimensional Mondrian over whitened measurements (z-scores decorrelated to unit variance; standardized where a category combination has no more than twice as many people as measurements), within each category combination",
            },
            "partition_space": pl.release.partition_space,
            "cut": pl.release.cut,
            "representation": pl.release.representation,
            "moments": moments_parameters(pl),
            "noise": {
                "distribution": "discrete Laplace (exact sampler), once per class and column",
                "scale": pl.release.noise_scale,
                "unit": "measurement resolution",
                "keyed": "HMAC-SHA256(key, series, column, class members' owner pseudonyms)",
                "reproducible": f.reproducible,
            },
            "max_suppressed": pl.release.max_suppressed,
            "max_rejected": pl.filters.plausibility.max_rejected,
            "filters": {
                "consent": match (&c.field, c.at_least, &c.equals, &c.waived) {
                    (_, _, _, Some(w)) => json!({"waived": w}),
                    (Some(f), Some(n), _, _) => json!({"field": f, "at_least": n}),
                    (Some(f), _, Some(v), _) => json!({"field": f, "equals": v.to_string()}),
                    _ => Value::Null,
                },
                "retention": match (&r.field, r.max_age_days, &r.waived) {
                    (_, _, Some(w)) => json!({"waived": w}),
                    (Some(field), Some(d), _) => json!({"field": field, "max_age_days": d, "as_of": f.as_of}),
                    _ => Value::Null,
                },
                "dedupe_tolerance": pl.filters.dedupe.tolerance,
            },
        },
        "counts": {
            "records_read": f.counts.records_read,
            "users_read": f.counts.users_read,
            "dropped": f.counts.tally,
            "eligible_people": f.counts.eligible_people,
            "eligible_owners": f.counts.eligible_owners,
            "suppressed": f.partition.suppressed.len(),
            "released_rows": f.table.rows(),
            "classes": f.partition.classes.len(),
            "class_size": {"min": sizes.first(), "median": median, "max": sizes.last()},
            "owners_per_class_min": owners_min,
            "clamped_values": f.table.clamped,
            "rows_moved_off_source_records": f.table.moved,
        },
        "utility": crate::assess::utility::utility(pl, f.partition, f.analysis),
        "columns": {
            "categories": f.table.category_names,
            "measurements": f.table.columns,
            "constraints": constraints(pl),
        },
        "files": files.iter().map(|(name, bytes, sha)| json!({"name": name, "bytes": bytes, "sha256": sha})).collect::<Vec<_>>(),
    });
    // Rules only some pipelines have: added where they apply, so other manifests keep
    // their bytes.
    if let Some(a) = &pl.filters.account {
        m["parameters"]["filters"]["account"] = json!({
            "status": a.status_field.as_ref().map(|f| json!({"field": f, "kept": a.active.as_ref().and_then(|v| serde_json::to_value(v).ok())})),
            "role": a.role_field.as_ref().map(|f| json!({"field": f, "refused": a.refused_roles})),
            "test_accounts": a.email_field.as_ref().map(|f| json!({"field": f, "domains": a.test_domains})),
        });
    }
    if !c.also_true.is_empty() || !c.any_true.is_empty() {
        m["parameters"]["filters"]["consent"]["also_true"] = json!(c.also_true);
        m["parameters"]["filters"]["consent"]["any_true"] = json!(c.any_true);
    }
    if let (Some(v), Some(n)) = (c.count_value, f.counts.consent_value_owners) {
        m["parameters"]["filters"]["consent"]["counted_value"] = json!(v);
        m["counts"]["eligible_owners_with_counted_consent"] = json!(n);
    }
    m
}

/// Per released column: unit and plausible range (in released units), from the catalog.
fn constraints(pl: &Pipeline) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for &i in &pl.measurements {
        let def = &pl.catalog.measurements[i];
        let c = json!({
            "unit": def.unit,
            "resolution": def.resolution,
            "minimum": (def.min / def.resolution).round() as i64,
            "maximum": (def.max / def.resolution).round() as i64,
            "breasts_only": def.breasts_only,
        });
        match pl.release.representation {
            crate::pipeline::Representation::Centroid => {
                m.insert(def.name.clone(), c);
            }
            crate::pipeline::Representation::Range => {
                m.insert(format!("{}_min", def.name), c.clone());
                m.insert(format!("{}_max", def.name), c);
            }
        }
    }
    m
}

pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h).map_err(|e| Error::io(path, e))?;
    Ok((n, hex::encode(h.finalize())))
}

pub(crate) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON") + "\n"
}

/// The manifest's record of how class values are placed (method and parameters).
fn moments_parameters(pl: &Pipeline) -> Value {
    let r = &pl.release;
    match r.moments {
        Moments::None => json!({
            "method": "none",
            "summary": r.moments_summary(),
            "rounding": "nearest grid step",
        }),
        Moments::Restore => json!({
            "method": "restore",
            "summary": r.moments_summary(),
            "strength": r.moments_strength,
            "rounding": "nearest grid step",
        }),
        Moments::Quantile => json!({
            "method": "quantile",
            "summary": r.moments_summary(),
            "rounds": r.quantile_rounds,
            "quantile_smoothing": format!("each value handed out is the mean of {} people's sorted values (k)", r.k),
            "exact": "mean and covariance of each category combination with more classes than measurements; with fewer, the closest covariance of the classes' rank (the correlation's smallest components dropped)",
            "noise": "added before the last exact map, which absorbs its variance",
            "rounding": "mean-exact: each value down or up by less than one step, so each measurement's weighted sum stays on target",
        }),
    }
}
