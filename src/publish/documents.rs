//! The documents that travel with a release: a Frictionless Data Package (v2), Croissant
//! 1.1 metadata, a CITATION.cff and a datasheet ("Datasheets for Datasets", Gebru et al.).
//! Column descriptions and units come from the measurement catalog.

use super::facts::Facts;
use serde_json::{json, Value};
use std::fmt::Write;

/// The datasheet's account of a table whose people hold different measurements: patterns,
/// people per measurement, what was suppressed, how to analyse it.
fn sparse_composition(s: &mut String, f: &Facts, p: &crate::assess::pooled::Pooled) {
    let pl = f.pl;
    let part = f.partition;
    let name = |pos: usize| pl.catalog.measurements[pl.measurements[pos]].name.as_str();
    let patterns = part.patterns();
    let suppressed: usize = p
        .measurements
        .iter()
        .map(|x| x.holders.saturating_sub(x.released))
        .sum();
    let held: usize = p.measurements.iter().map(|x| x.holders).sum();
    let _ = writeln!(s, "### Rows hold different measurements\n");
    let _ = writeln!(s, "The records hold what their owners entered (a FreeSewing set holds the measurements its owner's designs asked for), so rows hold different measurements. Each row holds one of {} measurement patterns (the columns it holds), chosen from the data within each category combination so that each is held whole by at least {} distinct owners; a person is released in the largest chosen pattern their record holds. An empty cell means: not released for this person (not entered, or suppressed to keep their row in a pattern others share). Of {held} values the eligible people hold, {} are released and {suppressed} suppressed; {} people hold no pattern and are not released.\n", patterns.len(), pl.release.min_pattern_owners, held - suppressed, part.unplaced);
    let _ = writeln!(s, "People per measurement (eligible people holding it; released rows holding it):\n\n| measurement | holders | released |\n|---|---|---|");
    for x in &p.measurements {
        let _ = writeln!(s, "| {} | {} | {} |", name(x.pos), x.holders, x.released);
    }
    let mut by_people: Vec<(usize, &[usize])> = patterns
        .iter()
        .map(|dims| {
            let people: usize = part
                .classes
                .iter()
                .filter(|c| part.dims[c.stratum].as_slice() == *dims)
                .map(|c| c.rows())
                .sum();
            (people, *dims)
        })
        .collect();
    by_people.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.len().cmp(&a.1.len())));
    let _ = writeln!(s, "\nThe patterns holding most rows (all of them, with their categories, are in report.json):\n");
    for (people, dims) in by_people.iter().take(10) {
        let names: Vec<&str> = dims.iter().map(|&d| name(d)).collect();
        let _ = writeln!(
            s,
            "- {people} rows, {} measurements: {}",
            dims.len(),
            names.join(", ")
        );
    }
    let _ = writeln!(s, "\n### How to analyse a table with empty cells\n\n- Use each measurement's values where present, and each pair's rows where both are present (pairwise complete): pandas `df.mean()`, `df.std()` and `df.corr()` do so by default, R `cor(x, use = \"pairwise.complete.obs\")`. Do not drop every row with an empty cell (listwise deletion): it keeps only the few complete records and changes who is studied.\n- The release keeps, per measurement, the mean and spread of the eligible people who hold it, and per pair their correlation, as its noisy figures give them (no exact figure of the people is published); measured against those figures (manifest.json, `utility.pooled`, pairs released together for at least {} people): worst mean error {:.3}%, standard deviation {:.2}%, correlation change {:.4} (median {:.4}).", crate::assess::pooled::PAIR_PEOPLE, worst(p, |x| pct(x.released_moments.0, x.holders_moments.0)), worst(p, |x| pct(x.released_moments.1, x.holders_moments.1)), p.pairs.max_change, p.pairs.median_change);
    let _ = writeln!(s, "- Who is released with which measurement is not random: it follows what owners entered and which patterns enough owners share. The release's rows are calibrated to the figures of all the holders (suppressed values included), so the selection does not carry into the published figures; its size is an exact figure of the people, kept in the private folder (utility.json). Within a category combination, statistics of one pattern's rows alone are not calibrated: read them per measurement and pair, not per pattern.\n");
}

