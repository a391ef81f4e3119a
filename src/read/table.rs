//! Wide tables (CSV, Parquet, NDJSON): one row per person, columns mapped to roles by the
//! pipeline. Read with polars. CSV files may be UTF-8 (with or without a byte order mark)
//! or Windows-1252, as the ANSUR II male file is; CRLF and a missing final newline are fine.

use super::{Fields, Reader, Walker};
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
    let (df, header) = match ext.as_str() {
        "csv" => {
            let source = CsvSource::open(path).map_err(|e| Error::io(path, e))?;
            if source.blank {
                return Err(Error::input(path, "empty file: no header and no rows"));
            }
            read_csv(r.pl, &source).map_err(polars_err)?
        }
        "parquet" => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            with_header(ParquetReader::new(file).finish().map_err(polars_err)?)
        }
        "ndjson" | "jsonl" => {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            with_header(
                JsonReader::new(file)
                    .with_json_format(JsonFormat::JsonLines)
                    .finish()
                    .map_err(polars_err)?,
            )
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
    for name in header {
        let role = pl.roles.get("row").and_then(|m| m.get(&name)).copied();
        // Only a column with a role that keeps something was read (see `read_csv`).
        let s = || {
            df.column(&name)
                .map(Column::as_materialized_series)
                .map_err(polars_err)
        };
        let text = || as_text(s()?).map_err(polars_err);
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
                let s = s()?;
                if s.dtype().is_primitive_numeric() {
                    let s = s.cast(&DataType::Float64).map_err(polars_err)?;
                    cols.push((Col::Number(pos, name), s));
                } else {
                    cols.push((Col::Text(pos, name), as_text(s).map_err(polars_err)?));
                }
            }
        }
    }
    // Every kept column as its typed array (in the chunks polars made).
    let typed: Vec<Typed> = cols
        .iter()
        .map(|(c, s)| match c {
            Col::Number(..) => s.f64().map(|ca| Typed::Number(ca.clone())),
            _ => s.str().map(|ca| Typed::Text(ca.clone())),
        })
        .collect::<PolarsResult<_>>()
        .map_err(polars_err)?;
    // Rows are built in parallel a batch at a time (each column's part of the batch in one
    // chunk, read by index), while this thread adds the previous batch's people in order.
    let w = r.w.clone();
    let build = |rows: std::ops::Range<usize>| -> Vec<Fields> {
        use rayon::prelude::*;
        let (start, len) = (rows.start, rows.len());
        let parts: Vec<Typed> = typed.iter().map(|t| t.part(start, len)).collect();
        let cells: Vec<Cells> = parts.iter().map(Typed::cells).collect();
        (0..len)
            .into_par_iter()
            .map(|i| row(&w, &cols, &cells, i))
            .collect()
    };
    let batches = (0..n).step_by(ROW_BATCH).map(|a| a..(a + ROW_BATCH).min(n));
    let mut current: Vec<(usize, Fields)> = Vec::new();
    for rows in batches.map(Some).chain([None]) {
        let (next, ()) = rayon::join(
            || rows.map(|rows| rows.clone().zip(build(rows)).collect()),
            || {
                for (i, f) in current.drain(..) {
                    let at = RecordRef {
                        file: id,
                        n: i as u64 + 1,
                        sub: None,
                    };
                    r.add_person(at, f);
                }
            },
        );
        current = next.unwrap_or_default();
    }
    r.file_done(path);
    Ok(())
}

/// Rows per batch of the row loop.
const ROW_BATCH: usize = 4096;

