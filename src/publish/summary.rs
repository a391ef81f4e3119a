//! The report's first screen: what was released, whether each guarantee held, the worst
//! errors and where they are, and what to read next. Built from `report.json`'s values
//! only, so `report --source` and a release draw the same screen.

use serde_json::Value;
use std::fmt::Write;

/// One guarantee: what it promises, whether the figures show it held, and the figures.
struct Verdict {
    promise: &'static str,
    held: Option<bool>,
    measured: String,
}

/// The worst of one error over the strata: its value and where it is.
struct Worst {
    value: f64,
    stratum: String,
    what: String,
}

fn stratum_name(st: &Value) -> String {
    let label = super::report::category_label(&st["categories"]);
    if label.is_empty() {
        "all people".into()
    } else {
        label
    }
}

/// The largest absolute value of `key` over every stratum's measurements.
fn worst_measurement(r: &Value, key: &str) -> Option<Worst> {
    let mut best: Option<Worst> = None;
    for st in r["strata"].as_array().into_iter().flatten() {
        for m in st["measurements"].as_array().into_iter().flatten() {
            let Some(v) = m[key].as_f64() else { continue };
            if best.as_ref().is_none_or(|b| v.abs() > b.value.abs()) {
                best = Some(Worst {
                    value: v,
                    stratum: stratum_name(st),
                    what: m["name"].as_str().unwrap_or("").to_string(),
                });
            }
        }
    }
    best
}

/// The largest correlation change over every stratum's pairs.
fn worst_correlation(r: &Value) -> Option<Worst> {
    let mut best: Option<Worst> = None;
    for st in r["strata"].as_array().into_iter().flatten() {
        let drift = &st["correlation_drift"];
        let names = drift["names"].as_array().cloned().unwrap_or_default();
        for (i, row) in drift["abs_change"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (j, v) in row.as_array().into_iter().flatten().enumerate().skip(i + 1) {
                let Some(v) = v.as_f64() else { continue };
                if best.as_ref().is_none_or(|b| v > b.value) {
                    let name = |k: usize| names.get(k).and_then(Value::as_str).unwrap_or("");
                    best = Some(Worst {
                        value: v,
                        stratum: stratum_name(st),
                        what: format!("{} x {}", name(i), name(j)),
                    });
                }
            }
        }
    }
    best
}

fn verdicts(r: &Value) -> Vec<Verdict> {
    let risk = &r["risk"];
    let link = &risk["linkage"];
    let k = r["k"].as_u64();
    let achieved = risk["k_achieved"].as_u64();
    let reproduced = link["reproduced_records"].as_u64();
    let (share, bound) = (
        link["nearest_neighbour_share"].as_f64(),
        link["bound"].as_f64(),
    );
    let series = &r["series"];
    let (spent, cap) = (series["spent_max"].as_f64(), series["cap"].as_f64());
    let both = |a: Option<u64>, b: Option<u64>| a.zip(b);
    vec![
        Verdict {
            promise: "k-anonymity: every row is shared by a class of at least k distinct owners",
            held: both(achieved, k).map(|(a, k)| a >= k),
            measured: format!(
                "fewest distinct owners in a class: {} (k = {})",
                achieved.map_or("unknown".into(), |a| a.to_string()),
                k.map_or("unknown".into(), |k| k.to_string())
            ),
        },
        Verdict {
            promise: "No released row equals a source record shared by fewer than k owners",
            held: reproduced.map(|n| n == 0),
            measured: match reproduced {
                Some(n) => format!("{n} such rows"),
                None => "not checked".into(),
            },
        },
        Verdict {
            promise: "Record linkage by nearest neighbour finds a person at most 1/k of the time",
            held: share.zip(bound).map(|(s, b)| s <= b),
            measured: match share.zip(bound) {
                Some((s, b)) => format!("{s:.4} (bound 1/k = {b:.4})"),
                None => "not checked".into(),
            },
        },
        Verdict {
            promise:
                "No exact figure of the people published; the series' privacy budget within its cap",
            held: spent.zip(cap).map(|(s, c)| s <= c),
            measured: match spent.zip(cap) {
                Some((s, c)) => format!("most spent by anyone: rho = {s:.0} of {c:.0}"),
                None => "not recorded".into(),
            },
        },
    ]
}

