//! The privacy and utility report of a release: `report.json` (the figures) and
//! `report.html` (the same figures as inline SVG charts, no scripts, opens offline).
//!
//! Only aggregates over at least k people go in: every bin and cell carries the number of
//! people `n` it was computed from, bins of fewer than k people are hidden (null),
//! histogram edges and percentiles are means of k values, never one person's value.

use super::facts::Facts;
use crate::assess::utility::BINS;
use serde_json::{json, Value};
use std::fmt::Write;

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Bin counts as published: bins with fewer than k people become null.
fn histogram(counts: &[usize], k: usize) -> Vec<Value> {
    counts
        .iter()
        .map(|&c| if c >= k { json!(c) } else { Value::Null })
        .collect()
}

pub fn build(f: &Facts, uniqueness: &[crate::assess::risk::Uniqueness]) -> Value {
    let pl = f.pl;
    let k = pl.release.k;
    let e = f.counts;
    let part = f.partition;
    let t = f.table;

    // Counts of records per stage and reason (published in the manifest too): they count
    // records, they are not computed from anyone's values, so they are not held to k.
    let mut counts = vec![json!({"label": "read", "records": e.records_read})];
    for (stage, reasons) in &e.tally.0 {
        for (reason, n) in reasons {
            counts.push(json!({"label": format!("{}: {reason}", stage.name()), "records": n}));
        }
    }
    counts.push(json!({"label": "suppressed", "records": part.suppressed.len()}));
    counts.push(json!({"label": "released", "records": t.rows()}));

    let mut by_size = std::collections::BTreeMap::<usize, usize>::new();
    let mut by_owners = std::collections::BTreeMap::<usize, usize>::new();
    for c in &part.classes {
        *by_size.entry(c.rows()).or_default() += 1;
        *by_owners.entry(c.owners).or_default() += 1;
    }
    let class_sizes: Vec<Value> = by_size
        .iter()
        .map(|(s, n)| json!({"size": s, "classes": n, "n": s * n}))
        .collect();
    let owners: Vec<Value> = by_owners
        .iter()
        .map(|(o, n)| json!({"owners": o, "classes": n, "n": o * n}))
        .collect();

    let range = pl.release.representation == crate::pipeline::Representation::Range;
    let mut strata = Vec::new();
    for a in &f.analysis.strata {
        let cats = &part.strata[a.stratum];
        let (dims, n, classes) = (&a.dims, a.people, a.classes);
        let mut measurements = Vec::new();
        for (c, &p) in a.columns.iter().zip(dims) {
            let def = &pl.catalog.measurements[pl.measurements[p]];
            // Each percentile k-smoothed.
            let summary = |s: &crate::assess::utility::Side| {
                let p = |q: f64| r2(s.pct[crate::assess::utility::pct_index(q)]);
                json!({"mean": r2(s.mean), "std": r2(s.std),
                       "p5": p(5.0), "p25": p(25.0), "p50": p(50.0), "p75": p(75.0), "p95": p(95.0)})
            };
            // Normalized certainty penalty: mean interval width over the stratum's range.
            let span = c.max - c.min;
            let ncp = if span > 0.0 { c.mean_width / span } else { 0.0 };
            measurements.push(json!({
                "name": def.name, "unit": def.unit, "n": n,
                "original": summary(&c.orig),
                "released": summary(&c.rel),
                "mean_abs_change": r2(c.mean_abs_change),
                "mean_error_pct": (c.mean_error_pct() * 1000.0).round() / 1000.0,
                "std_error_pct": r2(c.std_error_pct()),
                "percentile_error_sd": r2(c.percentile_error_sd()),
                "ncp": (ncp * 10_000.0).round() / 10_000.0,
                "hist": {"lo": r2(c.hist_lo), "hi": r2(c.hist_hi), "original": histogram(&c.orig.hist, k), "released": histogram(&c.rel.hist, k)},
            }));
        }
        let (co, cr) = (&a.corr_orig, &a.corr_rel);
        let d = dims.len();
        let drift: Vec<Vec<f64>> = (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| r2((co[i * d + j] - cr[i * d + j]).abs()))
                    .collect()
            })
            .collect();
        strata.push(json!({
            "categories": crate::assess::utility::category_values(pl, cats), "n": n, "classes": classes,
            "measurements": measurements,
            "correlation_drift": {"n": n, "names": dims.iter().map(|&p| pl.catalog.measurements[pl.measurements[p]].name.clone()).collect::<Vec<_>>(), "abs_change": drift},
        }));
    }
    let info_loss = if range {
        "normalized certainty penalty per measurement (mean interval width / the stratum's range; 0 = exact, 1 = the whole range)"
    } else {
        "mean absolute change per measurement (released value vs the person's own), in the measurement's unit"
    };
    let mut report = json!({
        "dataset": pl.dataset.name,
        "version": f.version,
        "k": k,
        "people": {
            "records_read": e.records_read, "eligible": e.eligible_people,
            "released": t.rows(), "suppressed": part.suppressed.len(), "classes": part.classes.len(),
        },
        "rule": format!("every figure is an aggregate over at least k = {k} people; the eligible people's means, spreads and correlations are the release's noisy figures (no exact figure of the people is published: one differenced between two versions would give a person's values); their percentiles and histograms are not published; the released rows' percentiles are means of {k} values; the risk section's counts of people (unique records, nearest-neighbour hits) carry Gaussian noise of a few people"),
        "counts": counts,
        "class_sizes": class_sizes,
        "owners_per_class": owners,
        "information_loss": info_loss,
        "strata": strata,
        "risk": {
            "raw_uniqueness": uniqueness,
            "k_achieved": part.classes.iter().map(|c| c.owners).min(),
            "linkage": f.linkage,
        },
    });
    if let Some(p) = &f.analysis.pooled {
        report["patterns"] = patterns(f, p);
    }
    report["series"] = serde_json::to_value(f.series).expect("JSON");
    report["series"]["meaning"] = json!(f.series.sentence());
    report
}

