//! FreeSewing exports, v3 (sets + users, per-account files) and v2 (people + users, login
//! payloads). NDJSON is read line by line so one bad line is quarantined, not fatal.

use super::fast::{Entity, Fast};
use super::{Fields, Reader, Walker};
use crate::error::{Error, Result};
use crate::pipeline::Format;
use crate::record::{Reason, RecordRef, Unit};
use serde_json::{Map, Value};
use std::io::BufRead;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

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
const BATCH: usize = 2048;

/// A batch of non-blank lines held in one buffer: (1-based line number, start, end).
#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    lines: Vec<(u64, usize, usize)>,
}

/// Reads the next batch of non-blank lines into `b` (its buffers are reused: fresh memory
/// costs the kernel a page clearing per batch).
fn next_batch(
    reader: &mut impl BufRead,
    line: &mut u64,
    meter: &crate::progress::Meter,
    b: &mut Batch,
) -> std::io::Result<()> {
    b.buf.clear();
    b.lines.clear();
    while b.lines.len() < BATCH {
        let start = b.buf.len();
        let n = reader.read_until(b'\n', &mut b.buf)?;
        if n == 0 {
            break;
        }
        meter.add(n as u64);
        *line += 1;
        if trim(&b.buf[start..], *line == 1).is_empty() {
            b.buf.truncate(start);
        } else {
            b.lines.push((*line, start, b.buf.len()));
        }
    }
    Ok(())
}

/// Parses and walks a batch of lines (in parallel): what each record adds, in order.
/// Most records take the typed fast path, read as the entity (person or user) the general
/// walk last found; the rest (and all unusual records) are read as a JSON tree by the walk.
fn parse_batch(
    w: &Walker,
    fast: &Fast,
    hint: &AtomicU8,
    file: u32,
    batch: &Batch,
) -> Vec<Vec<Action>> {
    use rayon::prelude::*;
    batch
        .lines
        .par_iter()
        .map(|&(n, start, end)| {
            let at = RecordRef { file, n, sub: None };
            let line = trim(&batch.buf[start..end], n == 1);
            let mut actions = parse_line(w, fast, hint, at, line);
            for a in &mut actions {
                if let Action::User(_, f) = a {
                    w.verdict(f);
                }
            }
            actions
        })
        .collect()
}