fn pct(a: f64, b: f64) -> f64 {
    100.0 * (a - b) / b.abs().max(1e-9)
}

/// The largest |figure| over measurements released for at least the pair threshold.
fn worst(
    p: &crate::assess::pooled::Pooled,
    f: impl Fn(&crate::assess::pooled::MeasurementFigures) -> f64,
) -> f64 {
    p.measurements
        .iter()
        .filter(|x| x.released >= crate::assess::pooled::PAIR_PEOPLE && x.holders >= 2)
        .map(|x| f(x).abs())
        .fold(0.0, f64::max)
}

fn license_url(id: &str) -> String {
    match id {
        "CC0-1.0" => "https://creativecommons.org/publicdomain/zero/1.0/".into(),
        "CC-BY-4.0" => "https://creativecommons.org/licenses/by/4.0/".into(),
        "ODbL-1.0" => "https://opendatacommons.org/licenses/odbl/1-0/".into(),
        other => format!("https://spdx.org/licenses/{other}.html"),
    }
}

/// One released column: name, type, description, unit, constraints.
struct Col {
    name: String,
    integer: bool,
    description: String,
    unit: Option<String>,
    min: Option<i64>,
    max: Option<i64>,
    values: Vec<String>,
}

fn columns(f: &Facts) -> Vec<Col> {
    let pl = f.pl;
    let mut out = Vec::new();
    for c in &pl.categories {
        // The declared values (the pipeline's allow-list), whether or not each is released.
        let values = c.values.clone();
        let description = if c.name == "has_breasts" {
            "Whether the person has breasts (\"true\"/\"false\"); breasts-only measurements are empty where \"false\". A category: classes never mix its values.".to_string()
        } else if c.map.is_empty() {
            format!("Category `{}`, released as recorded in the source. A category: classes never mix its values.", c.name)
        } else {
            format!("Category `{}`, released as recorded in the source, or in the pipeline's spelling where it maps one. A category: classes never mix its values.", c.name)
        };
        out.push(Col {
            name: c.name.clone(),
            integer: false,
            description,
            unit: None,
            min: None,
            max: None,
            values,
        });
    }
    let range = pl.release.representation == crate::pipeline::Representation::Range;
    for &m in &pl.measurements {
        let def = &pl.catalog.measurements[m];
        let res = def.resolution;
        let unit = if res == 1.0 {
            def.unit.clone()
        } else {
            format!("{res} {}", def.unit)
        };
        let lo = (def.min / res).round() as i64;
        let hi = (def.max / res).round() as i64;
        let what = match pl.release.representation {
            crate::pipeline::Representation::Centroid => {
                "class value (k-anonymous class mean, moment-restored and noised)"
            }
            crate::pipeline::Representation::Range => "",
        };
        let suffix = match (def.breasts_only, f.analysis.pooled.is_some()) {
            (true, false) => " Empty for people without breasts.",
            (false, false) => "",
            (true, true) => " Empty for people without breasts, and where the person's measurement pattern does not hold it (not entered, or suppressed).",
            (false, true) => " Empty where the person's measurement pattern does not hold it (not entered, or suppressed).",
        };
        if range {
            for (end, word) in [("min", "lower"), ("max", "upper")] {
                out.push(Col {
                    name: format!("{}_{end}", def.name),
                    integer: true,
                    description: format!(
                        "{} The {word} bound of the person's k-anonymous class, in {unit}.{suffix}",
                        def.description
                    ),
                    unit: Some(unit.clone()),
                    min: Some(lo),
                    max: Some(hi),
                    values: vec![],
                });
            }
        } else {
            out.push(Col {
                name: def.name.clone(),
                integer: true,
                description: format!(
                    "{} Released as the {what}, in {unit}.{suffix}",
                    def.description
                ),
                unit: Some(unit),
                min: Some(lo),
                max: Some(hi),
                values: vec![],
            });
        }
    }
    out
}

