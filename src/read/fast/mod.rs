//! The common FreeSewing record, read without building a JSON tree: a flat person (set) or
//! user object whose every field has a role, read straight into [`Fields`]; identifier
//! values are parsed (so text the walk would reject is rejected here too) but not kept.
//! Measurements may be an object or JSON text holding one (v3 `measies`).
//!
//! This path only accepts what it can read exactly as [`Walker::walk`] would: any record
//! with something unusual (an unknown or nested field, a duplicate key, a wrong type, an
//! account export with its sets inside, an escaped key, ...) is refused with `None`, and
//! the general walk reads it from a JSON tree and decides. So both paths give the same
//! people, drops and errors; tests in `freesewing.rs` compare them on the samples, on
//! every field given odd values, and on random edits.

use super::{Fields, Walker};
use crate::catalog::Lookup;
use crate::pipeline::{Format, Role};
use rustc_hash::FxHashMap;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

mod scalars;
use scalars::{Key, Number, Owner, Scalar, Skip};

/// Which entity a record is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entity {
    Person,
    User,
}

/// One top-level field of an entity: its role and where its value goes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    role: Role,
    /// Index among the filters (Filter) or the categories (Category), if the pipeline
    /// uses this field as one.
    index: Option<usize>,
    /// Seeing this key makes the record a person (v3 `measies`/`userId`, v2
    /// `measurements`/`breasts`).
    marks_person: bool,
}

/// Lookup tables for the fast path, built once per run.
pub(crate) struct Fast {
    /// Top-level field -> slot number, per entity (person, user).
    fields: [FxHashMap<String, usize>; 2],
    slots: [Vec<Slot>; 2],
    /// Measurement container key -> catalog lookup.
    names: FxHashMap<String, Lookup>,
    /// Current measurement names in alphabetical order, with their catalog index:
    /// exports (and FreeSewing) write them so, and the key after `order[i]` is tried as
    /// `order[i + 1]` first (one comparison instead of a hash). Only a shortcut: a miss
    /// falls back to `names`.
    order: Vec<(String, usize)>,
    /// Catalog index -> its current name's place in `order`.
    rank: Vec<usize>,
    /// Keys that make a record something other than a flat person or user.
    structural: [&'static str; 2],
    catalog_len: usize,
}

/// Refusal: the record needs the general walk (any error makes the caller fall back).
pub(super) fn refuse<E: de::Error>() -> E {
    E::custom("refused")
}

impl Fast {
    pub(crate) fn new(w: &Walker) -> Fast {
        let pl = w.pl;
        let (person, markers, structural): (&str, [&str; 2], [&'static str; 2]) = match pl.format {
            Format::FreesewingV3 => ("set", ["measies", "userId"], ["sets", "sets"]),
            _ => ("person", ["measurements", "breasts"], ["people", "account"]),
        };
        let build = |entity: &str, markers: &[&str]| {
            let mut fields = FxHashMap::default();
            let mut slots = Vec::new();
            for (path, &role) in pl.roles.get(entity).into_iter().flatten() {
                let index = match role {
                    Role::Filter => w.filter_index(entity, path),
                    Role::Category => w.category_index(entity, path),
                    _ => None,
                };
                fields.insert(path.clone(), slots.len());
                slots.push(Slot {
                    role,
                    index,
                    marks_person: markers.contains(&path.as_str()),
                });
            }
            (fields, slots)
        };
        let (pf, ps) = build(person, &markers);
        // A user record holding a person marker is still read as a person by the walk:
        // mark those keys in the user table too, so such a record is refused as a user.
        let (uf, us) = build("user", &markers);
        let mut names = FxHashMap::default();
        for (i, m) in pl.catalog.measurements.iter().enumerate() {
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                names.insert(n.clone(), pl.catalog.lookup(n));
            }
            debug_assert_eq!(pl.catalog.lookup(&m.name), Lookup::Known(i));
        }
        let mut order: Vec<(String, usize)> = pl
            .catalog
            .measurements
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.clone(), i))
            .collect();
        order.sort();
        let mut rank = vec![0; order.len()];
        for (r, &(_, i)) in order.iter().enumerate() {
            rank[i] = r;
        }
        Fast {
            fields: [pf, uf],
            slots: [ps, us],
            names,
            order,
            rank,
            structural,
            catalog_len: pl.catalog.measurements.len(),
        }
    }

    /// Reads measurements given as JSON text (an object, or a JSON string holding one, as
    /// FreeSewing's double encoding leaves them) into `out`, as the walk would; false,
    /// with `out`'s measurements untouched, when the walk must read them.
    pub(crate) fn measurements_text(&self, w: &Walker, text: &str, out: &mut Fields) -> bool {
        if self.catalog_len > 256 {
            return false;
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let ok = Measurements {
            fast: self,
            w,
            out: &mut *out,
            in_string: false,
        }
        .deserialize(&mut de)
        .is_ok()
            && de.end().is_ok();
        if !ok {
            out.values.fill(f32::NAN);
            out.breasts_only_present = false;
        }
        ok
    }

    /// Reads one record as `entity`; `None` when the general walk must read it (including
    /// when the record turns out to be the other entity).
    pub(crate) fn read(&self, w: &Walker, entity: Entity, line: &[u8]) -> Option<Fields> {
        if self.catalog_len > 256 {
            return None;
        }
        // The line checked as UTF-8 once (JSON text is UTF-8; a line that is not goes to
        // the walk, which rejects it): the parser then checks no string again.
        let text = std::str::from_utf8(line).ok()?;
        let mut de = serde_json::Deserializer::from_str(text);
        let f = Record {
            fast: self,
            w,
            entity,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        Some(f)
    }

    /// What a measurement key is; `next`: the place in `order` of the key expected, moved
    /// past this one when it is a current name. Retired legacy names are in the
    /// catalog's own lookup only.
    fn lookup(&self, w: &Walker, name: &str, next: &mut usize) -> Lookup {
        if let Some((n, i)) = self.order.get(*next) {
            if n == name {
                *next += 1;
                return Lookup::Known(*i);
            }
        }
        match self.names.get(name) {
            Some(&l) => {
                if let Lookup::Known(i) = l {
                    if w.pl.catalog.measurements[i].name == name {
                        *next = self.rank[i] + 1;
                    }
                }
                l
            }
            None => w.pl.catalog.lookup(name),
        }
    }
}

struct Record<'f, 'w, 'a> {
    fast: &'f Fast,
    w: &'w Walker<'a>,
    entity: Entity,
}

