//! `schema`: the columns are the ones the manifest declares, category values inside their enums.

use crate::prelude::*;

pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn claimed_columns(manifest: &Value) -> (Vec<String>, Vec<String>) {
    (
        strings(&manifest["columns"]["categories"]),
        strings(&manifest["columns"]["measurements"]),
    )
}

pub(crate) fn check_schema(
    manifest: &Value,
    datapackage: Option<&Value>,
    t: &Parquet,
    csv_header: &[String],
) -> Check {
    let (cats, meas) = claimed_columns(manifest);
    let claimed: Vec<String> = cats.iter().chain(&meas).cloned().collect();
    let mut problems = Vec::new();
    if t.grouped.columns != claimed {
        problems.push(format!(
            "Parquet columns {:?} differ from the declared {:?}",
            t.grouped.columns, claimed
        ));
    }
    if csv_header != claimed.as_slice() {
        problems.push("CSV header differs from the declared columns".to_string());
    }
    for (name, ty) in t.grouped.columns.iter().zip(&t.types) {
        if pii::identifier_like_name(name) {
            problems.push(format!("column `{name}` is named like an identifier"));
        }
        let numeric = ty.starts_with("Int") || ty.starts_with("UInt");
        if meas.contains(name) && !numeric {
            problems.push(format!(
                "measurement column `{name}` has type {ty}, not an integer"
            ));
        }
    }
    if let Some(dp) = datapackage {
        for r in dp["resources"].as_array().into_iter().flatten() {
            let names: Vec<String> = r["schema"]["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["name"].as_str().map(String::from))
                .collect();
            if names != t.grouped.columns {
                problems.push(format!(
                    "datapackage.json resource `{}` declares other columns than the Parquet file holds",
                    r["name"].as_str().unwrap_or("?")
                ));
            }
        }
        check_enums(manifest, dp, t, &cats, &mut problems);
    } else {
        problems.push("datapackage.json is missing or not valid JSON".into());
    }
    let detail = format!(
        "{} columns ({} categories, {} measurements) as declared",
        t.grouped.columns.len(),
        cats.len(),
        meas.len()
    );
    check("schema", problems, detail)
}

/// Every category column has a declared list of values (the Data Package enum of the
/// Parquet resource), and every released value of it, in the table and in the manifest's
/// utility strata, is in that list.
pub(crate) fn check_enums(
    manifest: &Value,
    dp: &Value,
    t: &Parquet,
    cats: &[String],
    problems: &mut Vec<String>,
) {
    let fields = dp["resources"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["path"] == PARQUET))
        .and_then(|r| r["schema"]["fields"].as_array());
    let declared = |name: &str| -> Option<Vec<String>> {
        let f = fields?.iter().find(|f| f["name"] == name)?;
        f["constraints"]["enum"]
            .as_array()
            .map(|_| strings(&f["constraints"]["enum"]))
    };
    let g = &t.grouped;
    for name in cats {
        let Some(allowed) = declared(name) else {
            problems.push(format!(
                "category column `{name}` has no enum of allowed values in datapackage.json"
            ));
            continue;
        };
        if let Some(j) = g.columns.iter().position(|c| c == name) {
            if g.text[j] && g.dicts[j].iter().any(|v| !allowed.contains(v)) {
                problems.push(format!(
                    "category column `{name}` holds a value that datapackage.json does not declare"
                ));
            }
        }
        let strata = manifest["utility"]["strata"]
            .as_array()
            .into_iter()
            .flatten();
        if strata
            .filter_map(|s| s["categories"][name.as_str()].as_str())
            .any(|v| !allowed.iter().any(|a| a == v))
        {
            problems.push(format!(
                "the manifest names a `{name}` value that datapackage.json does not declare"
            ));
        }
    }
}