pub fn datapackage(f: &Facts, csv: (u64, &str)) -> Value {
    let pl = f.pl;
    let fields: Vec<Value> = columns(f)
        .into_iter()
        .map(|c| {
            let mut v = json!({
                "name": c.name,
                "type": if c.integer { "integer" } else { "string" },
                "description": c.description,
            });
            if let Some(u) = c.unit {
                v["unit"] = json!(u);
            }
            let mut cons = serde_json::Map::new();
            if let (Some(lo), Some(hi)) = (c.min, c.max) {
                cons.insert("minimum".into(), json!(lo));
                cons.insert("maximum".into(), json!(hi));
            } else {
                cons.insert("required".into(), json!(true));
                cons.insert("enum".into(), json!(c.values));
            }
            v["constraints"] = Value::Object(cons);
            v
        })
        .collect();
    let schema = json!({"fields": fields, "missingValues": [""]});
    // Readers that go through pandas (frictionless's Parquet plugin) see absent integers
    // as NaN: declare that spelling missing too for the Parquet resource.
    let mut pq_schema = schema.clone();
    pq_schema["missingValues"] = json!(["", "nan"]);
    json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": pl.dataset.name,
        "title": pl.dataset.title,
        "description": pl.dataset.description,
        "version": f.version,
        "created": format!("{}T00:00:00Z", f.created),
        "licenses": [{"name": pl.dataset.license, "path": license_url(&pl.dataset.license)}],
        "sources": [{"title": format!("{} export, read by opentape pipeline {} ({:?})",
            pl.dataset.name, pl.path.file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(), pl.format.name())}],
        "contributors": [{"title": "opentape", "roles": ["producer"], "path": "https://crates.io/crates/opentape"}],
        "keywords": ["anthropometry", "body measurements", "k-anonymity", "open data"],
        "resources": [
            {
                "name": "measurements-csv",
                "path": crate::publish::layout::CSV,
                "type": "table",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "bytes": csv.0,
                "hash": format!("sha256:{}", csv.1),
                "dialect": {"header": true, "delimiter": ","},
                "schema": schema,
            },
            {
                "name": "measurements-parquet",
                "path": crate::publish::layout::PARQUET,
                "type": "table",
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "description": "The same rows as measurements.csv, in the same order. Its sha256 is in SHA256SUMS and manifest.json.",
                "schema": pq_schema,
            },
        ],
    })
}

