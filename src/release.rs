//! Writing a release: staged in a hidden folder beside the target, checked, then renamed
//! into place in one step. A version that exists is never touched; an interrupted run
//! leaves no folder named after the version.

use crate::anonymize::noise::NoiseKey;
use crate::anonymize::{Partition, Table};
use crate::docs;
use crate::error::{Error, Result};
use crate::filter::Eligible;
use crate::pipeline::{Moments, PartitionSpace, Pipeline};
use polars::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const PARQUET: &str = "measurements.parquet";
pub const CSV: &str = "measurements.csv";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";

/// `MAJOR.MINOR.PATCH`, digits only.
pub fn check_version(v: &str) -> Result<()> {
    let parts: Vec<&str> = v.split('.').collect();
    let ok = parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--version `{v}` is not a SemVer version such as 1.0.0"
        )))
    }
}

/// Everything the manifest says about a run, except the files (added when written).
pub struct Facts<'a> {
    pub pl: &'a Pipeline,
    pub version: &'a str,
    pub created: &'a str,
    pub as_of: &'a str,
    pub eligible: &'a Eligible,
    pub partition: &'a Partition,
    pub table: &'a Table,
    pub key: &'a NoiseKey,
    /// The linkage check's figures (nearest-neighbour share, owners per class).
    pub linkage: Option<&'a Value>,
    /// Per-stratum columns, sorted copies and correlations (utility and report).
    pub analysis: &'a crate::assess::utility::Analysis,
}

