//! FreeSewing exports, v3 (sets + users, per-account files) and v2 (people + users, login
//! payloads). NDJSON is read line by line so one bad line is quarantined, not fatal.

use super::{Fields, Reader};
use crate::error::{Error, Result};
use crate::model::{Reason, RecordRef, Unit};
use crate::pipeline::Format;
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::Path;

pub(super) fn read(r: &mut Reader, path: &Path) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "ndjson" | "jsonl" => read_lines(r, path),
        "json" => read_document(r, path),
        _ => Err(Error::input(
            path,
            "a FreeSewing export file must end in .json (one document) or .ndjson/.jsonl (one record per line)",
        )),
    }
}

/// Lines per batch: parsed in parallel while the previous batch is being read into people.
const BATCH: usize = 1024;

/// The next batch of non-blank lines with their 1-based numbers.
fn next_batch(
    reader: &mut impl BufRead,
    line: &mut u64,
    meter: &crate::progress::Meter,
) -> std::io::Result<Vec<(u64, Vec<u8>)>> {
    let mut batch = Vec::with_capacity(BATCH);
    while batch.len() < BATCH {
        let mut buf = Vec::new();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        meter.add(n as u64);
        *line += 1;
        if !trim(&buf, *line == 1).is_empty() {
            batch.push((*line, buf));
        }
    }
    Ok(batch)
}

fn parse_batch(batch: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Option<Value>)> {
    use rayon::prelude::*;
    batch
        .into_par_iter()
        .map(|(n, buf)| (n, serde_json::from_slice::<Value>(trim(&buf, n == 1)).ok()))
        .collect()
}

/// NDJSON, one record per line. Parsing (the costly part) runs in parallel, one batch
/// ahead of the records being applied, which happens in line order: the result does not
/// depend on the thread count.
fn read_lines(r: &mut Reader, path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let id = r.add_file(path, Unit::Line);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = 0u64;
    let meter = r.meter;
    let mut current =
        parse_batch(next_batch(&mut reader, &mut line, meter).map_err(|e| Error::io(path, e))?);
    while !current.is_empty() {
        let raw = next_batch(&mut reader, &mut line, meter).map_err(|e| Error::io(path, e))?;
        let (next, ()) = rayon::join(
            || parse_batch(raw),
            || {
                for (n, v) in current.drain(..) {
                    let at = RecordRef {
                        file: id,
                        n,
                        sub: None,
                    };
                    match v {
                        Some(v) => record(r, at, v),
                        None => {
                            r.export.records_read += 1;
                            r.drop_record(at, None, Reason::MalformedJson)
                        }
                    }
                }
            },
        );
        current = next;
    }
    Ok(())
}

/// Strips the line end, surrounding blanks and, on the first line, a UTF-8 byte order mark.
fn trim(buf: &[u8], first: bool) -> &[u8] {
    let mut s = buf;
    if first {
        s = s.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(s);
    }
    s.trim_ascii()
}

fn read_document(r: &mut Reader, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let id = r.add_file(path, Unit::Index);
    let doc: Value = serde_json::from_slice(trim(&bytes, true)).map_err(|e| {
        // serde's message holds a line and column, never the input text.
        Error::input(path, format!("not a valid JSON document: {e}"))
    })?;
    let at = |n| RecordRef {
        file: id,
        n,
        sub: None,
    };
    match doc {
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                record(r, at(i as u64), v);
            }
        }
        v => record(r, at(0), v),
    }
    r.meter.add(bytes.len() as u64);
    Ok(())
}

/// One top-level record: a person (set), a user, or an account with its people.
fn record(r: &mut Reader, at: RecordRef, v: Value) {
    let Value::Object(obj) = v else {
        r.export.records_read += 1;
        return r.drop_record(at, None, Reason::WrongType);
    };
    let (person, container) = match r.pl.format {
        Format::FreesewingV3 => ("set", "sets"),
        _ => ("person", "people"),
    };
    if r.pl.format == Format::FreesewingV2 && obj.contains_key("account") {
        // v2 login payload: {account: {...user}, people: {handle: person}}
        let mut user = r.new_fields();
        let mut owner = None;
        match obj.get("account") {
            Some(Value::Object(acc)) => {
                r.walk("user", acc, "", at, &[], &mut user);
                owner = user.owner.clone();
                r.add_user(at, user);
            }
            _ => r.drop_record(at, Some("account".into()), Reason::WrongType),
        }
        for key in obj.keys().filter(|k| *k != "account" && *k != container) {
            r.unknown_field("user", key, at);
        }
        match obj.get(container) {
            Some(Value::Object(people)) => {
                let items: Vec<&Value> = people.values().collect();
                people_of(r, at, &items, person, owner);
            }
            Some(Value::Array(people)) => {
                let items: Vec<&Value> = people.iter().collect();
                people_of(r, at, &items, person, owner);
            }
            None | Some(Value::Null) => {}
            Some(_) => r.drop_record(at, Some(container.into()), Reason::WrongType),
        }
        return;
    }
    if obj.contains_key(container) {
        // v3 account export: {...account, sets: [...]}
        let mut user = r.new_fields();
        r.walk("user", &obj, "", at, &[container], &mut user);
        let owner = user.owner.clone();
        r.add_user(at, user);
        match obj.get(container) {
            Some(Value::Array(sets)) => {
                let items: Vec<&Value> = sets.iter().collect();
                people_of(r, at, &items, person, owner);
            }
            Some(Value::Object(sets)) => {
                let items: Vec<&Value> = sets.values().collect();
                people_of(r, at, &items, person, owner);
            }
            Some(Value::Null) | None => {}
            Some(_) => r.drop_record(at, Some(container.into()), Reason::WrongType),
        }
        return;
    }
    let is_person = match r.pl.format {
        Format::FreesewingV3 => obj.contains_key("measies") || obj.contains_key("userId"),
        _ => obj.contains_key("measurements") || obj.contains_key("breasts"),
    };
    let mut f = r.new_fields();
    if is_person {
        r.walk(person, &obj, "", at, &[], &mut f);
        r.add_person(at, f);
    } else {
        r.walk("user", &obj, "", at, &[], &mut f);
        r.add_user(at, f);
    }
}

/// The people inside an account record; those without an owner field belong to the account.
fn people_of(r: &mut Reader, at: RecordRef, items: &[&Value], entity: &str, owner: Option<String>) {
    for (j, item) in items.iter().enumerate() {
        let at = RecordRef {
            sub: Some(j as u32),
            ..at
        };
        let Value::Object(obj) = item else {
            r.export.records_read += 1;
            r.drop_record(at, None, Reason::WrongType);
            continue;
        };
        let mut f: Fields = r.new_fields();
        r.walk(entity, obj as &Map<String, Value>, "", at, &[], &mut f);
        if f.owner.is_none() {
            f.owner = owner.clone();
        }
        r.add_person(at, f);
    }
}