pub fn croissant(f: &Facts, parquet_sha: &str, csv_sha: &str) -> Value {
    let pl = f.pl;
    let context = json!({
        "@language": "en",
        "@vocab": "https://schema.org/",
        "citeAs": "cr:citeAs",
        "column": "cr:column",
        "conformsTo": "dct:conformsTo",
        "cr": "http://mlcommons.org/croissant/",
        "rai": "http://mlcommons.org/croissant/RAI/",
        "data": {"@id": "cr:data", "@type": "@json"},
        "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
        "dct": "http://purl.org/dc/terms/",
        "equivalentProperty": "cr:equivalentProperty",
        "examples": {"@id": "cr:examples", "@type": "@json"},
        "extract": "cr:extract",
        "field": "cr:field",
        "fileProperty": "cr:fileProperty",
        "fileObject": "cr:fileObject",
        "fileSet": "cr:fileSet",
        "format": "cr:format",
        "includes": "cr:includes",
        "isLiveDataset": "cr:isLiveDataset",
        "jsonPath": "cr:jsonPath",
        "key": "cr:key",
        "md5": "cr:md5",
        "parentField": "cr:parentField",
        "path": "cr:path",
        "recordSet": "cr:recordSet",
        "references": "cr:references",
        "regex": "cr:regex",
        "repeated": "cr:repeated",
        "replace": "cr:replace",
        "samplingRate": "cr:samplingRate",
        "sc": "https://schema.org/",
        "separator": "cr:separator",
        "source": "cr:source",
        "subField": "cr:subField",
        "transform": "cr:transform",
    });
    let fields: Vec<Value> = columns(f)
        .into_iter()
        .map(|c| {
            json!({
                "@type": "cr:Field",
                "@id": format!("measurements/{}", c.name),
                "name": c.name,
                "description": c.description,
                "dataType": if c.integer { "sc:Integer" } else { "sc:Text" },
                "source": {"fileObject": {"@id": "parquet"}, "extract": {"column": c.name}},
            })
        })
        .collect();
    json!({
        "@context": context,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": pl.dataset.name,
        "description": pl.dataset.description,
        "license": license_url(&pl.dataset.license),
        "url": "https://crates.io/crates/opentape",
        "version": f.version,
        "datePublished": f.created,
        "citeAs": citation_text(f),
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "parquet",
                "name": "parquet",
                "contentUrl": crate::publish::layout::PARQUET,
                "encodingFormat": "application/x-parquet",
                "sha256": parquet_sha,
            },
            {
                "@type": "cr:FileObject",
                "@id": "csv",
                "name": "csv",
                "contentUrl": crate::publish::layout::CSV,
                "encodingFormat": "text/csv",
                "sha256": csv_sha,
            },
        ],
        "recordSet": [{
            "@type": "cr:RecordSet",
            "@id": "measurements",
            "name": "measurements",
            "description": "One row per released person; the rows of a k-anonymous class are identical.",
            "field": fields,
        }],
    })
}

fn citation_text(f: &Facts) -> String {
    format!(
        "{}, version {} ({}). {}. Anonymized with opentape {}.",
        f.pl.dataset.title,
        f.version,
        &f.created[..4],
        f.pl.dataset.license,
        env!("CARGO_PKG_VERSION")
    )
}

fn yaml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn citation_cff(f: &Facts) -> String {
    let pl = f.pl;
    format!(
        "cff-version: 1.2.0\nmessage: {}\ntype: dataset\ntitle: {}\nabstract: {}\nversion: {}\ndate-released: {}\nlicense: {}\nauthors:\n  - name: {}\nkeywords:\n  - anthropometry\n  - body measurements\n  - k-anonymity\n",
        yaml_str("If you use this dataset, please cite it as below."),
        yaml_str(&pl.dataset.title),
        yaml_str(&pl.dataset.description),
        yaml_str(f.version),
        f.created,
        pl.dataset.license,
        yaml_str(&format!("{} maintainers", pl.dataset.title)),
    )
}

