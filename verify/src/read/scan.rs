//! One streaming pass over the released Parquet file and, in step with it, the CSV file:
//! the Parquet rows are grouped into distinct rows ([`Grouped`]), every distinct cell
//! value is searched for personal data once, and every CSV row is compared with the
//! Parquet row of the same number. Memory holds the distinct rows, not the cells.

use crate::patterns as pii;
use crate::table::{Builder, Cell, Grouped};
use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rustc_hash::FxHashSet;
use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;

/// What the Parquet side holds.
pub(crate) struct Parquet {
    pub grouped: Grouped,
    pub types: Vec<String>,
    pub metadata: Vec<(String, String)>,
    /// Personal-looking cells (each distinct value reported once, at its first row).
    pub pii: Vec<String>,
}

/// What the CSV side holds, compared with the Parquet side.
pub(crate) struct Csv {
    pub header: Vec<String>,
    pub rows: usize,
    pub cells: usize,
    /// The first data row (1-based) that differs from the Parquet row of that number.
    pub first_difference: Option<usize>,
    pub pii: Vec<String>,
}

/// RFC 4180 records from a file, streamed: quoted fields may hold commas, quotes and
/// line ends.
struct Records {
    file: std::fs::File,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    fields: Vec<Vec<u8>>,
    n: usize,
}

impl Records {
    fn open(path: &Path) -> Result<Records, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Records {
            file,
            buf: vec![0; 1 << 20],
            pos: 0,
            len: 0,
            fields: Vec::new(),
            n: 0,
        })
    }

    fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos == self.len {
            self.len = self.file.read(&mut self.buf)?;
            self.pos = 0;
        }
        Ok(self.len > 0)
    }

    /// Ends the current field; the next one starts empty.
    fn end_field(&mut self) {
        self.n += 1;
        if self.fields.len() <= self.n {
            self.fields.push(Vec::new());
        }
        self.fields[self.n].clear();
    }

    /// The next record's fields (valid until the next call); None at the end.
    fn next(&mut self) -> std::io::Result<Option<&[Vec<u8>]>> {
        self.n = 0;
        if self.fields.is_empty() {
            self.fields.push(Vec::new());
        }
        self.fields[0].clear();
        let mut quoted = false;
        let mut any = false;
        loop {
            if !self.fill()? {
                if !any {
                    return Ok(None);
                }
                self.end_field();
                return Ok(Some(&self.fields[..self.n]));
            }
            let b = self.buf[self.pos];
            self.pos += 1;
            any = true;
            let field = self.n;
            match (quoted, b) {
                (true, b'"') => {
                    if self.fill()? && self.buf[self.pos] == b'"' {
                        self.pos += 1;
                        self.fields[field].push(b'"');
                    } else {
                        quoted = false;
                    }
                }
                (true, b) => self.fields[field].push(b),
                (false, b'"') => quoted = true,
                (false, b',') => self.end_field(),
                (false, b'\r') => {}
                (false, b'\n') => {
                    self.end_field();
                    return Ok(Some(&self.fields[..self.n]));
                }
                (false, _) => {
                    // The run of ordinary bytes up to the next special one, in one copy.
                    let start = self.pos - 1;
                    let run = self.buf[self.pos..self.len]
                        .iter()
                        .position(|&c| matches!(c, b'"' | b',' | b'\r' | b'\n'))
                        .map_or(self.len, |i| self.pos + i);
                    self.fields[field].extend_from_slice(&self.buf[start..run]);
                    self.pos = run;
                }
            }
        }
    }
}

/// CSV records parsed on a thread of their own and handed over in batches, in order: the
/// Parquet side decodes and compares while the next rows are being parsed.
struct CsvRows {
    rx: std::sync::mpsc::Receiver<Result<Batch, String>>,
    batch: Batch,
    row: usize,
    done: bool,
}

/// Rows of fields, flat: every field's end in `data`, every row's end in `ends`.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    ends: Vec<usize>,
    rows: Vec<usize>,
}

/// One record of a [`Batch`].
struct Row<'a> {
    data: &'a [u8],
    ends: &'a [usize],
    start: usize,
}

impl<'a> Row<'a> {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, j: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(j)?;
        let begin = if j == 0 { self.start } else { self.ends[j - 1] };
        Some(&self.data[begin..end])
    }

    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|j| self.get(j).expect("a field"))
    }
}