/// A release of people holding different measurements: its patterns, people per
/// measurement, and its figures over the whole table (counts, and aggregates of at least
/// [`PAIR_PEOPLE`](crate::assess::pooled::PAIR_PEOPLE) people).
fn patterns(f: &Facts, p: &crate::assess::pooled::Pooled) -> Value {
    let pl = f.pl;
    let part = f.partition;
    let name = |pos: usize| pl.catalog.measurements[pl.measurements[pos]].name.clone();
    let mut list: Vec<(Vec<String>, Vec<usize>, usize, usize)> = Vec::new();
    for (si, dims) in part.dims.iter().enumerate() {
        let classes: Vec<&crate::anonymize::Class> =
            part.classes.iter().filter(|c| c.stratum == si).collect();
        let rows: usize = classes.iter().map(|c| c.rows()).sum();
        if rows > 0 {
            list.push((part.strata[si].clone(), dims.clone(), rows, classes.len()));
        }
    }
    list.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.len().cmp(&a.1.len())).then(a.cmp(b)));
    json!({
        "count": part.patterns().len(),
        "min_pattern_owners": pl.release.min_pattern_owners,
        "analysis": "rows hold different measurements: use each measurement where present and each pair where both are present (pairwise complete; pandas df.corr(), R use = \"pairwise.complete.obs\"), never only the complete rows",
        "pooled": {
            "min_people": crate::assess::pooled::PAIR_PEOPLE,
            "pairs": p.pairs.pairs,
            "correlation_change_max": r4(p.pairs.max_change),
            "correlation_change_median": r4(p.pairs.median_change),
            "worst_pair": p.pairs.worst.map(|(a, b, n)| json!([name(a), name(b), n])),
        },
        "measurements": p.measurements.iter().map(|x| json!({
            "name": name(x.pos), "holders": x.holders, "released": x.released,
            "suppressed": x.holders.saturating_sub(x.released),
        })).collect::<Vec<_>>(),
        "list": list.iter().map(|(cats, dims, rows, classes)| json!({
            "categories": crate::assess::utility::category_values(pl, cats),
            "measurements": dims.iter().map(|&d| name(d)).collect::<Vec<_>>(),
            "rows": rows,
            "classes": classes,
        })).collect::<Vec<_>>(),
    })
}