pub fn datasheet(f: &Facts) -> String {
    let pl = f.pl;
    let c = f.counts;
    let mut s = String::new();
    let k = pl.release.k;
    let rows = f.table.rows();
    let dropped: Vec<String> = c
        .tally
        .0
        .iter()
        .flat_map(|(stage, reasons)| {
            reasons
                .iter()
                .map(move |(r, n)| format!("{n} ({}: {r})", stage.name()))
        })
        .collect();
    let _ = writeln!(s, "# Datasheet: {} {}\n", pl.dataset.title, f.version);
    let _ = writeln!(s, "Generated by opentape {} on {} from pipeline `{}`. Structure after Gebru et al., \"Datasheets for Datasets\" (2021).\n",
        env!("CARGO_PKG_VERSION"), f.created, pl.path.file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default());
    let _ = writeln!(s, "## 1. Motivation\n\n{} It exists so that body measurements can be studied (sizing, ergonomics, regression on body dimensions) without exposing the people who shared them.\n", pl.dataset.description);
    let _ = writeln!(s, "## 2. Composition\n\n- {rows} rows, one per released person; {} columns: categories {:?} and {} measurements (integers, in the unit of each column; see datapackage.json).", f.table.category_names.len() + f.table.columns.len(), f.table.category_names, f.table.columns.len());
    let _ = writeln!(s, "- Rows come in {} classes of at least k = {k} distinct owners (accounts); all rows of a class are identical. There are no identifiers, no row ids, no class ids, no dates.", f.partition.classes.len());
    let _ = writeln!(
        s,
        "- Row order carries no meaning (rows are sorted by value).\n"
    );
    if let Some(p) = &f.analysis.pooled {
        sparse_composition(&mut s, f, p);
    }
    let _ = writeln!(s, "## 3. Collection process\n\nRecords were read from a {} export. {} person records and {} user records were read.\n", pl.format.name(), c.records_read, c.users_read);
    if matches!(
        pl.format,
        crate::pipeline::Format::FreesewingSqlite | crate::pipeline::Format::FreesewingV3
    ) {
        let _ = writeln!(s, "Readings taken to be safe where FreeSewing's source leaves a doubt (to confirm with the platform's maintainer): the v3 name `waistToArmhole` is read as the v4 `waistToArmpit` (the backend renamed it in v4; a v3 set never updated since keeps the old name); values are millimetres (degrees for `shoulderSlope`) whatever the account's `imperial` display setting; a set is published only when its owner's account passes every rule below at the time of the snapshot.\n");
    }
    use crate::pipeline::{ConsentRule, RetentionRule};
    let consent = match &pl.filters.consent.rule {
        ConsentRule::Waived(w) => format!("waived: {w}"),
        ConsentRule::AtLeast { field, min } => format!("kept only owners with `{field}` >= {min}"),
        ConsentRule::Equals { field, value } => {
            format!("kept only owners with `{field}` = {value}")
        }
    };
    let rule = &pl.filters.consent;
    let mut consent = consent;
    for f in &rule.also_true {
        consent.push_str(&format!(" and `{f}` = true"));
    }
    if !rule.any_true.is_empty() {
        let any: Vec<String> = rule
            .any_true
            .iter()
            .map(|f| format!("`{f}` = true"))
            .collect();
        consent.push_str(&format!(" and ({})", any.join(" or ")));
    }
    let retention = match &pl.filters.retention {
        RetentionRule::Waived(w) => format!("waived: {w}"),
        RetentionRule::MaxAge { field, days } => format!(
            "dropped owners whose `{field}` is more than {days} days before {}",
            f.as_of
        ),
    };
    let account = pl.filters.account.as_ref().map(|a| {
        let mut rules = Vec::new();
        if let (Some(f), Some(v)) = (&a.status_field, &a.active) {
            rules.push(format!("kept only owners with `{f}` = {v}"));
        }
        if let Some(f) = &a.role_field {
            rules.push(format!("dropped owners whose `{f}` is one of {:?}", a.refused_roles));
        }
        if let Some(f) = &a.email_field {
            rules.push(format!("dropped test accounts (the domain of `{f}`, decrypted in memory only, is one of {:?})", a.test_domains));
        }
        format!("\n- Accounts: {}.", rules.join("; "))
    });
    let t = &f.counts.tally;
    let copies = if t.get(crate::record::Reason::CuratedCopy)
        + t.get(crate::record::Reason::OtherOwnersCopy)
        > 0
    {
        " A set equal to a public reference (curated) set, or exactly equal to another owner's set (a cloned public set), is not counted as a body of its own."
    } else {
        ""
    };
    let counted = match (pl.filters.consent.count_value, f.counts.consent_value_owners) {
        (Some(v), Some(n)) => format!(" Of the eligible owners, {n} hold the consent value {v}, counted on its own: on FreeSewing 3 is the pre-launch level whose third checkbox was \"open data\", so it includes consent to open data."),
        _ => String::new(),
    };
    let plausibility = if f.analysis.pooled.is_some() {
        format!("values outside the catalog ranges, negative or non-numeric sent records to quarantine (not published); malformed and encrypted records too. A measurement the owner did not enter is not a fault: a record is released with the values its measurement pattern holds (records with fewer than {} measurements are dropped)", pl.filters.plausibility.min_measurements)
    } else {
        "values outside the catalog ranges, negative, non-numeric or missing sent records to quarantine (not published); malformed and encrypted records too".to_string()
    };
    let dedupe = if f.analysis.pooled.is_some() {
        "records of one owner within {} of each other on every measurement both hold, one holding no measurement the other lacks, count once (the one holding more is kept)"
    } else {
        "records of one owner within {} of each other on every measurement count once"
    }
    .replace("{}", &pl.filters.dedupe.tolerance.to_string());
    let _ = writeln!(s, "## 4. Preprocessing and anonymization\n\n- Consent: {consent}.{counted}{}\n- Retention: {retention}.\n- Plausibility: {plausibility}.\n- Dedupe: {dedupe}.{}", account.unwrap_or_default(), copies);
    let _ = writeln!(
        s,
        "- Dropped: {}.",
        if dropped.is_empty() {
            "none".to_string()
        } else {
            dropped.join(", ")
        }
    );
    let _ = writeln!(s, "- Every field of the input had a declared role; identifiers (ids, names, emails, notes, images, handles, timestamps) were dropped when read.");
    let _ = writeln!(s, "- {} eligible people; partitioned by strict multidimensional Mondrian over {} measurements within each category combination, every class holding at least k = {k} distinct owners; {} people suppressed.", c.eligible_people, match pl.release.partition_space { crate::pipeline::PartitionSpace::Standardized => "standardized", crate::pipeline::PartitionSpace::Whitened => "whitened (decorrelated, unit-variance)" }, f.partition.suppressed.len());
    let _ = writeln!(s, "- Representation: {:?}; moments: {}; discrete Laplace noise of scale {} (in each column's unit), drawn once per class and column from a keyed generator; values clamped to the plausible range: {}.\n",
        pl.release.representation, pl.release.moments_summary(), pl.release.noise_scale, f.table.clamped);
    let _ = writeln!(s, "### Guarantees that hold (checked by `opentape verify` before publishing)\n\n- Every combination of released values appears at least {k} times; classes hold at least {k} distinct owners.\n- No column or cell looks like an identifier (email, URL, IP, UUID, phone, handle, date, free text).\n- Files match their sha256 (SHA256SUMS, manifest.json); CSV and Parquet hold the same rows.\n- The noise key appears in no file; values lie in the declared ranges.\n");
    let _ = writeln!(s, "### Known limits\n\n- k-anonymity protects against re-identification by matching released rows; it does not stop inference about a whole class (everyone in a class shares its values).\n{}- Small categories with fewer than k owners are suppressed entirely, so rare bodies are under-represented.\n- Statistics of the released table differ from the eligible data: see `utility` in manifest.json (per-measurement mean and standard deviation errors, correlation change, against the release's noisy figures of the eligible people).\n", method_limits(pl));
    let _ = writeln!(s, "## 5. Uses\n\nSizing studies, anthropometric statistics, ergonomics, teaching. Not for: identifying, contacting or profiling anyone; individual-level medical conclusions.\n");
    let _ = writeln!(s, "## 6. Distribution\n\nFiles: measurements.parquet, measurements.csv (same rows), datapackage.json (Frictionless), croissant.json, CITATION.cff, manifest.json, SHA256SUMS. License: {}. Cite as: {}\n", pl.dataset.license, citation_text(f));
    let _ = writeln!(s, "## 7. Maintenance\n\nVersions follow SemVer: a column added, removed or renamed is a major version; new rows a minor one; corrected values a patch. A published version is never changed; CHANGELOG.md beside the versions lists what changed.\n");
    series_section(&mut s, f);
    s
}

