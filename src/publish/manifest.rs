//! manifest.json: parameters, counts per stage and reason, classes, utility, files.

use super::facts::Facts;
use crate::anonymize::Partition;
use crate::assess::utility::{category_values, round, Analysis};
use crate::error::{Error, Result};
use crate::pipeline::{ConsentRule, Moments, PartitionSpace, Pipeline, RetentionRule};
use serde_json::Map;
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
            "format": pl.format.name(),
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
                "keyed": "HMAC-SHA256(key, column, HMAC-SHA256(key, series, class members' owner pseudonyms))",
                "reproducible": f.reproducible,
            },
            "max_suppressed": pl.release.max_suppressed,
            "max_rejected": pl.filters.plausibility.max_rejected,
            "filters": {
                "consent": match &pl.filters.consent.rule {
                    ConsentRule::Waived(w) => json!({"waived": w}),
                    ConsentRule::AtLeast { field, min } => json!({"field": field, "at_least": min}),
                    ConsentRule::Equals { field, value } => json!({"field": field, "equals": value.to_string()}),
                },
                "retention": match &pl.filters.retention {
                    RetentionRule::Waived(w) => json!({"waived": w}),
                    RetentionRule::MaxAge { field, days } => json!({"field": field, "max_age_days": days, "as_of": f.as_of}),
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
        "utility": utility(pl, f.partition, f.analysis, true),
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
    if let Some(p) = &f.analysis.pooled {
        sparse(&mut m, f, p);
    }
    m["series"] = series(f);
    m
}

/// The manifest's `series`: what this version is to the one before it, and the budget.
fn series(f: &Facts) -> Value {
    let s = f.series;
    let p = &f.pl.series;
    json!({
        "kind": s.kind,
        "rule": "a patch version keeps every row of the previous version (people who left keep their rows, new people wait); a minor version adds classes made among new people only; a major version re-cuts everyone with fresh noise. Every figure computed from the people (class rows' moment targets, the documents' figures) carries Gaussian noise; spreads and correlations are measured once per series and carried over",
        "new_classes": s.new_classes,
        "people_left": s.left,
        "rows_of_people_who_left": s.counterfeit_rows,
        "people_over_budget_left_out": s.over_budget,
        "spreads": if s.spreads_measured { "measured in this version" } else { "carried over from the series" },
        "noise": {
            "frame": "each measurement centred on its catalog range's midpoint, in units of an eighth of its half-range",
            "count_sd": p.count_noise,
            "sum_sd_units": p.sum_noise,
            "square_sd_units2": p.square_noise,
            "clip_units_per_sqrt_d": p.clip,
        },
        "budget": {
            "accounting": "zero-concentrated differential privacy (rho), added over versions per owner",
            "figures_per_version": round(s.budget_figures, 1),
            "spreads_once": round(s.budget_spread, 1),
            "this_version_per_person": round(s.version_cost, 1),
            "series_max_per_person": round(s.spent_max, 1),
            "cap_per_person": s.cap,
            "over_cap": p.over_budget,
            "meaning": s.sentence(),
        },
    })
}

/// What a release of people holding different measurements adds: its patterns, the values
/// it suppressed per measurement, and its figures per measurement and pair over the whole
/// table (absent from a complete table's manifest, whose bytes stay as they were).
fn sparse(m: &mut Value, f: &Facts, p: &crate::assess::pooled::Pooled) {
    let pl = f.pl;
    let k = pl.release.k;
    let part = f.partition;
    let name = |pos: usize| pl.catalog.measurements[pl.measurements[pos]].name.clone();
    let pl_plaus = &pl.filters.plausibility;
    m["parameters"]["patterns"] = json!({
        "chosen": "from the data, per category combination: measurement patterns (the columns a row holds) each held whole by at least min_pattern_owners distinct owners; a person is released in the largest chosen pattern their record holds, their other values null",
        "min_pattern_owners": pl.release.min_pattern_owners,
        "min_measurements": pl_plaus.min_measurements,
        "calibration": "class rows of a category combination's patterns moved together so that each measurement's mean and standard deviation over the rows holding it, and each pair's correlation (and means and spreads) over the rows holding both, are those of the eligible people holding it (both), suppressed values included",
    });
    let suppressed_values: usize = p
        .measurements
        .iter()
        .map(|x| x.holders.saturating_sub(x.released))
        .sum();
    m["counts"]["patterns"] = json!(part.patterns().len());
    m["counts"]["missing_values"] = json!(p.missing_values);
    m["counts"]["suppressed_values"] = json!(suppressed_values);
    m["counts"]["people_without_pattern"] = json!(part.unplaced);
    m["counts"]["people_of_classes_suppressed_on_records"] = json!(part.withdrawn);
    let mut per = Map::new();
    let (mut worst_mean, mut worst_std) = (0.0f64, 0.0f64);
    let pct = |a: f64, b: f64| 100.0 * (a - b) / b.abs().max(1e-9);
    for x in &p.measurements {
        let mut v = json!({
            "holders": x.holders,
            "released": x.released,
            "suppressed": x.holders.saturating_sub(x.released),
        });
        // Figures of fewer than k people are not published.
        if x.holders >= k && x.released >= k {
            let (hm, hs) = x.holders_moments;
            let (rm, rs) = x.released_moments;
            let (me, se) = (pct(rm, hm), pct(rs, hs));
            if x.released >= crate::assess::pooled::PAIR_PEOPLE {
                worst_mean = worst_mean.max(me.abs());
                worst_std = worst_std.max(se.abs());
            }
            v["mean"] = json!([round(hm, 2), round(rm, 2)]);
            v["mean_error_pct"] = json!(round(me, 3));
            v["std"] = json!([round(hs, 2), round(rs, 2)]);
            v["std_error_pct"] = json!(round(se, 2));
        }
        per.insert(name(x.pos), v);
    }
    m["measurements"] = Value::Object(per);
    let pairs = &p.pairs;
    m["utility"]["pooled"] = json!({
        "compared_with": format!("the whole table, pairwise complete: per measurement released for at least {} people, the rows holding it against the release's noisy figures of the eligible people holding it (suppressed values included); per pair released together for at least {} people, the rows holding both against the noisy figures of the eligible people holding both", crate::assess::pooled::PAIR_PEOPLE, crate::assess::pooled::PAIR_PEOPLE),
        "worst": {
            "mean_error_pct": round(worst_mean, 3),
            "std_error_pct": round(worst_std, 2),
            "correlation_change": round(pairs.max_change, 4),
        },
        "correlation_change": {
            "pairs": pairs.pairs,
            "max": round(pairs.max_change, 4),
            "median": round(pairs.median_change, 4),
            "worst_pair": pairs.worst.map(|(a, b, n)| json!([name(a), name(b), n])),
        },
        "selection": "the released people's own values against the holders' (what choosing who is released with which measurement does, before anonymization) are exact figures of the people: in the private folder only",
    });
    m["utility"]["compared_with"] = json!(format!("per category combination, pooled over its measurement patterns: the rows holding each measurement against the release's noisy figures of the eligible people holding it (series.figures), suppressed values included; correlations pairwise complete, for pairs released together for at least {} people. No exact figure of the eligible people is published; the exact comparison is in the private folder (utility.json)", crate::assess::pooled::PAIR_PEOPLE));
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

/// The manifest's `utility`: per stratum and measurement, released against eligible.
/// `public`: `analysis` compares with the release's noisy figures (no percentile, distance
/// or exact figure of the people); otherwise with the people themselves (private folder).
pub(crate) fn utility(pl: &Pipeline, part: &Partition, analysis: &Analysis, public: bool) -> Value {
    let k = pl.release.k;
    let mut strata = Vec::new();
    let (mut worst_mean, mut worst_std, mut worst_corr) = (0.0f64, 0.0f64, 0.0f64);
    let mut worst_pct = 0.0f64;
    for a in &analysis.strata {
        let cats = &part.strata[a.stratum];
        let n = a.people;
        let mut per = Map::new();
        let mut sq = 0.0;
        for (f, &p) in a.columns.iter().zip(&a.dims) {
            let name = &pl.catalog.measurements[pl.measurements[p]].name;
            let (mo, mr) = (f.orig.mean, f.rel.mean);
            let (so, sr) = (f.orig.std, f.rel.std);
            let (mean_err, std_err) = (f.mean_error_pct(), f.std_error_pct());
            worst_mean = worst_mean.max(mean_err.abs());
            worst_std = worst_std.max(std_err.abs());
            sq += f.sq_std_dist;
            let err = |p: f64| round(f.pct_diff(p), 1);
            let pct_sd = f.percentile_error_sd();
            worst_pct = worst_pct.max(pct_sd);
            let mut v = json!({
                "mean": [round(mo, 2), round(mr, 2)],
                "mean_error_pct": round(mean_err, 3),
                "std": [round(so, 2), round(sr, 2)],
                "std_error_pct": round(std_err, 2),
            });
            if !public {
                v["p5_error"] = json!(err(5.0));
                v["p25_error"] = json!(err(25.0));
                v["p50_error"] = json!(err(50.0));
                v["p75_error"] = json!(err(75.0));
                v["p95_error"] = json!(err(95.0));
                v["percentile_error_sd"] = json!(round(pct_sd, 3));
            }
            per.insert(name.clone(), v);
        }
        let (co, cr) = (&a.corr_orig, &a.corr_rel);
        let d = a.dims.len();
        // Pairs without figures (too few people released with both) are NaN: left out.
        let mut diffs: Vec<f64> = (0..d)
            .flat_map(|i| (i + 1..d).map(move |j| (i, j)))
            .map(|(i, j)| (co[i * d + j] - cr[i * d + j]).abs())
            .filter(|x| !x.is_nan())
            .collect();
        diffs.sort_by(f64::total_cmp);
        let max_corr = diffs.last().copied().unwrap_or(0.0);
        worst_corr = worst_corr.max(max_corr);
        let mut st = json!({
            "categories": category_values(pl, cats),
            "people": n,
            "correlation_change": {
                "max": round(max_corr, 4),
                "median": round(diffs.get(diffs.len() / 2).copied().unwrap_or(0.0), 4),
            },
        });
        if !public {
            st["nrmsd"] = json!(round((sq / (n * d).max(1) as f64).sqrt(), 4));
        }
        st["measurements"] = Value::Object(per);
        strata.push(st);
    }
    if public {
        return json!({
            "compared_with": "the release's noisy figures of the eligible people (series.figures): each measurement's mean and standard deviation and each pair's correlation, per category combination. No exact figure of the eligible people is published: one differenced between two versions would give a person's values. The exact comparison, with percentiles, is written to the private folder (utility.json).",
            "worst": {
                "mean_error_pct": round(worst_mean, 3),
                "std_error_pct": round(worst_std, 2),
                "correlation_change": round(worst_corr, 4),
            },
            "strata": strata,
        });
    }
    json!({
        "compared_with": "the eligible people placed in classes (suppressed people excluded)",
        "percentiles": format!("each the mean of the {k} values around the nearest rank, so no figure is one person's value; percentile_error_sd: the largest error of the 5th, 25th, 75th and 95th, in the original standard deviation"),
        "worst": {
            "mean_error_pct": round(worst_mean, 3),
            "std_error_pct": round(worst_std, 2),
            "correlation_change": round(worst_corr, 4),
            "percentile_error_sd": round(worst_pct, 3),
        },
        "strata": strata,
    })
}