/// Row `i` of the kept columns, as a record's fields.
fn row(w: &Walker, cols: &[(Col, Series)], cells: &[Cells], i: usize) -> Fields {
    let mut f = w.new_fields();
    for ((c, _), cell) in cols.iter().zip(cells) {
        match (c, cell) {
            (Col::Owner, Cells::Text(ca)) => {
                if let Some(v) = ca.get(i).filter(|v| !v.trim().is_empty()) {
                    f.owner = Some(v.trim().to_string());
                }
            }
            (Col::Category(ci), Cells::Text(ca)) => f.set_category(
                *ci,
                ca.get(i)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty()),
            ),
            (Col::Filter(fi), Cells::Text(ca)) => f.set_filter(
                *fi,
                ca.get(i).map(|v| serde_json::Value::String(v.to_string())),
            ),
            (Col::Number(pos, name), Cells::Dense(values)) => match values[i] {
                x if x.is_finite() => f.values[*pos] = x as f32,
                _ => f.problem(name, Reason::NonNumeric),
            },
            (Col::Number(pos, name), Cells::Number(ca)) => match ca.get(i) {
                Some(x) if x.is_finite() => f.values[*pos] = x as f32,
                Some(_) => f.problem(name, Reason::NonNumeric),
                None => {}
            },
            (Col::Text(pos, name), Cells::Text(ca)) => {
                match ca.get(i).map(str::trim).filter(|v| !v.is_empty()) {
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
    f
}

/// A CSV table: measurement columns parsed as numbers by polars (every other column as
/// text). If that read fails (a cell polars cannot read as a number), the file is read
/// again with every column as text, so a bad cell is quarantined with its row and column
/// below instead of failing the whole file. Either way a value is the same `f64`: polars
/// skips leading spaces and parses the rest with a correctly rounded parser, as
/// `str::parse` does after the trim below; trailing spaces fail the typed read. Only the
/// columns with a role that keeps something are built (an identifier column is skipped);
/// the header's names come back beside the frame.
fn read_csv(
    pl: &crate::pipeline::Pipeline,
    source: &CsvSource,
) -> PolarsResult<(DataFrame, Vec<String>)> {
    let roles = pl.roles.get("row");
    let (_, header) = with_header(csv_frame(source, None, None, Some(0))?);
    let kept: Vec<PlSmallStr> = header
        .iter()
        .filter(|name| {
            roles
                .and_then(|m| m.get(name.as_str()))
                .is_some_and(|r| *r != Role::Identifier)
        })
        .map(|name| name.as_str().into())
        .collect();
    // Nothing kept: every column, so the frame still counts the rows.
    let kept = (!kept.is_empty()).then(|| Arc::from(kept));
    let numbers: Schema = roles
        .into_iter()
        .flatten()
        .filter(|(_, role)| **role == Role::Measurement)
        .map(|(name, _)| Field::new(name.as_str().into(), DataType::Float64))
        .collect();
    let df = if numbers.is_empty() {
        csv_frame(source, None, kept, None)?
    } else {
        csv_frame(source, Some(numbers), kept.clone(), None)
            .or_else(|_| csv_frame(source, None, kept, None))?
    };
    Ok((df, header))
}

/// A frame and its column names (formats whose reader builds every column).
fn with_header(df: DataFrame) -> (DataFrame, Vec<String>) {
    let header = df
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    (df, header)
}

/// The columns `columns` (all if `None`) of the first `rows` rows (all if `None`), every
/// one as text but those of `numbers` (as its types).
fn csv_frame(
    source: &CsvSource,
    numbers: Option<Schema>,
    columns: Option<Arc<[PlSmallStr]>>,
    rows: Option<usize>,
) -> PolarsResult<DataFrame> {
    let options = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_schema_overwrite(numbers.map(Arc::new))
        .with_columns(columns)
        .with_n_rows(rows);
    match &source.decoded {
        Some(bytes) => options
            .into_reader_with_file_handle(Cursor::new(bytes.as_slice()))
            .finish(),
        None => options
            .try_into_reader_with_file_path(Some(source.path.clone()))?
            .finish(),
    }
}

/// A CSV file as polars reads it: by its path when it is UTF-8 without a byte order mark
/// (polars maps the file: no copy of it in memory), else its bytes as UTF-8 ([`to_utf8`]).
struct CsvSource {
    path: std::path::PathBuf,
    decoded: Option<Vec<u8>>,
    /// Nothing but whitespace.
    blank: bool,
}

impl CsvSource {
    fn open(path: &Path) -> std::io::Result<CsvSource> {
        use std::io::Read;
        // One pass in blocks: is the file UTF-8 (a sequence cut at a block's end is
        // carried into the next), does it start with a byte order mark, is it blank?
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 20];
        let (mut carry, mut utf8, mut blank, mut bom) = (0, true, true, None);
        loop {
            let n = file.read(&mut buf[carry..])?;
            if n == 0 {
                utf8 &= carry == 0;
                break;
            }
            let block = &buf[..carry + n];
            bom.get_or_insert_with(|| block.starts_with(b"\xEF\xBB\xBF"));
            blank = blank && block.iter().all(u8::is_ascii_whitespace);
            carry = match std::str::from_utf8(block) {
                Ok(_) => 0,
                Err(e) if e.error_len().is_none() => block.len() - e.valid_up_to(),
                Err(_) => {
                    utf8 = false;
                    break;
                }
            };
            let len = block.len();
            buf.copy_within(len - carry..len, 0);
        }
        let decoded = match (utf8, bom) {
            (_, Some(true)) => Some(to_utf8(&std::fs::read(path)?).into_owned()),
            (true, _) => None,
            // Windows-1252: decoded block by block into one buffer (not read whole first).
            (false, _) => {
                let len = file.metadata()?.len() as usize;
                let mut out = Vec::with_capacity(len + len / 16);
                let mut file = std::fs::File::open(path)?;
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    decode_cp1252(&buf[..n], &mut out);
                }
                Some(out)
            }
        };
        Ok(CsvSource {
            path: path.to_path_buf(),
            decoded,
            blank: blank && utf8,
        })
    }
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

/// A kept column as polars read it.
enum Typed {
    Number(Float64Chunked),
    Text(StringChunked),
}

impl Typed {
    /// Rows `start..start + len`, in one chunk.
    fn part(&self, start: usize, len: usize) -> Typed {
        fn one<T: PolarsDataType>(ca: ChunkedArray<T>) -> ChunkedArray<T> {
            if ca.chunks().len() > 1 {
                ca.rechunk().into_owned()
            } else {
                ca
            }
        }
        match self {
            Typed::Number(ca) => Typed::Number(one(ca.slice(start as i64, len))),
            Typed::Text(ca) => Typed::Text(one(ca.slice(start as i64, len))),
        }
    }

    fn cells(&self) -> Cells<'_> {
        match self {
            Typed::Number(ca) => match ca.cont_slice() {
                Ok(values) => Cells::Dense(values),
                Err(_) => Cells::Number(ca),
            },
            Typed::Text(ca) => Cells::Text(ca),
        }
    }
}

/// A column's cells, by row index (`Dense`: numbers with no null).
enum Cells<'a> {
    Dense(&'a [f64]),
    Number(&'a Float64Chunked),
    Text(&'a StringChunked),
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
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    decode_cp1252(bytes, &mut out);
    std::borrow::Cow::Owned(out)
}

/// Appends `bytes`, read as Windows-1252, to `out` as UTF-8: ASCII runs copied whole
/// (found a block of bytes at a time: `is_ascii` reads words), each other byte as its
/// character.
fn decode_cp1252(bytes: &[u8], out: &mut Vec<u8>) {
    const RUN: usize = 64;
    let mut rest = bytes;
    while !rest.is_empty() {
        let ascii = rest
            .chunks(RUN)
            .take_while(|c| c.is_ascii())
            .map(<[u8]>::len)
            .sum::<usize>();
        let at = ascii
            + rest[ascii..]
                .iter()
                .position(|&b| b >= 0x80)
                .unwrap_or(rest.len() - ascii);
        out.extend_from_slice(&rest[..at]);
        if let Some(&b) = rest.get(at) {
            out.extend_from_slice(cp1252(b).encode_utf8(&mut [0; 4]).as_bytes());
            rest = &rest[at + 1..];
        } else {
            rest = &[];
        }
    }
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
            match csv_frame(
                &CsvSource::of(csv.as_bytes()),
                Some(schema.clone()),
                None,
                None,
            ) {
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
            let df = csv_frame(&CsvSource::of(csv.as_bytes()), None, None, None).unwrap();
            assert_eq!(df.column("m").unwrap().dtype(), &DataType::String);
        }
        // Not vacuous: the typed read refuses the cells it cannot read.
        assert!(typed_rejected >= 10, "{typed_rejected}");
    }

    impl CsvSource {
        fn of(bytes: &[u8]) -> CsvSource {
            CsvSource {
                path: Default::default(),
                decoded: Some(bytes.to_vec()),
                blank: false,
            }
        }
    }

    /// A file is handed to polars by its path only when it is UTF-8 without a byte order
    /// mark, whatever its size (a character cut at a block's end is still UTF-8); else its
    /// bytes are decoded as the one-buffer [`to_utf8`] decodes them.
    #[test]
    fn a_file_is_read_by_path_only_when_it_is_plain_utf8() {
        let dir = tempfile::tempdir().unwrap();
        // Just over two 1 MiB blocks, a two-byte character across each block's end.
        let mut long = b"a,b\n".to_vec();
        while long.len() < (1 << 20) - 1 {
            long.extend_from_slice(b"1,x\n");
        }
        long.truncate((1 << 20) - 1);
        long.extend_from_slice("é".as_bytes());
        long.extend(std::iter::repeat_n(b'y', 1 << 20));
        long.extend_from_slice("é\n".as_bytes());
        let mut cp = long.clone();
        cp.extend_from_slice(b"\xe9\n");
        let cases: [(&str, Vec<u8>, bool, bool); 6] = [
            ("utf8", "a,b\nMétis,1\n".into(), false, false),
            ("long", long, false, false),
            ("bom", "\u{feff}a,b\n1,2\n".into(), true, false),
            ("cp1252", b"a,b\nM\xe9tis \x80,1\n".to_vec(), true, false),
            ("longcp", cp, true, false),
            ("blank", b" \n\r\n\t".to_vec(), false, true),
        ];
        for (name, bytes, decoded, blank) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let s = CsvSource::open(&path).unwrap();
            assert_eq!(s.decoded.is_some(), decoded, "{name}");
            assert_eq!(s.blank, blank, "{name}");
            if let Some(d) = &s.decoded {
                assert_eq!(d.as_slice(), &*to_utf8(&bytes), "{name}");
            }
        }
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
