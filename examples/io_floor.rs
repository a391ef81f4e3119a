//! The I/O floor of a release, for `benches/scale.sh`: read the same FreeSewing v3 export
//! with polars' own NDJSON reader (sets and users, all threads), and write a table of the
//! released shape (the measurement columns, as many rows as the release has) as Parquet
//! (zstd) and CSV. No roles, no filtering, no anonymization, no checks: what any tool
//! has to spend just to move these bytes.
//!
//! usage: cargo run --example io_floor -- SETS.ndjson USERS.ndjson OUT_DIR ROWS

use polars::prelude::*;
use std::path::PathBuf;

fn main() -> PolarsResult<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    assert_eq!(
        a.len(),
        4,
        "usage: io_floor SETS.ndjson USERS.ndjson OUT_DIR ROWS"
    );
    let read = |p: &str| {
        JsonReader::new(std::fs::File::open(p).expect("open input"))
            .with_json_format(JsonFormat::JsonLines)
            // The samples hold deliberately malformed lines (quarantine tests).
            .with_ignore_errors(true)
            .finish()
    };
    let sets = read(&a[0])?;
    let users = read(&a[1])?;
    let rows: usize = a[3].parse().expect("ROWS");
    let mut table = sets
        .select(["measies"])?
        .unnest(["measies"], None)?
        .head(Some(rows));
    let out = PathBuf::from(&a[2]);
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
        "io_floor: read {} sets and {} users, wrote {} rows x {} columns",
        sets.height(),
        users.height(),
        table.height(),
        table.width()
    );
    Ok(())
}