/// One line's actions: the fast path for a record of the kind last seen, else the walk.
fn parse_line(w: &Walker, fast: &Fast, hint: &AtomicU8, at: RecordRef, line: &[u8]) -> Vec<Action> {
    let guess = match hint.load(Ordering::Relaxed) {
        0 => Entity::Person,
        _ => Entity::User,
    };
    if let Some(f) = fast.read(w, guess, line) {
        return vec![match guess {
            Entity::Person => Action::Person(at, f),
            Entity::User => Action::User(at, f),
        }];
    }
    let actions = match serde_json::from_slice::<Value>(line) {
        Ok(v) => prepare(w, at, v),
        Err(_) => vec![Action::Drop {
            at,
            field: None,
            reason: Reason::MalformedJson,
            counted: true,
        }],
    };
    // Only a hint: it changes which path reads a record, never what is read.
    match actions.as_slice() {
        [Action::Person(..)] => hint.store(0, Ordering::Relaxed),
        [Action::User(..)] => hint.store(1, Ordering::Relaxed),
        _ => {}
    }
    actions
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
    let fast = Fast::new(&w);
    let hint = AtomicU8::new(0);
    let next = |reader: &mut std::io::BufReader<std::fs::File>, line: &mut u64, b: &mut Batch| {
        next_batch(reader, line, meter, b).map_err(|e| Error::io(path, e))
    };
    // Three batches in flight: one being read from the file and one being added to the
    // export (on this thread), one being parsed (on the others).
    let mut raw = Batch::default();
    let mut spare = Batch::default();
    next(&mut reader, &mut line, &mut raw)?;
    let mut current = Vec::new();
    while !raw.lines.is_empty() || !current.is_empty() {
        let (parsed, read) = rayon::join(
            || parse_batch(&w, &fast, &hint, id, &raw),
            || {
                for actions in current.drain(..) {
                    apply(r, actions);
                }
                next(&mut reader, &mut line, &mut spare)
            },
        );
        current = parsed;
        read?;
        std::mem::swap(&mut raw, &mut spare);
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
    let doc: Value = match serde_json::from_slice(trim(&bytes, true)) {
        Ok(doc) => doc,
        // `mongoexport` writes one document per line into a `.json` file.
        Err(e) if e.is_syntax() && e.to_string().starts_with("trailing characters") => {
            return read_lines(r, path);
        }
        // serde's message holds a line and column, never the input text.
        Err(e) => {
            return Err(Error::input(
                path,
                format!("not a valid JSON document: {e}"),
            ))
        }
    };
    let id = r.add_file(path, Unit::Index);
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

/// MongoDB Extended JSON (v2 relaxed and canonical, and the legacy "strict" form of
/// `mongoexport` before 4.2) as plain JSON: `{"$oid": s}` -> s, `{"$date": iso}` -> iso,
/// `{"$date": {"$numberLong": ms}}` -> ms, `{"$numberInt"|"$numberLong"|"$numberDouble"|
/// "$numberDecimal": s}` -> the number (a non-finite one stays text, so a measurement
/// holding it is non-numeric), `{"$binary": ..}` -> null (`_ct`, `_ac`: never needed).
pub(super) fn plain_json(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(plain_json).collect()),
        Value::Object(o) => {
            if let Some(v) = extended(&o) {
                return v;
            }
            Value::Object(o.into_iter().map(|(k, v)| (k, plain_json(v))).collect())
        }
        v => v,
    }
}

fn extended(o: &Map<String, Value>) -> Option<Value> {
    let (k, v) = o.iter().next()?;
    if !k.starts_with('$') {
        return None;
    }
    let number = |s: &str| -> Value {
        if let Ok(i) = s.parse::<i64>() {
            return Value::from(i);
        }
        match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(s.to_string()),
        }
    };
    match (k.as_str(), v, o.len()) {
        ("$oid", Value::String(s), 1) => Some(Value::String(s.clone())),
        ("$date", Value::String(s), 1) => Some(Value::String(s.clone())),
        ("$date", Value::Number(n), 1) => Some(Value::Number(n.clone())),
        ("$date", Value::Object(inner), 1) => match inner.get("$numberLong") {
            Some(Value::String(ms)) if inner.len() == 1 => Some(number(ms)),
            _ => None,
        },
        (
            "$numberInt" | "$numberLong" | "$numberDouble" | "$numberDecimal",
            Value::String(s),
            1,
        ) => Some(number(s)),
        ("$binary", _, 1 | 2) => Some(Value::Null),
        ("$type", _, 2) if o.contains_key("$binary") => Some(Value::Null),
        ("$timestamp", _, 1) => Some(Value::Null),
        _ => None,
    }
}

