//! FreeSewing exports, v3 (sets + users, per-account files) and v2 (people + users, login
//! payloads). NDJSON is read line by line so one bad line is quarantined, not fatal.

use super::{Fields, Reader, Walker};
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

/// Parses and walks a batch of lines (in parallel): what each record adds, in order.
fn parse_batch(w: &Walker, file: u32, batch: Vec<(u64, Vec<u8>)>) -> Vec<Vec<Action>> {
    use rayon::prelude::*;
    batch
        .into_par_iter()
        .map(|(n, buf)| {
            let at = RecordRef { file, n, sub: None };
            match serde_json::from_slice::<Value>(trim(&buf, n == 1)) {
                Ok(v) => prepare(w, at, v),
                Err(_) => vec![Action::Drop {
                    at,
                    field: None,
                    reason: Reason::MalformedJson,
                    counted: true,
                }],
            }
        })
        .collect()
}

/// NDJSON, one record per line. Parsing and applying roles (the costly part) run in
/// parallel, one batch ahead of the records being added, which happens in line order:
/// the result does not depend on the thread count.
fn read_lines(r: &mut Reader, path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let id = r.add_file(path, Unit::Line);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = 0u64;
    let meter = r.meter;
    let w = r.w.clone();
    let first = next_batch(&mut reader, &mut line, meter).map_err(|e| Error::io(path, e))?;
    let mut current = parse_batch(&w, id, first);
    while !current.is_empty() {
        let raw = next_batch(&mut reader, &mut line, meter).map_err(|e| Error::io(path, e))?;
        let (next, ()) = rayon::join(
            || parse_batch(&w, id, raw),
            || {
                for actions in current.drain(..) {
                    apply(r, actions);
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
    let w = r.w.clone();
    match doc {
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                apply(r, prepare(&w, at(i as u64), v));
            }
        }
        v => apply(r, prepare(&w, at(0), v)),
    }
    r.meter.add(bytes.len() as u64);
    Ok(())
}

/// What one record adds to the export, worked out apart from the reader's state.
enum Action {
    /// A record dropped; `counted`: it counts as a person record read.
    Drop {
        at: RecordRef,
        field: Option<String>,
        reason: Reason,
        counted: bool,
    },
    User(RecordRef, Fields),
    Person(RecordRef, Fields),
    Unknown(&'static str, String, RecordRef),
}

fn apply(r: &mut Reader, actions: Vec<Action>) {
    for a in actions {
        match a {
            Action::Drop {
                at,
                field,
                reason,
                counted,
            } => {
                if counted {
                    r.export.records_read += 1;
                }
                r.drop_record(at, field, reason)
            }
            Action::User(at, f) => r.add_user(at, f),
            Action::Person(at, f) => r.add_person(at, f),
            Action::Unknown(entity, field, at) => r.unknown_field(entity, &field, at),
        }
    }
}

/// One top-level record: a person (set), a user, or an account with its people.
fn prepare(w: &Walker, at: RecordRef, v: Value) -> Vec<Action> {
    let drop = |at, field: Option<&str>, reason, counted| Action::Drop {
        at,
        field: field.map(str::to_string),
        reason,
        counted,
    };
    let Value::Object(obj) = v else {
        return vec![drop(at, None, Reason::WrongType, true)];
    };
    let (person, container) = match w.pl.format {
        Format::FreesewingV3 => ("set", "sets"),
        _ => ("person", "people"),
    };
    let mut out = Vec::new();
    if w.pl.format == Format::FreesewingV2 && obj.contains_key("account") {
        // v2 login payload: {account: {...user}, people: {handle: person}}
        let mut owner = None;
        match obj.get("account") {
            Some(Value::Object(acc)) => {
                let mut user = w.new_fields();
                w.walk("user", acc, "", &[], &mut user);
                owner = user.owner.clone();
                out.push(Action::User(at, user));
            }
            _ => out.push(drop(at, Some("account"), Reason::WrongType, false)),
        }
        for key in obj.keys().filter(|k| *k != "account" && *k != container) {
            out.push(Action::Unknown("user", key.clone(), at));
        }
        match obj.get(container) {
            Some(Value::Object(people)) => {
                let items: Vec<&Value> = people.values().collect();
                people_of(w, at, &items, person, owner, &mut out);
            }
            Some(Value::Array(people)) => {
                let items: Vec<&Value> = people.iter().collect();
                people_of(w, at, &items, person, owner, &mut out);
            }
            None | Some(Value::Null) => {}
            Some(_) => out.push(drop(at, Some(container), Reason::WrongType, false)),
        }
        return out;
    }
    if obj.contains_key(container) {
        // v3 account export: {...account, sets: [...]}
        let mut user = w.new_fields();
        w.walk("user", &obj, "", &[container], &mut user);
        let owner = user.owner.clone();
        out.push(Action::User(at, user));
        match obj.get(container) {
            Some(Value::Array(sets)) => {
                let items: Vec<&Value> = sets.iter().collect();
                people_of(w, at, &items, person, owner, &mut out);
            }
            Some(Value::Object(sets)) => {
                let items: Vec<&Value> = sets.values().collect();
                people_of(w, at, &items, person, owner, &mut out);
            }
            Some(Value::Null) | None => {}
            Some(_) => out.push(drop(at, Some(container), Reason::WrongType, false)),
        }
        return out;
    }
    let is_person = match w.pl.format {
        Format::FreesewingV3 => obj.contains_key("measies") || obj.contains_key("userId"),
        _ => obj.contains_key("measurements") || obj.contains_key("breasts"),
    };
    let mut f = w.new_fields();
    if is_person {
        w.walk(person, &obj, "", &[], &mut f);
        out.push(Action::Person(at, f));
    } else {
        w.walk("user", &obj, "", &[], &mut f);
        out.push(Action::User(at, f));
    }
    out
}

/// The people inside an account record; those without an owner field belong to the account.
fn people_of(
    w: &Walker,
    at: RecordRef,
    items: &[&Value],
    entity: &str,
    owner: Option<String>,
    out: &mut Vec<Action>,
) {
    for (j, item) in items.iter().enumerate() {
        let at = RecordRef {
            sub: Some(j as u32),
            ..at
        };
        let Value::Object(obj) = item else {
            out.push(Action::Drop {
                at,
                field: None,
                reason: Reason::WrongType,
                counted: true,
            });
            continue;
        };
        let mut f: Fields = w.new_fields();
        w.walk(entity, obj as &Map<String, Value>, "", &[], &mut f);
        if f.owner.is_none() {
            f.owner = owner.clone();
        }
        out.push(Action::Person(at, f));
    }
}
