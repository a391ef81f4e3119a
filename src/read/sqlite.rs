//! The FreeSewing backend's SQLite database (v3 Prisma era and v4 node:sqlite era): tables
//! `User` and `Set`, and `CuratedSet` when present (public reference sets, read only to
//! recognise copies of them). Opened read-only and read inside one read transaction, so a
//! live WAL database gives one consistent snapshot. Every column of `User` and `Set` needs
//! a role (deny by default against the real schema); identifier columns are never even
//! selected, and only the values needed to decide who is published are decrypted.

use super::{Fields, Reader};
use crate::error::{Error, Result};
use crate::pipeline::Role;
use crate::record::{Reason, RecordRef, Unit};
use rayon::prelude::*;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::path::Path;

/// Rows per batch: decrypted and parsed in parallel, then added in row order.
const BATCH: usize = 4096;

/// A stored `measies` larger than this is no set of body measurements.
pub const MAX_MEASIES_BYTES: i64 = 1 << 20;

/// (entity, table) pairs read as records.
const TABLES: [(&str, &str); 2] = [("user", "User"), ("set", "Set")];

fn db_err(path: &Path, table: Option<&str>, e: rusqlite::Error) -> Error {
    // SQLite's messages name the problem ("file is not a database", "database disk image
    // is malformed", "database is locked"), never a stored value.
    let what = match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) => format!("{m} ({:?})", f.code),
        rusqlite::Error::SqliteFailure(f, None) => format!("{:?}", f.code),
        other => other.to_string(),
    };
    match table {
        Some(t) => Error::input(path, format!("table {t}: {what}")),
        None => Error::input(path, what),
    }
}

/// The first column of every row of `sql`, as text (`table`, if any, names the errors).
fn texts(conn: &Connection, path: &Path, table: Option<&str>, sql: &str) -> Result<Vec<String>> {
    let mut st = conn.prepare(sql).map_err(|e| db_err(path, table, e))?;
    let names = st
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
        .map_err(|e| db_err(path, table, e))?;
    Ok(names)
}

/// Column names of `table` in the file, in table order.
fn columns(conn: &Connection, path: &Path, table: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT name FROM pragma_table_info('{table}')");
    texts(conn, path, Some(table), &sql)
}

/// A stored value as JSON: integers and reals as numbers, text as a string.
fn json(v: ValueRef) -> Option<Value> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(Value::from(i)),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map(Value::Number),
        ValueRef::Text(t) => Some(Value::String(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        })),
        ValueRef::Blob(_) => Some(Value::Null),
    }
}

pub(super) fn read(r: &mut Reader, path: &Path) -> Result<()> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| db_err(path, None, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| db_err(path, None, e))?;
    // One read transaction: every SELECT below sees the same snapshot.
    conn.execute_batch("BEGIN DEFERRED")
        .map_err(|e| db_err(path, None, e))?;
    let mut tables = texts(
        &conn,
        path,
        None,
        "SELECT name FROM sqlite_master WHERE type = 'table'",
    )?;
    tables.sort();
    for (_, table) in TABLES {
        if !tables.iter().any(|t| t == table) {
            return Err(Error::input(
                path,
                format!("table {table} is missing: not a FreeSewing backend database"),
            ));
        }
    }
    let pl = r.pl;
    // Deny by default: every column of User and Set has a role.
    let mut selected: Vec<Vec<(String, Role)>> = Vec::new();
    for (entity, table) in TABLES {
        let cols = columns(&conn, path, table)?;
        let mut sel = Vec::new();
        for c in &cols {
            match pl.role(entity, c) {
                None => {
                    r.unknown_field_at(entity, c, format!("{}\u{0}table {table}", path.display()))
                }
                Some((Role::Identifier, _)) => {}
                Some((role, _)) => sel.push((c.clone(), role)),
            }
        }
        // Every field the pipeline reads from this table is there.
        let needed = pl
            .filter_fields()
            .into_iter()
            .chain(pl.categories.iter().filter_map(|c| match &c.source {
                crate::pipeline::CategorySource::Field { entity, path } => {
                    Some(format!("{entity}.{path}"))
                }
                _ => None,
            }));
        for q in needed {
            if let Some(col) = q.strip_prefix(&format!("{entity}.")) {
                if !cols.iter().any(|c| c == col) {
                    return Err(Error::input(
                        path,
                        format!("table {table} has no column {col}, which the pipeline reads"),
                    ));
                }
            }
        }
        for role in [Role::Owner, Role::Measurement] {
            let declared = pl
                .roles
                .get(entity)
                .is_some_and(|m| m.values().any(|x| *x == role));
            if declared && !sel.iter().any(|(_, x)| *x == role) {
                return Err(Error::input(
                    path,
                    format!("table {table} has no {role:?} column the pipeline declares"),
                ));
            }
        }
        selected.push(sel);
    }
    if r.unknown_pending() {
        return Ok(()); // reported by the reader's finish, naming table and column
    }
    let users = r.add_file(path, Unit::TableId("User"));
    read_table(r, &conn, path, "user", "User", &selected[0], users)?;
    let sets = r.add_file(path, Unit::TableId("Set"));
    read_table(r, &conn, path, "set", "Set", &selected[1], sets)?;
    if tables.iter().any(|t| t == "CuratedSet") {
        read_curated(r, &conn, path)?;
    }
    conn.execute_batch("COMMIT")
        .map_err(|e| db_err(path, None, e))?;
    r.file_done(path);
    Ok(())
}