/// One top-level record: a person (set), a user, or an account with its people.
fn prepare(w: &Walker, at: RecordRef, v: Value) -> Vec<Action> {
    let v = if w.pl.format == Format::FreesewingV2 {
        plain_json(v)
    } else {
        v
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Pipeline;
    use rand::{Rng, SeedableRng};

    fn repo(p: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
    }

    /// What the general walk makes of a line, when it makes one person or one user of it.
    fn walk(w: &Walker, line: &[u8]) -> Option<(Entity, Fields)> {
        let v: Value = serde_json::from_slice(line).ok()?;
        let at = RecordRef {
            file: 0,
            n: 1,
            sub: None,
        };
        match <[Action; 1]>::try_from(prepare(w, at, v)).ok()? {
            [Action::Person(_, f)] => Some((Entity::Person, f)),
            [Action::User(_, f)] => Some((Entity::User, f)),
            _ => None,
        }
    }

    /// Whatever the fast path reads, the general walk reads the same way. Returns whether
    /// the fast path read the line.
    fn same_as_walk(w: &Walker, fast: &Fast, line: &[u8]) -> bool {
        let mut read = false;
        for guess in [Entity::Person, Entity::User] {
            if let Some(f) = fast.read(w, guess, line) {
                let shown = String::from_utf8_lossy(line);
                let (entity, g) = walk(w, line)
                    .unwrap_or_else(|| panic!("fast path read what the walk does not: {shown}"));
                assert_eq!(entity, guess, "{shown}");
                // Compared as printed: NaN (missing) equals NaN, -0.0 differs from 0.0.
                assert_eq!(format!("{f:?}"), format!("{g:?}"), "{shown}");
                assert!(f.problem.is_none() && f.unknown.is_empty(), "{shown}");
                read = true;
            }
        }
        read
    }

    /// A record as (key, raw JSON text) pairs, so mutations can write what a JSON tree
    /// cannot hold (1e999, lone surrogates, duplicate keys, invalid UTF-8).
    fn pairs(line: &str) -> Vec<(String, Vec<u8>)> {
        let v: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        v.into_iter()
            .map(|(k, v)| (k, serde_json::to_vec(&v).unwrap()))
            .collect()
    }

    fn render(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"{".to_vec();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(v);
        }
        out.push(b'}');
        out
    }

    const VALUES: &[&[u8]] = &[
        b"null",
        b"true",
        b"false",
        b"0",
        b"-1",
        b"7",
        b"254.0",
        b"1.5e2",
        b"-0.0",
        b"1e999",
        b"-1e999",
        b"1e-999",
        b"123456789012345678901234567890",
        b"18446744073709551616",
        b"3.141592653589793238462643383279",
        b"0.1",
        b"\"\"",
        b"\"x\"",
        b"\"254\"",
        b"\"a\\\"b\"",
        b"\"\\u00e9t\\u00e9\"",
        b"\"\\ud800\"",
        b"\"\\udc00\\ud800\"",
        b"\"\\ud83d\\ude00\"",
        b"\"bad\xff\xfeutf8\"",
        b"\"tab\there\"",
        b"\"\\q\"",
        b"\"2026-01-01T00:00:00.000Z\"",
        b"[]",
        b"[1,\"a\",null]",
        b"{}",
        b"{\"a\":1}",
        b"{\"a\":1,\"a\":2}",
        b"{\"chest\":1000.0}",
        b"{\"waist\":800,\"ankle\":null}",
        b"{\"iv\":\"x\",\"ct\":\"y\"}",
        b"\"{\\\"chest\\\": 900}\"",
        b"\"\\\"{\\\\\\\"chest\\\\\\\": 900}\\\"\"",
        b"[1,",
    ];

    /// One edit of an object's pairs: `op` 0 changes a value, 1 adds a key from `keys`,
    /// 2 duplicates a pair, 3 drops one.
    fn edit(rng: &mut impl Rng, pairs: &mut Vec<(String, Vec<u8>)>, keys: &[&str], op: u32) {
        let value = VALUES[rng.random_range(0..VALUES.len())].to_vec();
        let n = pairs.len();
        match op {
            0 if n > 0 => pairs[rng.random_range(0..n)].1 = value,
            1 => {
                let k = keys[rng.random_range(0..keys.len())].to_string();
                pairs.insert(rng.random_range(0..=n), (k, value));
            }
            2 if n > 0 => {
                let dup = pairs[rng.random_range(0..n)].clone();
                pairs.insert(rng.random_range(0..=n), dup);
            }
            3 if n > 0 => {
                pairs.remove(rng.random_range(0..n));
            }
            _ => {}
        }
    }

    /// Mutates one record: one edit of its fields, or of its measurements (when they are
    /// an object) with measurement names, aliases, retired and unknown names as keys.
    fn mutate(
        rng: &mut impl Rng,
        pairs: &mut Vec<(String, Vec<u8>)>,
        keys: &[&str],
        inner: &[&str],
    ) {
        let op = rng.random_range(0..6);
        if op < 4 {
            return edit(rng, pairs, keys, op);
        }
        let Some(i) = pairs
            .iter()
            .position(|(k, v)| (k == "measies" || k == "measurements") && v.first() == Some(&b'{'))
        else {
            return;
        };
        let mut m = pairs_of(&pairs[i].1);
        let op = rng.random_range(0..4);
        edit(rng, &mut m, inner, op);
        pairs[i].1 = render(&m);
    }

    /// (key, raw value) pairs of a rendered object, when it still parses as one.
    fn pairs_of(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
        std::str::from_utf8(raw)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Map<String, Value>>(s).ok())
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, serde_json::to_vec(&v).unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn fuzz(pipeline: &str, lines: &[String], keys: &[&str]) {
        let pl = Pipeline::load(&repo(pipeline)).unwrap();
        let w = Walker::new(&pl);
        let fast = Fast::new(&w);
        let mut inner: Vec<&str> = vec!["hpsToHipsBack", "notAMeasurement", "iv", "ct", "chest"];
        for m in &pl.catalog.measurements {
            inner.push(&m.name);
            inner.extend(m.aliases.iter().map(String::as_str));
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261129);
        let (mut clean, mut mutated, mut total) = (0, 0, 0);
        for line in lines {
            // Every clean record of the sample takes the fast path.
            if same_as_walk(&w, &fast, line.as_bytes()) {
                clean += 1;
            }
            let base = pairs(line);
            // Every field given every odd value, one at a time.
            for i in 0..base.len() {
                for v in VALUES {
                    let mut p = base.clone();
                    p[i].1 = v.to_vec();
                    same_as_walk(&w, &fast, &render(&p));
                }
            }
            for _ in 0..40 {
                let mut p = base.clone();
                for _ in 0..rng.random_range(1..4) {
                    mutate(&mut rng, &mut p, keys, &inner);
                }
                total += 1;
                if same_as_walk(&w, &fast, &render(&p)) {
                    mutated += 1;
                }
            }
        }
        assert_eq!(
            clean,
            lines.len(),
            "{pipeline}: the fast path reads clean records"
        );
        // The mutations are not all refused: the comparison is exercised on odd records too.
        assert!(
            mutated * 10 > total,
            "{pipeline}: only {mutated} of {total} mutated records read fast"
        );
    }

    fn sample_lines(path: &str, n: usize) -> Vec<String> {
        std::fs::read_to_string(repo(path))
            .unwrap()
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l)
                    .is_ok_and(|v| v.is_object() && !v.get("measies").is_some_and(Value::is_string))
            })
            .take(n)
            .map(String::from)
            .collect()
    }

    #[test]
    fn fast_path_reads_v3_records_exactly_as_the_walk() {
        let mut lines = sample_lines("data-samples/freesewing-v3/sets.ndjson", 60);
        lines.extend(sample_lines("data-samples/freesewing-v3/users.ndjson", 60));
        let keys = [
            "id",
            "userId",
            "measies",
            "sets",
            "consent",
            "lastSeen",
            "unknownField",
            "name",
            "na\\u006de",
        ];
        fuzz("pipelines/freesewing-v3.toml", &lines, &keys);
    }

    #[test]
    fn fast_path_reads_v2_people_exactly_as_the_walk() {
        let doc: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(repo("data-samples/freesewing-v2/people.json")).unwrap(),
        )
        .unwrap();
        let lines: Vec<String> = doc
            .iter()
            .filter(|v| v.get("measurements").is_some_and(Value::is_object))
            .take(80)
            .map(|v| v.to_string())
            .collect();
        let keys = [
            "user",
            "breasts",
            "measurements",
            "account",
            "people",
            "handle",
            "unknownField",
        ];
        fuzz("pipelines/freesewing-v2.toml", &lines, &keys);
    }
}