const BATCH_ROWS: usize = 4096;

impl CsvRows {
    fn spawn(mut r: Records) -> CsvRows {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        std::thread::spawn(move || loop {
            let mut b = Batch::default();
            let mut end = false;
            while b.rows.len() < BATCH_ROWS {
                match r.next() {
                    Ok(Some(rec)) => {
                        for f in rec {
                            b.data.extend_from_slice(f);
                            b.ends.push(b.data.len());
                        }
                        b.rows.push(b.ends.len());
                    }
                    Ok(None) => {
                        end = true;
                        break;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                }
            }
            // A closed receiver: the reader stopped early; so does this thread.
            if (!b.rows.is_empty() && tx.send(Ok(b)).is_err()) || end {
                return;
            }
        });
        CsvRows {
            rx,
            batch: Batch::default(),
            row: 0,
            done: false,
        }
    }

    /// The next record (valid until the next call); None at the end.
    fn next(&mut self) -> Result<Option<Row<'_>>, String> {
        if self.row == self.batch.rows.len() {
            if self.done {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Ok(b)) => {
                    self.batch = b;
                    self.row = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
        let r = self.row;
        self.row += 1;
        let first = if r == 0 { 0 } else { self.batch.rows[r - 1] };
        let last = self.batch.rows[r];
        let start = if first == 0 {
            0
        } else {
            self.batch.ends[first - 1]
        };
        Ok(Some(Row {
            data: &self.batch.data,
            ends: &self.batch.ends[first..last],
            start,
        }))
    }
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
}

fn is_integer(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

/// Reads both files in one pass. Either side may be unreadable; the other is still read.
pub(crate) fn scan(parquet: &Path, csv: &Path) -> (Result<Parquet, String>, Result<Csv, String>) {
    let mut csv_side = Records::open(csv).and_then(|mut r| {
        let header = match r.next().map_err(|e| format!("{}: {e}", csv.display()))? {
            None => return Err(format!("{}: empty CSV file", csv.display())),
            Some(h) => h
                .iter()
                .map(|f| text(f).map(str::to_string))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: header: {e}", csv.display()))?,
        };
        let c = Csv {
            header,
            rows: 0,
            cells: 0,
            first_difference: None,
            pii: Vec::new(),
        };
        Ok((CsvRows::spawn(r), c))
    });
    let pq = read_parquet(parquet, &mut csv_side);
    let csv_result = csv_side.and_then(|(mut r, mut c)| {
        // CSV rows beyond the Parquet rows: counted and searched too.
        while let Some(rec) = r.next().map_err(|e| format!("{}: {e}", csv.display()))? {
            c.rows += 1;
            c.cells += rec.len();
            for (j, f) in rec.iter().enumerate() {
                let s = text(f).map_err(|e| format!("{}: row {}: {e}", csv.display(), c.rows))?;
                if let Some(what) = pii::text_cell(s) {
                    c.pii
                        .push(format!("CSV row {}, column {j}: {what}", c.rows));
                }
            }
        }
        Ok(c)
    });
    (pq, csv_result)
}

fn read_parquet(path: &Path, csv: &mut Result<(CsvRows, Csv), String>) -> Result<Parquet, String> {
    let perr = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|e| perr(&e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(&e))?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| perr(&e))?;
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    let ints: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_integer(f.data_type()))
        .collect();
    let mut b = Builder::new(columns, ints.iter().map(|i| !i).collect());
    let mut pii_found = Vec::new();
    let mut ints_seen: FxHashSet<i64> = FxHashSet::default();
    let mut last_int: Vec<Option<i64>> = vec![None; ints.len()];
    let mut row = 0usize;
    let mut cell = String::new();
    let mut expect = String::new();
    let opts = FormatOptions::default();
    for batch in reader {
        let batch: RecordBatch = batch.map_err(|e| perr(&e))?;
        let mut int_cols: Vec<Option<Int64Array>> = Vec::new();
        let mut fmts: Vec<Option<ArrayFormatter>> = Vec::new();
        for (j, a) in batch.columns().iter().enumerate() {
            if ints[j] {
                let c = arrow::compute::cast(a, &DataType::Int64).map_err(|e| perr(&e))?;
                let c = c
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(|| perr(&"integer column"))?
                    .clone();
                int_cols.push(Some(c));
                fmts.push(None);
            } else {
                int_cols.push(None);
                fmts.push(Some(
                    ArrayFormatter::try_new(a.as_ref(), &opts).map_err(|e| perr(&e))?,
                ));
            }
        }
        for i in 0..batch.num_rows() {
            let mut csv_rec = match csv {
                Ok((r, c)) => match r.next() {
                    Ok(Some(rec)) => {
                        c.rows += 1;
                        c.cells += rec.len();
                        if rec.len() != ints.len() && c.first_difference.is_none() {
                            c.first_difference = Some(c.rows);
                        }
                        Some((rec, c))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        *csv = Err(format!("CSV row {}: {e}", row + 1));
                        None
                    }
                },
                Err(_) => None,
            };
            for j in 0..ints.len() {
                expect.clear();
                if let Some(c) = &int_cols[j] {
                    if c.is_null(i) {
                        b.cell(j, Cell::Null);
                    } else {
                        let v = c.value(i);
                        b.cell(j, Cell::Int(v));
                        push_int(&mut expect, v);
                        // Rows of a class are contiguous and identical: a value equal to
                        // the column's last one was searched already.
                        let repeat = last_int[j].replace(v) == Some(v);
                        if !repeat && ints_seen.insert(v) {
                            if let Some(what) = pii::looks_personal(&expect) {
                                pii_found.push(format!("Parquet row {row}, column {j}: {what}"));
                            }
                        }
                    }
                } else {
                    let f = fmts[j].as_ref().expect("text column");
                    let a = batch.column(j);
                    if a.is_null(i) {
                        b.cell(j, Cell::Null);
                    } else {
                        cell.clear();
                        write!(cell, "{}", f.value(i)).map_err(|e| perr(&e))?;
                        if b.cell(j, Cell::Text(&cell)) {
                            if let Some(what) = pii::text_cell(&cell) {
                                pii_found.push(format!("Parquet row {row}, column {j}: {what}"));
                            }
                        }
                        expect.push_str(&cell);
                    }
                }
                if let Some((rec, c)) = &mut csv_rec {
                    let got = rec.get(j).unwrap_or(b"");
                    if got != expect.as_bytes() {
                        if c.first_difference.is_none() {
                            c.first_difference = Some(c.rows);
                        }
                        let what = match std::str::from_utf8(got) {
                            Ok(s) => pii::text_cell(s),
                            Err(_) => Some("is not valid UTF-8"),
                        };
                        if let Some(what) = what {
                            c.pii
                                .push(format!("CSV row {}, column {j}: {what}", c.rows));
                        }
                    }
                }
            }
            if let Some((rec, c)) = &mut csv_rec {
                // Fields beyond the Parquet columns.
                for (j, f) in rec.iter().enumerate().skip(ints.len()) {
                    if let Some(what) = std::str::from_utf8(f).ok().and_then(pii::text_cell) {
                        c.pii
                            .push(format!("CSV row {}, column {j}: {what}", c.rows));
                    }
                }
            }
            b.end_row();
            row += 1;
        }
    }
    Ok(Parquet {
        grouped: b.finish(),
        types,
        metadata,
        pii: pii_found,
    })
}

/// Appends `v` in decimal, as `write!("{v}")` would (without the formatting machinery:
/// this runs for every cell).
fn push_int(s: &mut String, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        s.push('-');
    }
    s.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_as_display_does() {
        for v in [0, 7, -7, 10, 945, -1000, i64::MAX, i64::MIN, 1234567890123] {
            let mut s = String::from("x");
            push_int(&mut s, v);
            assert_eq!(s, format!("x{v}"));
        }
    }

    #[test]
    fn reads_quoted_fields_line_ends_and_a_missing_final_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.csv");
        std::fs::write(&p, "a,b\r\n\"x,\"\"y\"\"\",\n1,\"two\nlines\"\n,\n3,4").unwrap();
        let mut r = Records::open(&p).unwrap();
        let mut all = Vec::new();
        while let Some(rec) = r.next().unwrap() {
            all.push(
                rec.iter()
                    .map(|f| String::from_utf8(f.clone()).unwrap())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            all,
            [
                vec!["a", "b"],
                vec!["x,\"y\"", ""],
                vec!["1", "two\nlines"],
                vec!["", ""],
                vec!["3", "4"]
            ]
        );
    }
}