impl<'de> DeserializeSeed<'de> for Record<'_, '_, '_> {
    type Value = Fields;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Fields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_, '_, '_> {
    type Value = Fields;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let e = self.entity as usize;
        let (fields, slots) = (&self.fast.fields[e], &self.fast.slots[e]);
        let mut out = self.w.new_fields();
        let mut seen = 0u128;
        let mut is_person = false;
        while let Some(key) = map.next_key_seed(Key)? {
            if self.fast.structural.contains(&key) {
                return Err(refuse());
            }
            let Some(&slot_no) = fields.get(key) else {
                return Err(refuse()); // unknown, or an object with declared children
            };
            if slot_no >= 128 || seen & (1 << slot_no) != 0 {
                return Err(refuse());
            }
            seen |= 1 << slot_no;
            let slot = slots[slot_no];
            is_person |= slot.marks_person;
            match slot.role {
                Role::Identifier => {
                    map.next_value::<Skip>()?;
                }
                Role::Owner => out.owner = Some(map.next_value_seed(Owner)?),
                Role::Filter => {
                    let v: Value = map.next_value()?;
                    if let Some(i) = slot.index {
                        let v = self.w.filter_value(v, &mut out);
                        out.set_filter(i, Some(v));
                    }
                }
                Role::Category => match slot.index {
                    Some(i) => {
                        let v = map.next_value_seed(Scalar)?;
                        out.set_category(i, v)
                    }
                    None => {
                        map.next_value::<Skip>()?;
                    }
                },
                Role::Measurement => map.next_value_seed(Measurements {
                    fast: self.fast,
                    w: self.w,
                    out: &mut out,
                    in_string: false,
                })?,
            }
        }
        if is_person != (self.entity == Entity::Person) {
            return Err(refuse());
        }
        Ok(out)
    }
}

/// The measurement container: an object of name -> number or null.
struct Measurements<'f, 'w, 'a, 'o> {
    fast: &'f Fast,
    w: &'w Walker<'a>,
    out: &'o mut Fields,
    /// Reading the JSON text held in a string (v3 `measies` may come so); a string inside
    /// that is refused, as the walk makes it a wrong type.
    in_string: bool,
}

impl<'de> DeserializeSeed<'de> for Measurements<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Measurements<'_, '_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of measurements")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    /// Measurements given as JSON text: read from the text, as the walk does.
    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        if self.in_string {
            return Err(refuse());
        }
        let mut de = serde_json::Deserializer::from_str(text);
        Measurements {
            in_string: true,
            ..self
        }
        .deserialize(&mut de)
        .map_err(|_| refuse::<E>())?;
        de.end().map_err(|_| refuse())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let catalog = &self.w.pl.catalog;
        // Keys seen, by catalog index: current names and aliases apart.
        let mut names = [0u64; 4];
        let mut aliases = [0u64; 4];
        let mut next = 0;
        while let Some(name) = map.next_key_seed(Key)? {
            match self.fast.lookup(self.w, name, &mut next) {
                Lookup::Known(i) => {
                    let m = &catalog.measurements[i];
                    let current = name == m.name;
                    let bits = if current { &mut names } else { &mut aliases };
                    if bits[i / 64] & (1 << (i % 64)) != 0 {
                        return Err(refuse());
                    }
                    bits[i / 64] |= 1 << (i % 64);
                    // As the walk: the current name wins over a legacy alias beside it.
                    let pos =
                        self.w.release_pos[i].filter(|&p| self.out.values[p].is_nan() || current);
                    let present = match pos {
                        Some(p) => match map.next_value_seed(Number)? {
                            Some(x) => {
                                self.out.values[p] = x as f32;
                                true
                            }
                            None => false,
                        },
                        None => map.next_value::<Option<Skip>>()?.is_some(),
                    };
                    if m.breasts_only && present {
                        self.out.breasts_only_present = true;
                    }
                }
                Lookup::Retired => {
                    map.next_value::<Skip>()?;
                }
                Lookup::Unknown => return Err(refuse()),
            }
        }
        Ok(())
    }
}
