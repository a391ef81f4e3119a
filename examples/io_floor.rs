//! The I/O floor of a release, for `benches/scale.sh` and `benches/ansur_scale.sh`: read
//! the same input with polars' own reader (NDJSON: a FreeSewing v3 export's sets and users;
//! CSV: a wide table's two files, types inferred; all threads), and write the same table
//! the release wrote (read back from its Parquet file, a few MB) as Parquet (zstd) and
//! CSV. No roles, no filtering, no anonymization, no checks: what any tool has to spend
//! just to move these bytes. (polars' reader stops at a syntax error, so the harness
//! gives it the export without the sample's one deliberately truncated line.)
//!
//! usage: cargo run --example io_floor -- INPUT1 INPUT2 RELEASE.parquet OUT_DIR
//!   (each input .ndjson or .csv: sets + users, or a table's two files)

use polars::prelude::*;
use std::path::PathBuf;

fn main() -> PolarsResult<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    assert_eq!(
        a.len(),
        4,
        "usage: io_floor INPUT1 INPUT2 RELEASE.parquet OUT_DIR"
    );
    let read = |p: &str| {
        if p.ends_with(".csv") {
            // Windows-1252 bytes (the ANSUR II male file) read as lossy UTF-8.
            CsvReadOptions::default()
                .with_has_header(true)
                .with_parse_options(
                    CsvParseOptions::default().with_encoding(CsvEncoding::LossyUtf8),
                )
                .try_into_reader_with_file_path(Some(p.into()))?
                .finish()
        } else {
            JsonReader::new(std::fs::File::open(p).expect("open input"))
                .with_json_format(JsonFormat::JsonLines)
                .finish()
        }
    };
    let sets = read(&a[0])?;
    let users = read(&a[1])?;
    let mut table =
        ParquetReader::new(std::fs::File::open(&a[2]).expect("open release")).finish()?;
    let out = PathBuf::from(&a[3]);
    std::fs::create_dir_all(&out).expect("create OUT_DIR");
    ParquetWriter::new(std::fs::File::create(out.join("floor.parquet")).expect("create"))
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::default())
        .finish(&mut table)?;
    let mut csv = std::fs::File::create(out.join("floor.csv")).expect("create");
    CsvWriter::new(&mut csv)
        .include_header(true)
        .finish(&mut table)?;
    csv.sync_all().expect("sync");
    eprintln!(
        "io_floor: read {} and {} rows, wrote {} rows x {} columns",
        sets.height(),
        users.height(),
        table.height(),
        table.width()
    );
    Ok(())
}
