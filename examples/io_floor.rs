//! The I/O floor of a release, for `benches/scale.sh` and `benches/ansur_scale.sh`: read
//! the same input with polars' own reader (NDJSON: a FreeSewing v3 export's sets and users;
//! CSV: a wide table's two files, types inferred; all threads), and write the same table
//! the release wrote (read back from its Parquet file, a few MB) as Parquet (zstd) and
//! CSV. No roles, no filtering, no anonymization, no checks: what any tool has to spend
//! just to move these bytes. (polars' reader stops at a syntax error, so the harness
//! gives it the export without the sample's one deliberately truncated line.) For a
//! FreeSewing backend database (`.sqlite`): its `Set` and `User` tables read by a plain
//! `SELECT *` (every column as text, nothing decrypted) into polars columns.
//!
//! usage: cargo run --example io_floor -- INPUT1 INPUT2 RELEASE.parquet OUT_DIR
//!   (each input .ndjson or .csv: sets + users, or a table's two files;
//!    or DB.sqlite - : the database's Set and User tables)

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
    let (sets, users) = if a[0].ends_with(".sqlite") {
        let db = rusqlite::Connection::open(&a[0]).expect("open database");
        (sqlite_table(&db, "Set")?, sqlite_table(&db, "User")?)
    } else {
        (read(&a[0])?, read(&a[1])?)
    };
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

/// A table read by a plain query, every column as text (NULL as null).
fn sqlite_table(db: &rusqlite::Connection, table: &str) -> PolarsResult<DataFrame> {
    use rusqlite::types::ValueRef;
    let mut st = db
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .expect("query");
    let names: Vec<String> = st.column_names().map(|s| s.to_string()).collect();
    let mut cols: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    let mut rows = st.query([]).expect("rows");
    while let Some(row) = rows.next().expect("row") {
        for (j, col) in cols.iter_mut().enumerate() {
            col.push(match row.get_ref(j).expect("cell") {
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(f) => Some(f.to_string()),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Some(String::from_utf8_lossy(t).into_owned())
                }
            });
        }
    }
    let height = cols.first().map_or(0, Vec::len);
    let columns: Vec<Column> = names
        .iter()
        .zip(cols)
        .map(|(n, c)| Column::new(n.as_str().into(), c))
        .collect();
    DataFrame::new(height, columns)
}
