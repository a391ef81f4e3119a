//! Wide tables (CSV, Parquet, NDJSON): one row per person, columns mapped to roles by the
//! pipeline. Read with polars. CSV files may be UTF-8 (with or without a byte order mark)
//! or Windows-1252, as the ANSUR II male file is; CRLF and a missing final newline are fine.

use super::Reader;
use crate::catalog::Lookup;
use crate::error::{Error, Result};
use crate::pipeline::{CategorySource, Role};
use crate::record::{Reason, RecordRef, Unit};
use polars::prelude::*;
use std::io::Cursor;
use std::path::Path;

pub(super) fn read(r: &mut Reader, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let polars_err = |e: PolarsError| Error::input(path, format!("cannot read table: {e}"));
    let df = match ext.as_str() {
        "csv" => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                return Err(Error::input(path, "empty file: no header and no rows"));
            }
            read_csv(r.pl, &to_utf8(&bytes)).map_err(polars_err)?
        }
        "parquet" => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            ParquetReader::new(file).finish().map_err(polars_err)?
        }
        "ndjson" | "jsonl" => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            JsonReader::new(file)
                .with_json_format(JsonFormat::JsonLines)
                .finish()
                .map_err(polars_err)?
        }
        _ => {
            return Err(Error::input(
                path,
                "a table must be .csv, .parquet, .ndjson or .jsonl",
            ))
        }
    };
    let id = r.add_file(path, Unit::Row);
    let pl = r.pl;
    let n = df.height();
    let loc = r.location(RecordRef {
        file: id,
        n: 0,
        sub: None,
    });

    // The columns with a role that keeps something, in the file's order, each as the
    // type it is read as; then every row built whole from them, in order.
    let mut cols: Vec<(Col, Series)> = Vec::new();
    for col in df.columns() {
        let name = col.name().to_string();
        let role = pl.roles.get("row").and_then(|m| m.get(&name)).copied();
        let s = col.as_materialized_series();
        let text = || as_text(s).map_err(polars_err);
        match role {
            None => r.unknown_field_at("row", &name, loc.replace("row 0", "header")),
            Some(Role::Identifier) => {}
            Some(Role::Owner) => cols.push((Col::Owner, text()?)),
            Some(Role::Category) => {
                if let Some(ci) = pl.categories.iter().position(
                    |c| matches!(&c.source, CategorySource::Field { path, .. } if *path == name),
                ) {
                    cols.push((Col::Category(ci), text()?));
                }
            }
            Some(Role::Filter) => {
                if let Some(fi) = r.filter_index("row", &name) {
                    cols.push((Col::Filter(fi), text()?));
                }
            }
            Some(Role::Measurement) => {
                let pos = match pl.catalog.lookup(&name) {
                    Lookup::Known(i) => r.w.release_pos[i],
                    Lookup::Retired => None,
                    Lookup::Unknown => {
                        return Err(Error::Config {
                            path: pl.path.clone(),
                            message: format!(
                                "column `{name}` has role measurement but is not in the catalog {}",
                                pl.catalog_path.display()
                            ),
                        })
                    }
                };
                let Some(pos) = pos else { continue };
                if s.dtype().is_primitive_numeric() {
                    let s = s.cast(&DataType::Float64).map_err(polars_err)?;
                    cols.push((Col::Number(pos, name), s));
                } else {
                    cols.push((Col::Text(pos, name), text()?));
                }
            }
        }
    }
    // Number columns in one chunk each: read by index where they hold no null.
    let numbers: Vec<Option<Float64Chunked>> = cols
        .iter()
        .map(|(c, s)| match c {
            Col::Number(..) => s.f64().map(|ca| Some(ca.rechunk().into_owned())),
            _ => Ok(None),
        })
        .collect::<PolarsResult<_>>()
        .map_err(polars_err)?;
    let mut cells: Vec<Cells> = Vec::with_capacity(cols.len());
    for ((_, s), ca) in cols.iter().zip(&numbers) {
        cells.push(match ca {
            Some(ca) => match ca.cont_slice() {
                Ok(values) => Cells::Dense(values),
                Err(_) => Cells::Number(Box::new(ca.iter())),
            },
            None => Cells::Text(Box::new(s.str().map_err(polars_err)?.iter())),
        });
    }
    for i in 0..n {
        let mut f = r.new_fields();
        for ((c, _), cell) in cols.iter().zip(cells.iter_mut()) {
            match (c, cell) {
                (Col::Owner, Cells::Text(it)) => {
                    if let Some(v) = it.next().flatten().filter(|v| !v.trim().is_empty()) {
                        f.owner = Some(v.trim().to_string());
                    }
                }
                (Col::Category(ci), Cells::Text(it)) => f.set_category(
                    *ci,
                    it.next()
                        .flatten()
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty()),
                ),
                (Col::Filter(fi), Cells::Text(it)) => f.set_filter(
                    *fi,
                    it.next()
                        .flatten()
                        .map(|v| serde_json::Value::String(v.to_string())),
                ),
                (Col::Number(pos, name), Cells::Dense(values)) => match values[i] {
                    x if x.is_finite() => f.values[*pos] = x as f32,
                    _ => f.problem(name, Reason::NonNumeric),
                },
                (Col::Number(pos, name), Cells::Number(it)) => match it.next().flatten() {
                    Some(x) if x.is_finite() => f.values[*pos] = x as f32,
                    Some(_) => f.problem(name, Reason::NonNumeric),
                    None => {}
                },
                (Col::Text(pos, name), Cells::Text(it)) => {
                    match it.next().flatten().map(str::trim).filter(|v| !v.is_empty()) {
                        None => {}
                        Some(t) => match t.parse::<f64>() {
                            Ok(x) if x.is_finite() => f.values[*pos] = x as f32,
                            _ => f.problem(name, Reason::NonNumeric),
                        },
                    }
                }
                _ => unreachable!("a column's cells are read as its kind says"),
            }
        }
        let at = RecordRef {
            file: id,
            n: i as u64 + 1,
            sub: None,
        };
        r.add_person(at, f);
    }
    r.file_done(path);
    Ok(())
}