fn r4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The patterns section of the page.
fn patterns_html(p: &Value) -> String {
    let mut s = format!(
        r#"<section id="patterns"><h2>Measurement patterns</h2><p>Rows hold different measurements: each row holds one of <b>{}</b> patterns (the columns it holds), each held by at least {} distinct owners. An empty cell is a measurement not released for that person. {}.</p><p>Over the whole table, per pair of measurements released together for at least {} people ({} pairs), the correlation of the released rows against the eligible people holding both changes by at most <b>{}</b> (median {}).</p><h3>People per measurement</h3><table><tr><th>measurement</th><th>eligible people holding it</th><th>released</th><th>suppressed</th></tr>"#,
        p["count"],
        p["min_pattern_owners"],
        esc(p["analysis"].as_str().unwrap_or("")),
        p["pooled"]["min_people"],
        p["pooled"]["pairs"],
        p["pooled"]["correlation_change_max"],
        p["pooled"]["correlation_change_median"],
    );
    for m in p["measurements"].as_array().into_iter().flatten() {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(m["name"].as_str().unwrap_or("")),
            m["holders"],
            m["released"],
            m["suppressed"]
        );
    }
    s.push_str("</table><h3>Patterns (rows, classes, measurements)</h3><table><tr><th>categories</th><th>rows</th><th>classes</th><th>measurements</th></tr>");
    for x in p["list"].as_array().into_iter().flatten() {
        let cats = category_label(&x["categories"]);
        let names: Vec<&str> = x["measurements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td style="text-align:left">{}: {}</td></tr>"#,
            esc(&cats),
            x["rows"],
            x["classes"],
            names.len(),
            esc(&names.join(", "))
        );
    }
    s.push_str("</table></section>");
    s
}

/// What the checks of a release show and do not show, in plain words.
pub const PRIVACY_TESTS: &str = "<h3>What these checks show, and what they do not</h3><ul>\
<li><b>They show</b> that no released row can be told apart from at least k-1 others: each row is shared by every member of its class, and a class holds at least k different owners, so one person's sets never count twice.</li>\
<li><b>They show</b> how often an attacker who already knows someone's exact measurements lands on that person's class (the hit rate above). Landing on the class narrows the person down to at least k people; it does not single them out.</li>\
<li><b>They do not show</b> what can be learned about a class as a whole: everyone in a class shares its values, so knowing that someone is in the release and roughly how they are built says something about them.</li>\
<li><b>They do not show</b> resistance to every attack. The attack tests of the project (anonymeter singling out and linkability on ANSUR II, BENCHMARKS.md) were measured on one dataset; at that size they found no excess over a release that carries no information about anyone, with a resolution of about 0.02.</li>\
<li><b>They do not make the noise differential privacy</b>: the noise is keyed so that re-releases cannot be averaged, not calibrated to a privacy budget.</li></ul>";

/// A stratum's category values as `name = value, ...` (empty for none).
pub(super) fn category_label(categories: &Value) -> String {
    categories
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn bar_chart(items: &[(String, f64)], width: f64) -> String {
    let max = items.iter().map(|i| i.1).fold(1.0, f64::max);
    let h = 22.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">"#,
        width + 260.0,
        h * items.len() as f64 + 4.0
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = i as f64 * h + 2.0;
        let w = (v / max * width).max(1.0);
        let _ = write!(
            s,
            r##"<text x="0" y="{}" font-size="12">{}</text><rect x="200" y="{}" width="{w:.1}" height="16" fill="#4a7ab5"/><text x="{:.1}" y="{}" font-size="12">{v}</text>"##,
            y + 13.0,
            esc(label),
            y,
            205.0 + w,
            y + 13.0
        );
    }
    s.push_str("</svg>");
    s
}

fn small_histogram(m: &Value) -> String {
    let h = &m["hist"];
    let (o, r) = (
        h["original"].as_array().cloned().unwrap_or_default(),
        h["released"].as_array().cloned().unwrap_or_default(),
    );
    let max = o
        .iter()
        .chain(&r)
        .filter_map(|v| v.as_f64())
        .fold(1.0, f64::max);
    let (w, ht) = (180.0, 60.0);
    let bw = w / BINS as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" role="img"><text x="0" y="10" font-size="10">{}</text>"#,
        ht + 26.0,
        esc(m["name"].as_str().unwrap_or(""))
    );
    for (i, (a, b)) in o.iter().zip(&r).enumerate() {
        let x = i as f64 * bw;
        if let Some(a) = a.as_f64() {
            let hh = a / max * ht;
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{hh:.1}" fill="#999" opacity="0.6"/>"##,
                14.0 + ht - hh,
                bw - 1.0
            );
        }
        if let Some(b) = b.as_f64() {
            let hh = b / max * ht;
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{hh:.1}" fill="none" stroke="#c0392b"/>"##,
                x + 1.0,
                14.0 + ht - hh,
                bw - 3.0
            );
        }
    }
    let _ = write!(
        s,
        r#"<text x="0" y="{}" font-size="9">{} - {} {}</text></svg>"#,
        ht + 24.0,
        h["lo"],
        h["hi"],
        esc(m["unit"].as_str().unwrap_or(""))
    );
    s
}