/// What a series of versions guarantees and what it does not, in plain words.
fn series_section(s: &mut String, f: &Facts) {
    let x = f.series;
    let now = match x.kind {
        "patch" => format!("This version is a patch: it publishes the previous version's rows unchanged. {} people left since then; their classes keep their rows ({} rows in this version belong to people who have left).", x.left, x.counterfeit_rows),
        "minor" => format!("This version is a minor version: the previous version's rows are unchanged, and {} new classes were made among new people only ({} rows in this version belong to people who have left).", x.new_classes, x.counterfeit_rows),
        "major" => "This version is a re-cut (a major version): everyone was placed again, with fresh noise.".to_string(),
        _ => "This is the first version of the series.".to_string(),
    };
    let _ = writeln!(s, "### Versions as a series\n\n{now}\n\n- What a series guarantees: an attacker who holds every version learns about a person no more than one release tells about a person whose class is known. A person who stays keeps their class and its row, byte for byte; a person who withdraws consent leaves their class's rows as they were (the row was computed while they consented and describes a class of at least k people, not them), so nothing changes that could single them out; new people wait until enough of them form classes of their own. The documents give no exact figure about the eligible people: their means, spreads and correlations are the release's noisy figures.\n- Budget: {}\n- What it does not guarantee: a withdrawn person's class row stays published until a re-cut (a major version) drops it; counts of people (eligible, released, per measurement) are exact, so a version tells how many people joined or left, not who; the noise is sized to hide one person's share between two versions, and averaging many versions wears it down as the budget grows (the cap bounds it); the private series ledger must be kept: without it the next version must be a re-cut.", x.sentence());
}