/// One row as read: its id, then each selected column's value.
struct Row {
    id: i64,
    values: Vec<Option<Value>>,
}

fn read_table(
    r: &mut Reader,
    conn: &Connection,
    path: &Path,
    entity: &str,
    table: &str,
    cols: &[(String, Role)],
    file: u32,
) -> Result<()> {
    // The measurement column's size is asked of SQLite first, so an oversized value is
    // never loaded.
    // Column names come from the file: quoted as SQL identifiers.
    let list: Vec<String> = cols
        .iter()
        .map(|(c, role)| (c.replace('"', "\"\""), role))
        .map(|(c, role)| match role {
            Role::Measurement => format!(
                "CASE WHEN length(CAST(\"{c}\" AS BLOB)) > {MAX_MEASIES_BYTES} THEN X'' ELSE \"{c}\" END"
            ),
            _ => format!("\"{c}\""),
        })
        .collect();
    let sql = format!(
        "SELECT rowid, {} FROM \"{table}\" ORDER BY rowid",
        if list.is_empty() {
            "NULL".to_string()
        } else {
            list.join(", ")
        }
    );
    let mut st = conn
        .prepare(&sql)
        .map_err(|e| db_err(path, Some(table), e))?;
    let mut rows = st.query([]).map_err(|e| db_err(path, Some(table), e))?;
    let owner_col = cols.iter().position(|(_, role)| *role == Role::Owner);
    // Sets of owners the owner rules drop are not decrypted: nothing of them is needed,
    // and the filter drops them for that rule (users are read first).
    let kept = match (&r.w.rules, entity) {
        (Some(_), "set") => Some(r.kept_owners()),
        _ => None,
    };
    let skip = |row: &Row| -> bool {
        kept.as_ref().is_some_and(
            |kept| match owner_col.and_then(|j| row.values[j].as_ref()) {
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(n) => !kept.contains_number(n),
                    None => !kept.contains(&n.to_string()),
                },
                Some(Value::String(s)) => !kept.contains(s),
                _ => true,
            },
        )
    };
    let fast = super::fast::Fast::new(&r.w);
    let w = r.w.clone();
    let next = |rows: &mut rusqlite::Rows, batch: &mut Vec<Row>| -> Result<bool> {
        batch.clear();
        while batch.len() < BATCH {
            let Some(row) = rows.next().map_err(|e| db_err(path, Some(table), e))? else {
                return Ok(false);
            };
            let id: i64 = row.get(0).map_err(|e| db_err(path, Some(table), e))?;
            let mut values = Vec::with_capacity(cols.len());
            for (j, (_, role)) in cols.iter().enumerate() {
                let v = row
                    .get_ref(j + 1)
                    .map_err(|e| db_err(path, Some(table), e))?;
                values.push(match (role, v) {
                    // The oversized marker: an empty blob.
                    (Role::Measurement, ValueRef::Blob([])) => Some(Value::Bool(false)),
                    _ => json(v),
                });
            }
            batch.push(Row { id, values });
        }
        Ok(true)
    };
    let process = |batch: &[Row]| -> Vec<Fields> {
        batch
            .par_iter()
            .map(|row| {
                let skip = skip(row);
                let mut f = w.new_fields();
                for ((col, role), v) in cols.iter().zip(&row.values) {
                    if !(skip && *role == Role::Measurement) {
                        apply(&w, &fast, entity, col, *role, v.as_ref(), &mut f);
                    }
                }
                if entity == "user" {
                    w.verdict(&mut f);
                }
                f
            })
            .collect()
    };
    let add = |r: &mut Reader, ids: &[i64], fields: Vec<Fields>| {
        for (&id, f) in ids.iter().zip(fields) {
            let at = RecordRef {
                file,
                n: id as u64,
                sub: None,
            };
            if entity == "user" {
                r.add_user(at, f);
            } else {
                r.add_person(at, f);
            }
        }
    };
    // Three batches in flight: one decrypted and parsed on the pool, while this thread
    // (which the SQLite statement cannot leave) reads the next and adds the previous
    // one, in rowid order: the result does not depend on the thread count.
    let mut current: Vec<Row> = Vec::with_capacity(BATCH);
    let mut upcoming: Vec<Row> = Vec::with_capacity(BATCH);
    let mut more = next(&mut rows, &mut current)?;
    let mut done: (Vec<i64>, Vec<Fields>) = (Vec::new(), Vec::new());
    while !current.is_empty() {
        let (fields, read) = std::thread::scope(|s| {
            let worker = s.spawn(|| process(&current));
            add(r, &done.0, std::mem::take(&mut done.1));
            let read = if more {
                next(&mut rows, &mut upcoming)
            } else {
                Ok(false)
            };
            (worker.join().expect("the parse thread"), read)
        });
        let read_more = read?;
        done = (current.iter().map(|row| row.id).collect(), fields);
        std::mem::swap(&mut current, &mut upcoming);
        upcoming.clear();
        more = more && read_more;
    }
    add(r, &done.0, done.1);
    Ok(())
}