/// The correlation changes as a picture: the lower triangle (the matrix is symmetric),
/// shades in eight steps up to 0.5, cells of one shade drawn as one path and changes under
/// 0.5/16 left white, so a 93-measurement stratum is a few kilobytes, not a rectangle per
/// cell.
fn heatmap(drift: &Value) -> String {
    const STEPS: usize = 8;
    let rows = drift["abs_change"].as_array().cloned().unwrap_or_default();
    let d = rows.len();
    let c = if d > 50 { 5 } else { 10 };
    let mut paths = vec![String::new(); STEPS + 1];
    for (i, row) in rows.iter().enumerate() {
        for (j, v) in row.as_array().into_iter().flatten().enumerate().take(i) {
            let v = v.as_f64().unwrap_or(0.0).min(0.5) / 0.5;
            let step = (v * STEPS as f64).round() as usize;
            if step > 0 {
                let _ = write!(paths[step], "M{} {}h{c}v{c}h-{c}z", j * c, i * c);
            }
        }
    }
    let side = d * c + 2;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" role="img"><rect x="0" y="0" width="{side}" height="{side}" fill="none" stroke="#ccc"/>"##
    );
    for (step, path) in paths.iter().enumerate().filter(|(_, p)| !p.is_empty()) {
        let shade = (255.0 * (1.0 - step as f64 / STEPS as f64)) as u8;
        let _ = write!(s, r#"<path fill="rgb(255,{shade},{shade})" d="{path}"/>"#);
    }
    s.push_str("</svg>");
    s
}