/// The first screen of `report.html`.
pub fn first_screen(r: &Value) -> String {
    let mut s = String::from("<section id=\"summary\">");
    let p = &r["people"];
    let n = |v: &Value| v.as_u64().map_or("?".to_string(), group);
    let _ = write!(
        s,
        "<p class=\"lead\">Released <b>{}</b> rows of <b>{}</b> eligible people ({} suppressed; {} records read) in <b>{}</b> classes; k = {} distinct owners required, <b>{}</b> achieved. This version: <b>{}</b>.</p>",
        n(&p["released"]),
        n(&p["eligible"]),
        n(&p["suppressed"]),
        n(&p["records_read"]),
        n(&p["classes"]),
        r["k"],
        r["risk"]["k_achieved"],
        super::report::esc(r["series"]["kind"].as_str().unwrap_or("")),
    );
    s.push_str(
        "<table class=\"verdicts\"><tr><th>guarantee</th><th>verdict</th><th>measured</th></tr>",
    );
    for v in verdicts(r) {
        let (class, word) = match v.held {
            Some(true) => ("ok", "holds"),
            Some(false) => ("fail", "FAILS"),
            None => ("unknown", "not checked"),
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
            v.promise,
            super::report::esc(&v.measured)
        );
    }
    s.push_str("</table>");
    s.push_str("<table class=\"worst\"><tr><th>worst error of the released rows</th><th>value</th><th>where</th></tr>");
    let rows = [
        ("mean", worst_measurement(r, "mean_error_pct"), "%"),
        (
            "standard deviation",
            worst_measurement(r, "std_error_pct"),
            "%",
        ),
        ("correlation (absolute change)", worst_correlation(r), ""),
        (
            "percentile (in standard deviations)",
            worst_measurement(r, "percentile_error_sd"),
            " sd",
        ),
    ];
    for (what, w, unit) in rows {
        match w {
            Some(w) => {
                let _ = write!(
                    s,
                    "<tr><td>{what}</td><td>{}{unit}</td><td>{}: {}</td></tr>",
                    w.value,
                    super::report::esc(&w.stratum),
                    super::report::esc(&w.what)
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<tr><td>{what}</td><td>–</td><td>not in the public report (the people's own figures of it are not published; the private utility.json has them)</td></tr>"
                );
            }
        }
    }
    s.push_str("</table><p class=\"small\">Errors compare the released rows with the release's noisy figures of the eligible people (no exact figure of them is published; the exact comparison is in the private folder's utility.json).</p>");
    let mut next = vec![
        (
            "#risk",
            "Risk: linkage, raw uniqueness, what the checks do not show",
        ),
        ("#series", "Series and budget"),
        ("#counts", "Records per stage and reason"),
        ("#classes", "Classes"),
    ];
    if r.get("patterns").is_some() {
        next.push(("#patterns", "Measurement patterns"));
    }
    next.push(("#utility", "Utility per stratum"));
    s.push_str("<p>Read next: ");
    let links: Vec<String> = next
        .iter()
        .map(|(href, label)| format!("<a href=\"{href}\">{label}</a>"))
        .collect();
    s.push_str(&links.join(" · "));
    s.push_str("</p></section>");
    s
}

/// `1234567` as `1,234,567`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(k_achieved: u64, reproduced: u64, share: f64) -> Value {
        json!({
            "k": 10,
            "people": {"released": 1234567, "eligible": 1234600, "suppressed": 33, "records_read": 1300000, "classes": 100000},
            "risk": {"k_achieved": k_achieved, "linkage": {"reproduced_records": reproduced, "nearest_neighbour_share": share, "bound": 0.1}},
            "series": {"kind": "first", "spent_max": 10.0, "cap": 30.0},
            "strata": [
                {"categories": {"Gender": "Female"}, "measurements": [
                    {"name": "waist", "mean_error_pct": -0.2, "std_error_pct": 1.0, "percentile_error_sd": 0.3},
                    {"name": "hips", "mean_error_pct": 0.1, "std_error_pct": -2.5, "percentile_error_sd": 0.1}],
                 "correlation_drift": {"names": ["waist", "hips"], "abs_change": [[0.0, 0.04], [0.04, 0.0]]}},
                {"categories": {"Gender": "Male"}, "measurements": [
                    {"name": "waist", "mean_error_pct": 0.05, "std_error_pct": 0.5, "percentile_error_sd": 0.6}],
                 "correlation_drift": {"names": ["waist"], "abs_change": [[0.0]]}}
            ]
        })
    }

    /// The first screen says what was released, each guarantee's verdict from the figures,
    /// and the worst errors with where they are.
    #[test]
    fn the_first_screen_sums_up_the_release() {
        let s = first_screen(&report(10, 0, 0.05));
        assert!(
            s.contains("Released <b>1,234,567</b> rows of <b>1,234,600</b> eligible"),
            "{s}"
        );
        assert_eq!(s.matches("class=\"ok\">holds").count(), 4, "{s}");
        assert!(
            s.contains("<td>-0.2%</td><td>Gender = Female: waist</td>"),
            "{s}"
        );
        assert!(
            s.contains("<td>-2.5%</td><td>Gender = Female: hips</td>"),
            "{s}"
        );
        assert!(
            s.contains("<td>0.04</td><td>Gender = Female: waist x hips</td>"),
            "{s}"
        );
        assert!(
            s.contains("<td>0.6 sd</td><td>Gender = Male: waist</td>"),
            "{s}"
        );
    }

    /// A guarantee the figures show broken is said to fail, not to hold.
    #[test]
    fn a_broken_guarantee_is_shown_failing() {
        let s = first_screen(&report(9, 2, 0.2));
        assert_eq!(s.matches("class=\"fail\">FAILS").count(), 3, "{s}");
        let mut r = report(10, 0, 0.05);
        r["risk"]["linkage"] = Value::Null;
        let s = first_screen(&r);
        assert_eq!(s.matches("class=\"unknown\">not checked").count(), 2, "{s}");
    }
}