/// Applies one column's role to the fields of its row.
fn apply(
    w: &super::Walker,
    fast: &super::fast::Fast,
    entity: &str,
    col: &str,
    role: Role,
    v: Option<&Value>,
    f: &mut Fields,
) {
    match (role, v) {
        (_, None) => {}
        (Role::Owner, Some(v)) => match v {
            Value::Number(n) => f.owner = Some(n.to_string()),
            Value::String(s) if !s.is_empty() => f.owner = Some(s.clone()),
            _ => f.problem(col, Reason::MissingOwner),
        },
        (Role::Filter, Some(v)) => {
            if let Some(i) = w.filter_index(entity, col) {
                let v = w.filter_value(v.clone(), f);
                f.set_filter(i, Some(v));
            }
        }
        (Role::Category, Some(v)) => {
            if let Some(i) = w.category_index(entity, col) {
                match v {
                    Value::String(s) => f.set_category(i, Some(s.clone())),
                    Value::Number(n) => f.set_category(i, Some(n.to_string())),
                    _ => f.problem(col, Reason::WrongType),
                }
            }
        }
        (Role::Measurement, Some(Value::Bool(false))) => f.problem(col, Reason::TooLarge),
        (Role::Measurement, Some(Value::String(s))) if s.trim().is_empty() => {}
        (Role::Measurement, Some(Value::String(s))) => measies(w, fast, entity, col, s, f),
        (Role::Measurement, Some(_)) => f.problem(col, Reason::WrongType),
        (Role::Identifier, _) => {}
    }
}

/// A stored `measies`: the backend's `{"iv","ct"}` decrypted and read by the typed fast
/// path; anything else (clear JSON, other spellings, odd contents) by the walk, which
/// gives the same result.
fn measies(
    w: &super::Walker,
    fast: &super::fast::Fast,
    entity: &str,
    col: &str,
    text: &str,
    f: &mut Fields,
) {
    if let (Some(key), Some((iv, ct))) = (&w.key, super::decrypt::backend_text(text)) {
        f.encrypted += 1;
        match key.decrypt_text(iv, ct) {
            Ok(plain) => {
                if fast.measurements_text(w, &plain, f) {
                    f.decrypted += 1;
                    return;
                }
                // Read again by the walk (it counts this value itself).
                f.encrypted -= 1;
            }
            Err(_) => return f.problem(col, Reason::Undecryptable),
        }
    }
    w.measurement_container(entity, col, &Value::String(text.to_string()), f)
}

/// Curated sets: public reference measurements (stored in clear), kept only to recognise
/// a person's set that is a copy of one.
fn read_curated(r: &mut Reader, conn: &Connection, path: &Path) -> Result<()> {
    let cols = columns(conn, path, "CuratedSet")?;
    if !cols.iter().any(|c| c == "measies") {
        return Ok(());
    }
    let sql = format!(
        "SELECT CASE WHEN length(CAST(measies AS BLOB)) > {MAX_MEASIES_BYTES} THEN NULL ELSE measies END FROM \"CuratedSet\""
    );
    let mut st = conn
        .prepare(&sql)
        .map_err(|e| db_err(path, Some("CuratedSet"), e))?;
    let stored: Vec<Option<String>> = st
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| db_err(path, Some("CuratedSet"), e))?;
    let w = &r.w;
    let sets: Vec<Box<[f32]>> = stored
        .into_par_iter()
        .filter_map(|t| {
            let mut f = w.new_fields();
            w.measurement_container("set", "measies", &Value::String(t?), &mut f);
            let values: Box<[f32]> = f.values.into_boxed_slice();
            (f.problem.is_none() && values.iter().any(|v| !v.is_nan())).then_some(values)
        })
        .collect();
    r.export.reference_sets.extend(sets);
    Ok(())
}