/// Rows `range` of the table as a DataFrame (categories as text, measurements as Int64).
pub fn dataframe(t: &Table, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    let n = range.len();
    let mut cols = Vec::new();
    for (ci, name) in t.category_names.iter().enumerate() {
        let v: Vec<&str> = range.clone().map(|i| t.row(i).0[ci].as_str()).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    for (j, name) in t.columns.iter().enumerate() {
        let v: Vec<Option<i64>> = range.clone().map(|i| t.row(i).1[j]).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    DataFrame::new(n, cols)
}

/// Rows per batch when writing: memory holds one batch, not the table.
const WRITE_BATCH: usize = 1 << 18;

/// Batches of at most [`WRITE_BATCH`] rows (one empty batch for an empty table).
fn batches(t: &Table) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let n = t.rows();
    (0..n.div_ceil(WRITE_BATCH).max(1))
        .map(move |b| b * WRITE_BATCH..((b + 1) * WRITE_BATCH).min(n))
}

/// Whether `t` is the table published in the Parquet file at `path` (same columns,
/// types, rows and order; missing values equal).
pub fn same_table(t: &Table, path: &Path) -> Result<bool> {
    let made = dataframe(t, 0..t.rows())
        .map_err(|e| Error::input(path, format!("cannot build table: {e}")))?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let published = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
    Ok(made.equals_missing(&published))
}

fn manifest(f: &Facts, files: &[(String, u64, String)]) -> Value {
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
                "reproducible": f.key.reproducible,
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
            "records_read": f.eligible.records_read,
            "users_read": f.eligible.users_read,
            "dropped": f.eligible.tally,
            "eligible_people": f.eligible.people.len(),
            "eligible_owners": f.eligible.owners(),
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
    if let (Some(v), Some(n)) = (c.count_value, f.eligible.consent_value_owners) {
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

/// Writes the release files into `dir` (a staging folder): the table, then the report,
/// documents, manifest and checksums. `stage` is told when the second part starts.
pub fn write(dir: &Path, f: &Facts, stage: &dyn Fn(&str)) -> Result<()> {
    let pl = f.pl;
    let polars_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e: PolarsError| Error::input(p, format!("cannot write: {e}"))
    };
    let pq = dir.join(PARQUET);
    let meta = KeyValueMetadata::from_static(vec![
        (
            "opentape.tool_version".into(),
            env!("CARGO_PKG_VERSION").into(),
        ),
        ("opentape.dataset".into(), pl.dataset.name.clone()),
        ("opentape.dataset_version".into(), f.version.into()),
        ("opentape.k".into(), pl.release.k.to_string()),
        (
            "opentape.representation".into(),
            format!("{:?}", pl.release.representation).to_lowercase(),
        ),
    ]);
    let schema = dataframe(f.table, 0..0)
        .map_err(polars_err(dir))?
        .schema()
        .clone();
    let csv = dir.join(CSV);
    let pq_file = std::fs::File::create(&pq).map_err(|e| Error::io(&pq, e))?;
    let mut csv_file = std::fs::File::create(&csv).map_err(|e| Error::io(&csv, e))?;
    {
        let mut pq_w = ParquetWriter::new(&pq_file)
            .with_compression(ParquetCompression::Zstd(None))
            .with_statistics(StatisticsOptions::default())
            .with_key_value_metadata(Some(meta))
            .batched(&schema)
            .map_err(polars_err(&pq))?;
        let mut csv_w = CsvWriter::new(&mut csv_file)
            .include_header(true)
            .batched(&schema)
            .map_err(polars_err(&csv))?;
        for range in batches(f.table) {
            let df = dataframe(f.table, range).map_err(polars_err(dir))?;
            pq_w.write_batch(&df).map_err(polars_err(&pq))?;
            csv_w.write_batch(&df).map_err(polars_err(&csv))?;
        }
        pq_w.finish().map_err(polars_err(&pq))?;
        csv_w.finish().map_err(polars_err(&csv))?;
    }
    pq_file.sync_all().map_err(|e| Error::io(&pq, e))?;
    csv_file.sync_all().map_err(|e| Error::io(&csv, e))?;

    stage("computing the report and documents");
    let (pq_bytes, pq_sha) = sha256_file(&dir.join(PARQUET))?;
    let (csv_bytes, csv_sha) = sha256_file(&dir.join(CSV))?;
    let report = crate::report::build(f, &crate::assess::risk::uniqueness(f.eligible));
    let docs = [
        (crate::report::JSON, pretty(&report)),
        (crate::report::HTML, crate::report::html(&report)),
        (
            docs::DATAPACKAGE,
            pretty(&docs::datapackage(f, (csv_bytes, &csv_sha))),
        ),
        (
            docs::CROISSANT,
            pretty(&docs::croissant(f, &pq_sha, &csv_sha)),
        ),
        (docs::CITATION, docs::citation_cff(f)),
        (docs::DATASHEET, docs::datasheet(f)),
    ];
    for (name, text) in &docs {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
    }
    let mut files = vec![
        (PARQUET.to_string(), pq_bytes, pq_sha),
        (CSV.to_string(), csv_bytes, csv_sha),
    ];
    for (name, _) in &docs {
        let (bytes, sha) = sha256_file(&dir.join(name))?;
        files.push((name.to_string(), bytes, sha));
    }
    let m = manifest(f, &files);
    let mpath = dir.join(MANIFEST);
    std::fs::write(
        &mpath,
        serde_json::to_string_pretty(&m).expect("JSON") + "\n",
    )
    .map_err(|e| Error::io(&mpath, e))?;
    let mut sums = String::new();
    for name in files.iter().map(|f| f.0.as_str()).chain([MANIFEST]) {
        let (_, sha) = sha256_file(&dir.join(name))?;
        sums.push_str(&format!("{sha}  {name}\n"));
    }
    let spath = dir.join(SUMS);
    std::fs::write(&spath, sums).map_err(|e| Error::io(&spath, e))?;
    Ok(())
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON") + "\n"
}

/// A staging folder beside the target; removed on drop unless published.
pub struct Staging {
    pub dir: PathBuf,
    published: bool,
}

impl Staging {
    pub fn new(out: &Path, version: &str) -> Result<Staging> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        // Staging folders of runs that were killed (their process is gone) are removed.
        let prefix = format!(".staging-{version}-");
        for entry in std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(&prefix) {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = out.join(format!(".staging-{version}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            published: false,
        })
    }

    /// Renames the staging folder to the version folder: one atomic step. Fails, touching
    /// nothing, if the version folder exists.
    pub fn publish(mut self, target: &Path) -> Result<()> {
        if target.exists() {
            return Err(Error::Refused(format!(
                "{} exists: a published version is never overwritten",
                target.display()
            )));
        }
        for entry in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let p = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, e))?;
        }
        std::fs::rename(&self.dir, target).map_err(|e| Error::io(target, e))?;
        if let Some(parent) = target.parent() {
            let _ = std::fs::File::open(parent).and_then(|f| f.sync_all());
        }
        self.published = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
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

/// One release's Keep a Changelog entry, from its manifest and the previous version's.
fn changelog_entry(m: &Value, before: Option<&Value>) -> String {
    let c = &m["counts"];
    let p = &m["parameters"];
    let summary = format!(
        "{} rows ({} eligible people, {} suppressed) in {} classes of at least k = {} distinct owners; representation {}, moments {}, discrete Laplace noise scale {}.",
        c["released_rows"],
        c["eligible_people"],
        c["suppressed"],
        c["classes"],
        p["k"],
        p["representation"].as_str().unwrap_or("?"),
        p["moments"]["summary"].as_str().unwrap_or("?"),
        p["noise"]["scale"],
    );
    let sections = match before {
        None => format!("\n### Added\n\n- First release: {summary}\n"),
        Some(b) => format!(
            "\n{summary}\n{}",
            crate::versions::changelog_lines(&crate::versions::compare(b, m))
        ),
    };
    format!(
        "\n## [{}] - {}\n{sections}",
        m["dataset"]["version"].as_str().unwrap_or("?"),
        m["dataset"]["created"].as_str().unwrap_or("?")
    )
}

/// Rewrites `<out>/CHANGELOG.md` (Keep a Changelog, newest first) and `<out>/latest`
/// from the manifests of every published version. Both are derived, never appended to:
/// a run killed between publishing a version and updating them is repaired by the next
/// run. Written to a temp file and renamed so a crash never leaves half a changelog.
pub fn write_index(out: &Path) -> Result<()> {
    let versions = crate::versions::published(out);
    let Some((latest, _)) = versions.last() else {
        return Ok(());
    };
    let mut entries = Vec::new();
    let mut before: Option<Value> = None;
    for (_, dir) in &versions {
        let m = crate::versions::read_manifest(dir)?;
        entries.push(changelog_entry(&m, before.as_ref()));
        before = Some(m);
    }
    entries.reverse();
    let text = format!(
        "# Changelog\n\nAll releases of this dataset, newest first. Format: Keep a Changelog; versions: SemVer.\n{}",
        entries.concat()
    );
    replace_file(&out.join("CHANGELOG.md"), &text)?;
    replace_file(&out.join("latest"), &format!("{latest}\n"))
}

/// Writes `path` through a hidden temp file beside it and a rename.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{}.tmp", name.unwrap_or_default()));
    let mut w = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    w.write_all(text.as_bytes())
        .and_then(|_| w.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Refuses a private folder inside the release folder, lexically and, once both exist,
/// after resolving symbolic links.
fn check_private_dir(dir: &Path, out: &Path) -> Result<()> {
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
    let path = dir.join("dropped.csv");
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
/// to rows.
fn write_membership(dir: &Path, e: &Eligible, part: &Partition, t: &Table) -> Result<()> {
    let mut rows: Vec<(u32, String)> = Vec::with_capacity(e.people.len());
    for (ci, c) in part.classes.iter().enumerate() {
        for &m in &c.members {
            rows.push((m, format!("{ci},{}", t.class_rows[ci])));
        }
    }
    for &m in &part.suppressed {
        rows.push((m, ",".into()));
    }
    rows.sort_unstable();
    let mut text = String::from("record,class,row\n");
    for (m, rest) in rows {
        let rec = e.record_key(e.people[m as usize].at).replace('"', "\"\"");
        text.push_str(&format!("\"{rec}\",{rest}\n"));
    }
    let path = dir.join("membership.csv");
    std::fs::write(&path, text).map_err(|er| Error::io(&path, er))
}

/// What a release run produced, for the command's report.
#[derive(Debug, serde::Serialize)]
pub struct Outcome {
    pub target: PathBuf,
    pub rows: usize,
    pub classes: usize,
    pub suppressed: usize,
    pub eligible: usize,
    pub reproducible: bool,
    pub private: Option<PathBuf>,
}

/// Called with the name of each stage as it starts.
pub type StageHook<'a> = Box<dyn Fn(&str) + 'a>;

pub struct Options<'a> {
    pub version: String,
    pub out: PathBuf,
    pub private_dir: Option<PathBuf>,
    pub as_of: i64,
    /// Release date (YYYY-MM-DD): an injectable clock, so tests are reproducible.
    pub created: String,
    pub key: NoiseKey,
    /// Told the name of each stage as it starts (progress display).
    pub on_stage: Option<StageHook<'a>>,
    /// Counts bytes read and people placed (progress display).
    pub meter: Option<&'a crate::progress::Meter>,
    /// Size guards and the store key (FreeSewing's backend database).
    pub read: crate::read::ReadOptions,
}

/// The anonymized table and what it was made from, before anything is written.
pub struct Run {
    pub eligible: Eligible,
    pub partition: Partition,
    pub table: Table,
    /// The linkage check's figures (it passed, or the run was refused).
    pub linkage: Option<Value>,
    pub analysis: crate::assess::utility::Analysis,
}

impl Options<'_> {
    /// Tells the hook, if any, that stage `s` starts.
    fn stage(&self, s: &str) {
        if let Some(f) = &self.on_stage {
            f(s)
        }
    }
}

/// Read, filter, partition, generalize and check linkage: everything of a release but
/// the files. Refuses (nothing written) when a guarantee or a limit does not hold. With
/// `o.private_dir`, dropped.csv is written there once the export is filtered.
pub fn anonymize(pl: &Pipeline, inputs: &[PathBuf], o: &Options) -> Result<(Run, Option<PathBuf>)> {
    let stage = |s: &str| o.stage(s);
    let quiet = crate::progress::Meter::default();
    let meter = o.meter.unwrap_or(&quiet);
    stage("reading the export");
    let export = crate::read::read_metered(
        pl,
        inputs,
        &crate::read::ReadOptions {
            as_of: Some(o.as_of),
            ..o.read.clone()
        },
        meter,
    )?;
    meter.stop();
    stage("filtering");
    let eligible = crate::filter::apply(pl, export, o.as_of);
    let private = match &o.private_dir {
        Some(d) => Some(write_private(d, &o.out, &eligible)?),
        None => None,
    };
    let rejected = eligible.rejected_share();
    if rejected > pl.filters.plausibility.max_rejected {
        return Err(Error::Refused(format!(
            "{:.2}% of {} records are malformed or implausible, more than max_rejected = {:.2}%: \
             a release from this export could be biased (see --private-dir for where they are)",
            rejected * 100.0,
            eligible.records_read,
            pl.filters.plausibility.max_rejected * 100.0
        )));
    }
    if eligible.people.is_empty() {
        return Err(Error::Refused(
            "no eligible people: nothing to release".into(),
        ));
    }
    stage("partitioning into k-anonymous classes");
    let partition = crate::anonymize::partition_metered(pl, &eligible, meter);
    meter.stop();
    let suppressed = partition.suppressed.len() as f64 / eligible.people.len() as f64;
    if suppressed > pl.release.max_suppressed {
        return Err(Error::Refused(format!(
            "{} of {} eligible people ({:.2}%) cannot be placed in a class of k = {} distinct owners, more than max_suppressed = {:.2}%",
            partition.suppressed.len(),
            eligible.people.len(),
            suppressed * 100.0,
            pl.release.k,
            pl.release.max_suppressed * 100.0
        )));
    }
    stage("generalizing, restoring moments and adding noise");
    let table =
        crate::anonymize::generalize(pl, &eligible, &partition, &o.key, &eligible.owner_keys);
    stage("checking linkage against the source");
    let link = crate::assess::linkage::linkage(pl, &eligible, &partition, &table);
    if !link.ok {
        return Err(Error::Refused(format!(
            "the linkage check fails on the anonymized table; nothing was written: {} ({})",
            link.detail,
            link.problems.join("; ")
        )));
    }
    stage("measuring utility");
    let analysis = crate::assess::utility::analyse(pl, &eligible, &partition, &table);
    let run = Run {
        eligible,
        partition,
        table,
        linkage: link.figures,
        analysis,
    };
    Ok((run, private))
}

impl Run {
    pub fn facts<'a>(&'a self, pl: &'a Pipeline, o: &'a Options, as_of: &'a str) -> Facts<'a> {
        Facts {
            linkage: self.linkage.as_ref(),
            analysis: &self.analysis,
            pl,
            version: &o.version,
            created: &o.created,
            as_of,
            eligible: &self.eligible,
            partition: &self.partition,
            table: &self.table,
            key: &o.key,
        }
    }
}

/// The main job: read, filter, partition, generalize, write to staging, check, publish.
pub fn release(pl: &Pipeline, inputs: &[PathBuf], o: &Options) -> Result<Outcome> {
    let stage = |s: &str| o.stage(s);
    check_version(&o.version)?;
    let target = o.out.join(&o.version);
    if target.exists() {
        return Err(Error::Refused(format!(
            "{} exists: a published version is never overwritten; choose a new version",
            target.display()
        )));
    }
    if let Some(d) = &o.private_dir {
        check_private_dir(d, &o.out)?;
    }
    // A run killed after publishing its version left the changelog behind: catch up.
    write_index(&o.out)?;
    let (run, private) = anonymize(pl, inputs, o)?;
    let as_of = crate::filter::format_date(o.as_of);
    let facts = run.facts(pl, o, &as_of);
    if let Some(d) = &o.private_dir {
        write_membership(d, &run.eligible, &run.partition, &run.table)?;
    }
    let staging = Staging::new(&o.out, &o.version)?;
    stage("writing Parquet and CSV");
    write(&staging.dir, &facts, &stage)?;
    stage("verifying the staged release");
    check_staged(
        &staging.dir,
        pl.release.k,
        &o.key,
        o.read.store_key.as_deref(),
    )?;
    if let Some((latest, dir)) = crate::versions::published(&o.out).last() {
        let before = crate::versions::read_manifest(dir)?;
        let after = crate::versions::read_manifest(&staging.dir)?;
        let c = crate::versions::compare(&before, &after);
        let new = crate::versions::Version::parse(&o.version).expect("checked above");
        crate::versions::check_bump(*latest, new, &c)?;
    }
    stage("publishing");
    staging.publish(&target)?;
    write_index(&o.out)?;
    Ok(Outcome {
        target,
        rows: run.table.rows(),
        classes: run.partition.classes.len(),
        suppressed: run.partition.suppressed.len(),
        eligible: run.eligible.people.len(),
        reproducible: o.key.reproducible,
        private,
    })
}

/// The independent checker (`opentape-verify`) on the staged files: nothing is published
/// unless every guarantee holds.
fn check_staged(
    dir: &Path,
    k: usize,
    key: &NoiseKey,
    store_key: Option<&crate::read::decrypt::StoreKey>,
) -> Result<()> {
    let opts = opentape_verify::Options {
        min_k: k,
        key: Some(key.bytes().to_vec()),
        store_key: store_key.map(|s| s.text().to_string()),
        source: None,
    };
    let report =
        opentape_verify::verify(dir, &opts).map_err(|e| Error::input(dir, e.to_string()))?;
    if !report.ok {
        return Err(Error::Refused(format!(
            "the staged release fails verification ({}); nothing was published:\n{report}",
            report.failed().join(", ")
        )));
    }
    Ok(())
}
