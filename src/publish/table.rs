//! The released table as Parquet and CSV (polars), written in batches of rows.

use super::layout::{CSV, PARQUET};
use crate::anonymize::Table;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use polars::prelude::*;
use std::path::Path;

/// Rows `range` of the table as a DataFrame (categories as text, measurements as Int64).
pub fn dataframe(t: &Table, range: std::ops::Range<usize>) -> PolarsResult<DataFrame> {
    use rayon::prelude::*;
    let n = range.len();
    // Each row's category values and class values, looked up once (not once per cell);
    // then the columns side by side.
    let rows: Vec<(&[String], &[Option<i64>])> = range.map(|i| t.row(i)).collect();
    let mut cols: Vec<Column> = t
        .category_names
        .par_iter()
        .enumerate()
        .map(|(ci, name)| {
            let v: Vec<&str> = rows.iter().map(|r| r.0[ci].as_str()).collect();
            Column::new(name.as_str().into(), v)
        })
        .collect();
    cols.par_extend(t.columns.par_iter().enumerate().map(|(j, name)| {
        let v: Vec<Option<i64>> = rows.iter().map(|r| r.1[j]).collect();
        Column::new(name.as_str().into(), v)
    }));
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

/// Writes the table into `dir` (a staging folder) as Parquet (zstd, statistics, key-value
/// metadata) and CSV, in batches.
pub fn write(dir: &Path, pl: &Pipeline, version: &str, table: &Table) -> Result<()> {
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
        ("opentape.dataset_version".into(), version.into()),
        ("opentape.k".into(), pl.release.k.to_string()),
        (
            "opentape.representation".into(),
            format!("{:?}", pl.release.representation).to_lowercase(),
        ),
    ]);
    let schema = dataframe(table, 0..0)
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
        // Each batch goes to both writers side by side (the Parquet encoder and the CSV
        // serializer each leave a core idle part of the time); each file still gets its
        // batches in order.
        for range in batches(table) {
            let df = dataframe(table, range).map_err(polars_err(dir))?;
            let (p, c) = rayon::join(|| pq_w.write_batch(&df), || csv_w.write_batch(&df));
            p.map_err(polars_err(&pq))?;
            c.map_err(polars_err(&csv))?;
        }
        let (p, c) = rayon::join(|| pq_w.finish(), || csv_w.finish());
        p.map_err(polars_err(&pq))?;
        c.map_err(polars_err(&csv))?;
    }
    let (p, c) = rayon::join(|| pq_file.sync_all(), || csv_file.sync_all());
    p.map_err(|e| Error::io(&pq, e))?;
    c.map_err(|e| Error::io(&csv, e))?;
    Ok(())
}