pub fn html(r: &Value) -> String {
    let mut s = String::new();
    let title = format!(
        "{} {}: privacy and utility report",
        r["dataset"].as_str().unwrap_or(""),
        r["version"].as_str().unwrap_or("")
    );
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{}</title><style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}.lead{{font-size:16px}}.verdicts td,.worst td,.verdicts th,.worst th{{text-align:left;font-size:13px}}.verdicts,.worst{{margin:0.6em 0}}.ok{{color:#1e7b34;font-weight:bold}}.fail{{color:#b00020;font-weight:bold}}.unknown{{color:#8a6d00}}.small{{font-size:12px;color:#555}}table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#eee}}.grid{{display:flex;flex-wrap:wrap;gap:8px}}section{{margin-bottom:2em}}</style></head><body>"#,
        esc(&title)
    );
    let _ = write!(s, "<h1>{}</h1>", esc(&title));
    s.push_str(&super::summary::first_screen(r));
    let _ = write!(
        s,
        "<p class=\"small\">{}</p>",
        esc(r["rule"].as_str().unwrap_or(""))
    );

    let counts: Vec<(String, f64)> = r["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["label"].as_str().unwrap_or("").to_string(),
                c["records"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<section id="counts"><h2>Records per stage and reason</h2>{}</section>"#,
        bar_chart(&counts, 500.0)
    );

    let sizes: Vec<(String, f64)> = r["class_sizes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                format!("{} people", c["size"]),
                c["classes"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let owners: Vec<(String, f64)> = r["owners_per_class"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                format!("{} owners", c["owners"]),
                c["classes"].as_f64().unwrap_or(0.0),
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<section id="classes"><h2>Classes</h2><h3>Class size (people per class): number of classes</h3>{}<h3>Distinct owners per class: number of classes</h3>{}</section>"#,
        bar_chart(&sizes, 400.0),
        bar_chart(&owners, 400.0)
    );

    let risk = &r["risk"];
    let _ = write!(
        s,
        r#"<section id="risk"><h2>Risk</h2><p>k achieved (fewest distinct owners in a class): <b>{}</b> (required: {}).</p><table><tr><th>rounding before anonymization</th><th>people unique on categories + measurements</th><th>share</th></tr>"#,
        risk["k_achieved"], r["k"]
    );
    for u in risk["raw_uniqueness"].as_array().into_iter().flatten() {
        let _ = write!(
            s,
            "<tr><td>{} mm</td><td>{}</td><td>{:.1}%</td></tr>",
            u["rounding"],
            u["unique_people"],
            u["share"].as_f64().unwrap_or(0.0) * 100.0
        );
    }
    let link = &risk["linkage"];
    let _ = write!(
        s,
        "</table><p>After anonymization every released row is shared by at least k people. Nearest-neighbour record linkage (an attacker who knows a person's exact measurements and category, standardized, picks the nearest released row): the nearest row is the person's own class's row for <b>{:.1}%</b> of people (hit rate); counting a hit as 1/multiplicity of the row (the chance of then picking the person among the rows that share it), it finds the person <b>{:.4}</b> of the time (bound 1/k = {:.4}; {} people scored); fewest distinct owners in a class: {}; released rows equal to a source record shared by fewer than k owners: {}.</p>{}</section>",
        link["nearest_neighbour_hit_rate"].as_f64().unwrap_or(f64::NAN) * 100.0,
        link["nearest_neighbour_share"].as_f64().unwrap_or(f64::NAN),
        link["bound"].as_f64().unwrap_or(f64::NAN),
        link["scored"],
        link["min_owners_per_class"],
        link["reproduced_records"],
        PRIVACY_TESTS
    );

    let series = &r["series"];
    let _ = write!(
        s,
        "<section id=\"series\"><h2>Series</h2><p>This version: <b>{}</b>; new classes {}, people who left {} (their {} rows kept), left out over the budget {}.</p><p>{}</p></section>",
        esc(series["kind"].as_str().unwrap_or("")),
        series["new_classes"],
        series["left"],
        series["counterfeit_rows"],
        series["over_budget"],
        esc(series["meaning"].as_str().unwrap_or(""))
    );
    if r.get("patterns").is_some() {
        s.push_str(&patterns_html(&r["patterns"]));
    }
    s.push_str("<div id=\"utility\"></div>");
    for st in r["strata"].as_array().into_iter().flatten() {
        let name = category_label(&st["categories"]);
        let _ = write!(
            s,
            r#"<section class="stratum"><h2>Utility: {} ({} people, {} classes)</h2><p>Information loss: {}.</p><table><tr><th>measurement</th><th>unit</th><th>mean orig</th><th>mean rel</th><th>mean error %</th><th>std orig</th><th>std rel</th><th>std error %</th><th>p5 orig</th><th>p5 rel</th><th>p25 orig</th><th>p25 rel</th><th>p50 orig</th><th>p50 rel</th><th>p75 orig</th><th>p75 rel</th><th>p95 orig</th><th>p95 rel</th><th>worst percentile error (sd)</th><th>mean abs change</th><th>NCP</th></tr>"#,
            esc(&name),
            st["n"],
            st["classes"],
            esc(r["information_loss"].as_str().unwrap_or(""))
        );
        for m in st["measurements"].as_array().into_iter().flatten() {
            let (o, rl) = (&m["original"], &m["released"]);
            let _ = write!(
                s,
                "<tr><td style=\"text-align:left\">{}</td><td>{}</td>",
                esc(m["name"].as_str().unwrap_or("")),
                esc(m["unit"].as_str().unwrap_or(""))
            );
            for v in [
                &o["mean"],
                &rl["mean"],
                &m["mean_error_pct"],
                &o["std"],
                &rl["std"],
                &m["std_error_pct"],
                &o["p5"],
                &rl["p5"],
                &o["p25"],
                &rl["p25"],
                &o["p50"],
                &rl["p50"],
                &o["p75"],
                &rl["p75"],
                &o["p95"],
                &rl["p95"],
                &m["percentile_error_sd"],
                &m["mean_abs_change"],
                &m["ncp"],
            ] {
                if v.is_null() {
                    s.push_str("<td>–</td>");
                } else {
                    let _ = write!(s, "<td>{v}</td>");
                }
            }
            s.push_str("</tr>");
        }
        s.push_str("</table>");
        // Histograms are of the eligible people (exact figures), left out of a public
        // report: shown only where the analysis holds them.
        let with_hist = st["measurements"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| {
                m["hist"]["original"]
                    .as_array()
                    .is_some_and(|h| !h.is_empty())
            });
        if with_hist {
            let _ = write!(s, "<h3>Distributions (grey: eligible data, red outline: released; bins of fewer than k people hidden)</h3><div class=\"grid\">");
            for m in st["measurements"].as_array().into_iter().flatten() {
                s.push_str(&small_histogram(m));
            }
            s.push_str("</div>");
        }
        let _ = write!(s, "<h3>Correlation drift |r(released) - r(eligible, as the release's noisy figures give it)| (white 0, red 0.5 or more)</h3>{}</section>", heatmap(&st["correlation_drift"]));
    }
    s.push_str("</body></html>\n");
    s
}