/// The known limits of the method that placed the class values, from the project's measured
/// frontier (BENCHMARKS.md, "Privacy-utility frontier", ANSUR II).
fn method_limits(pl: &crate::pipeline::Pipeline) -> &'static str {
    use crate::pipeline::Moments;
    match pl.release.moments {
        Moments::Quantile => "- A class's row is placed so that the table keeps the eligible people's mean, covariance and (k-smoothed) distribution of each measurement, within each category combination; it is a plausible body, but not the average of the class's members, and it lies farther from them than a class mean would. Use the rows for statistics, never as anyone's measurements: per person, the released values are off by more than with plain class means (on a 5-measurement table of 100,000 people, 13 mm on average against 9 mm).\n- Measured on ANSUR II (2012 US Army survey, 80/20 split, k = 10, 5 attack seeds; BENCHMARKS.md): anonymeter's singling-out attack with a control set as large as the attacked set succeeds no more often than on a release that holds no information about anyone (difference 0.013, resolution about 0.02); linkability of the distinct rows 0.002; the nearest row to a person's own values is their class's row for 7% of people. These tests were run on one dataset; they cannot show that no other attack works. Scored with anonymeter's default size correction (a control set a quarter the size), singling out reads about 0.10 for this release and 0.07 for a release with no information about anyone, while plain class means read 0: that figure measures how much the rows spread like people, not what they reveal.\n- In a category combination with no more classes than measurements (a large k, or few people) the covariance can only be approached (the closest of that rank); on ANSUR II at k = 20 the rows were also more linkable than at k = 10 (class-level linkability 0.06 against below 0).\n",
        Moments::Restore => "- Class values are moved toward the original covariance (moments = restore) by one linear map per category combination; at strengths below 1 spreads stay narrower than the data's (on ANSUR II at k = 10 and strength 0.7: standard deviations up to 25% low, correlations up to 0.12 off; BENCHMARKS.md).\n",
        Moments::None => "- Released values are plain class means: spreads are narrower than the data's and correlations are distorted (on ANSUR II at k = 10: standard deviations up to 62% low; BENCHMARKS.md).\n",
    }
}