/// A CSV table: measurement columns parsed as numbers by polars (every other column as
/// text). If that read fails (a cell polars cannot read as a number), the file is read
/// again with every column as text, so a bad cell is quarantined with its row and column
/// below instead of failing the whole file. Either way a value is the same `f64`: polars
/// skips leading spaces and parses the rest with a correctly rounded parser, as
/// `str::parse` does after the trim below; trailing spaces fail the typed read.
fn read_csv(pl: &crate::pipeline::Pipeline, bytes: &[u8]) -> PolarsResult<DataFrame> {
    let numbers: Schema = pl
        .roles
        .get("row")
        .into_iter()
        .flatten()
        .filter(|(_, role)| **role == Role::Measurement)
        .map(|(name, _)| Field::new(name.as_str().into(), DataType::Float64))
        .collect();
    if numbers.is_empty() {
        return csv_frame(bytes, None);
    }
    csv_frame(bytes, Some(numbers)).or_else(|_| csv_frame(bytes, None))
}

/// Every column as text, but those of `numbers` (as its types).
fn csv_frame(bytes: &[u8], numbers: Option<Schema>) -> PolarsResult<DataFrame> {
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_schema_overwrite(numbers.map(Arc::new))
        .into_reader_with_file_handle(Cursor::new(bytes))
        .finish()
}

/// What a kept column holds for each row.
enum Col {
    Owner,
    Category(usize),
    Filter(usize),
    /// A measurement (release position, column name) read as numbers, or as text.
    Number(usize, String),
    Text(usize, String),
}

/// A column's cells, one per row, in order (`Dense`: numbers with no null, by row).
enum Cells<'a> {
    Dense(&'a [f64]),
    Number(Box<dyn Iterator<Item = Option<f64>> + 'a>),
    Text(Box<dyn Iterator<Item = Option<&'a str>> + 'a>),
}

fn as_text(s: &Series) -> PolarsResult<Series> {
    s.cast(&DataType::String)
}

/// UTF-8 as is (without a byte order mark); anything else is taken as Windows-1252, the
/// encoding of Excel-made CSV files such as the ANSUR II male file. Every byte decodes.
fn to_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_ok() {
        return std::borrow::Cow::Borrowed(bytes);
    }
    // ASCII runs copied whole, each other byte as its character.
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b >= 0x80) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(cp1252(rest[at]).encode_utf8(&mut [0; 4]).as_bytes());
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    std::borrow::Cow::Owned(out)
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell the typed read accepts is the number `str::parse` reads from it after a
    /// trim (what the text read does); every other cell fails the typed read, so the file
    /// is read as text and the cell quarantined as before.
    #[test]
    fn typed_cells_read_as_the_text_reader_would() {
        let cells = [
            "12.5",
            " 12.5",
            "12.5 ",
            "\"12.5\"",
            "\" 7\"",
            "1e3",
            "1E3",
            ".5",
            "5.",
            "+5",
            "-0",
            "00012",
            "1e400",
            "4.9e-325",
            "0.1",
            "1234.5678901234567",
            "nan",
            "NaN",
            "NAN",
            "inf",
            "-Infinity",
            "+inf",
            "infinity",
            "",
            "  ",
            "\"\"",
            "abc",
            "1.2.3",
            "1_0",
            "0x10",
            "1e",
            "e5",
            "+",
            "-",
            ".",
            "12\t",
            "\t12",
            "١٢",
            "1 2",
            "1d3",
            "1f",
        ];
        let schema: Schema = [Field::new("m".into(), DataType::Float64)]
            .into_iter()
            .collect();
        let mut typed_rejected = 0;
        for cell in cells {
            let csv = format!("m,x\n{cell},a\n");
            let text = cell.trim().trim_matches('"').trim();
            let want = if text.is_empty() {
                None
            } else {
                text.parse::<f64>().ok()
            };
            match csv_frame(csv.as_bytes(), Some(schema.clone())) {
                Ok(df) => {
                    let got = df.column("m").unwrap().f64().unwrap().get(0);
                    let same = match (got, want) {
                        (Some(a), Some(b)) => {
                            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
                        }
                        (None, None) => text.is_empty(),
                        _ => false,
                    };
                    assert!(same, "cell {cell:?}: typed {got:?}, text {want:?}");
                }
                Err(_) => typed_rejected += 1,
            }
            // The text read holds every cell as it was (the parse above is its parse).
            let df = csv_frame(csv.as_bytes(), None).unwrap();
            assert_eq!(df.column("m").unwrap().dtype(), &DataType::String);
        }
        // Not vacuous: the typed read refuses the cells it cannot read.
        assert!(typed_rejected >= 10, "{typed_rejected}");
    }

    #[test]
    fn decodes_windows_1252_and_strips_bom() {
        let text = |b: &[u8]| String::from_utf8(to_utf8(b).into_owned()).unwrap();
        assert_eq!(text(b"M\xe9tis \x80"), "Métis €");
        assert_eq!(text(b"\x80a,\x9f\xff\n1,2"), "€a,Ÿÿ\n1,2");
        assert_eq!(text("\u{feff}a,b".as_bytes()), "a,b");
        assert_eq!(text("Métis".as_bytes()), "Métis");
        // One byte that is not UTF-8 and the whole file is read as Windows-1252.
        assert_eq!(text(b"\xc3\xa9,\xe9"), "Ã©,é");
    }
}
