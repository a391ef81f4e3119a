//! A synthetic FreeSewing backend database: the production DDL (shared/reference STORES.md),
//! values encrypted at rest with a demo key written beside it as `encryption.key` (as the
//! backend writes its own), and every case a real database holds: dates as INTEGER ms,
//! ISO text and SQLite's `YYYY-MM-DD HH:MM:SS` (mixed inside rows), measies single- and
//! double-encoded and in clear, every consent and status value, blocked roles, test
//! accounts, never-seen and long-gone users, curated sets and sets cloned from them, sets
//! cloned from other owners' public sets, an orphan set, one value encrypted under another
//! key, the v3 name `waistToArmhole` and a pre-2.7 name. Same seed, same bytes.

use super::accounts::{ascii, hexid, Owner, DOMAINS, NOTES, SET_NAMES};
use super::body::{Body, BODY, BREASTS_ONLY};
use super::{Options, Written};
use crate::read::decrypt::StoreKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};

/// The production schema (LD `sites/backend/database-schema.sql`, UUID triggers left out).
pub const DDL: &str = r#"
CREATE TABLE "User" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "bio" TEXT NOT NULL DEFAULT '',
  "compare" BOOLEAN NOT NULL DEFAULT true, "consent" INTEGER NOT NULL DEFAULT 0,
  "control" INTEGER NOT NULL DEFAULT 1, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "data" TEXT NOT NULL, "ehash" TEXT NOT NULL, "email" TEXT NOT NULL, "ihash" TEXT NOT NULL,
  "initial" TEXT NOT NULL, "imperial" BOOLEAN NOT NULL DEFAULT false, "jwtCalls" INTEGER NOT NULL DEFAULT 0,
  "keyCalls" INTEGER NOT NULL DEFAULT 0, "language" TEXT NOT NULL DEFAULT 'en', "lastSeen" DATETIME,
  "lusername" TEXT NOT NULL, "mfaSecret" TEXT NOT NULL DEFAULT '', "mfaEnabled" BOOLEAN NOT NULL DEFAULT false,
  "newsletter" BOOLEAN NOT NULL DEFAULT false, "password" TEXT NOT NULL, "patron" INTEGER NOT NULL DEFAULT 0,
  "role" TEXT NOT NULL DEFAULT 'user', "status" INTEGER NOT NULL DEFAULT 0, "updatedAt" DATETIME,
  "username" TEXT NOT NULL, "uuid" TEXT, "nlid" TEXT
);
CREATE TABLE "Set" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "img" TEXT, "imperial" BOOLEAN NOT NULL DEFAULT false, "name" TEXT NOT NULL DEFAULT '',
  "notes" TEXT NOT NULL DEFAULT '', "userId" INTEGER NOT NULL, "measies" TEXT NOT NULL DEFAULT '{}',
  "public" BOOLEAN NOT NULL DEFAULT false, "updatedAt" DATETIME NOT NULL, "uuid" TEXT,
  CONSTRAINT "Set_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE TABLE "CuratedSet" (
  "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "height" INTEGER NOT NULL DEFAULT 1, "info" TEXT NOT NULL DEFAULT '',
  "nameDe" TEXT NOT NULL DEFAULT '', "nameEn" TEXT NOT NULL DEFAULT '', "nameEs" TEXT NOT NULL DEFAULT '',
  "nameFr" TEXT NOT NULL DEFAULT '', "nameNl" TEXT NOT NULL DEFAULT '', "nameUk" TEXT NOT NULL DEFAULT '',
  "notesDe" TEXT NOT NULL DEFAULT '', "notesEn" TEXT NOT NULL DEFAULT '', "notesEs" TEXT NOT NULL DEFAULT '',
  "notesFr" TEXT NOT NULL DEFAULT '', "notesNl" TEXT NOT NULL DEFAULT '', "notesUk" TEXT NOT NULL DEFAULT '',
  "tags" TEXT NOT NULL DEFAULT '{}', "measies" TEXT NOT NULL DEFAULT '[]', "updatedAt" DATETIME NOT NULL,
  "published" BOOLEAN NOT NULL DEFAULT false, "uuid" TEXT
);
CREATE UNIQUE INDEX "User_ehash_key" ON "User"("ehash");
CREATE UNIQUE INDEX "User_lusername_key" ON "User"("lusername");
CREATE UNIQUE INDEX "User_uuid_key" ON "User"("uuid");
CREATE UNIQUE INDEX "User_nlid_key" ON "User"("nlid");
CREATE UNIQUE INDEX "Set_uuid_key" ON "Set"("uuid");
CREATE UNIQUE INDEX "CuratedSet_uuid_key" ON "CuratedSet"("uuid");
CREATE INDEX "User_ihash_idx" ON "User"("ihash");
CREATE INDEX "Set_userId_idx" ON "Set"("userId");
"#;

pub const DB_NAME: &str = "backend.sqlite";
pub const KEY_NAME: &str = "encryption.key";

/// The backend's test-account domain (`BACKEND_TEST_DOMAIN`).
pub const TEST_DOMAIN: &str = "freesewing.dev";

/// A DATETIME as one of the three encodings a live database holds.
fn datetime(rng: &mut ChaCha8Rng, days: i64) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    let secs = days * 86400 + rng.random_range(0..86400);
    let date = crate::date::format_date(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    match rng.random_range(0..3) {
        0 => V::Integer(secs * 1000 + rng.random_range(0..1000)),
        1 => V::Text(format!("{date}T{h:02}:{m:02}:{s:02}.000Z")),
        _ => V::Text(format!("{date} {h:02}:{m:02}:{s:02}")),
    }
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let a = hexid(rng);
    let b = hexid(rng);
    format!(
        "{}-{}-4{}-a{}-{}",
        &a[..8],
        &a[8..12],
        &a[13..16],
        &b[..3],
        &b[4..16]
    )
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

struct Enc<'a> {
    key: &'a StoreKey,
}

impl Enc<'_> {
    /// `JSON.stringify(value)` encrypted, with an IV from the sample's RNG.
    fn value(&self, rng: &mut ChaCha8Rng, v: &Value) -> String {
        let iv: [u8; 16] = rng.random();
        self.key.encrypt_text(&v.to_string(), iv)
    }

    /// A JSON field: single-encoded (older decorator) or double-encoded (later one).
    fn json_field(&self, rng: &mut ChaCha8Rng, v: &Value, double: bool) -> String {
        if double {
            self.value(rng, &Value::String(v.to_string()))
        } else {
            self.value(rng, v)
        }
    }
}

fn measies(body: &Body, legacy: bool) -> Value {
    let mut m = Map::new();
    for (j, &(name, ..)) in BODY.iter().enumerate() {
        if BREASTS_ONLY.contains(&name) && !body.breasts || body.held >> j & 1 == 0 {
            continue;
        }
        let key = match name {
            "waistToArmpit" if legacy => "waistToArmhole",
            "chest" if legacy => "chestCircumference",
            n => n,
        };
        m.insert(key.to_string(), json!(body.values[j]));
    }
    Value::Object(m)
}

pub fn generate(o: &Options) -> std::io::Result<Written> {
    let io = |e: rusqlite::Error| std::io::Error::other(e.to_string());
    std::fs::create_dir_all(&o.out)?;
    let db = o.out.join(DB_NAME);
    let _ = std::fs::remove_file(&db);
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    // The backend's `randomString(64)`: 128 hex characters.
    let key_text: String = (0..8).map(|_| hexid(&mut rng)).collect();
    std::fs::write(o.out.join(KEY_NAME), format!("{key_text}\n"))?;
    let key = StoreKey::derive(&key_text);
    let other = StoreKey::derive("not-this-backend's-key");
    let enc = Enc { key: &key };
    let mut conn = Connection::open(&db).map_err(io)?;
    conn.execute_batch(DDL).map_err(io)?;
    // Old rows predate the constraint: the orphan set below is written as they were.
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(io)?;
    let tx = conn.transaction().map_err(io)?;
    let mut w = Written::default();
    {
        let mut user = tx
            .prepare(
                "INSERT INTO \"User\" (id, bio, compare, consent, control, createdAt, data, ehash, email, ihash, initial, imperial, jwtCalls, keyCalls, language, lastSeen, lusername, mfaSecret, mfaEnabled, newsletter, password, patron, role, status, updatedAt, username, uuid, nlid) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
            )
            .map_err(io)?;
        let mut set = tx
            .prepare(
                "INSERT INTO \"Set\" (id, createdAt, img, imperial, name, notes, userId, measies, public, updatedAt, uuid) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(io)?;
        let mut curated = tx
            .prepare(
                "INSERT INTO \"CuratedSet\" (id, createdAt, height, info, nameEn, notesEn, tags, measies, updatedAt, published, uuid) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(io)?;
        // Public reference sets, in clear.
        let mut curated_bodies = Vec::new();
        for i in 0..6 {
            let b = Body::new(&mut rng);
            let created = datetime(&mut rng, o.as_of - 900);
            let updated = datetime(&mut rng, o.as_of - 300);
            curated
                .execute(params![
                    i + 1,
                    created,
                    i + 1,
                    "curator notes",
                    format!("Curated size {}", 34 + 2 * i),
                    "A standard body from a sizing table.",
                    "[\"sizing\"]",
                    measies(&b, false).to_string(),
                    updated,
                    true,
                    uuid(&mut rng),
                ])
                .map_err(io)?;
            curated_bodies.push(b);
        }
        let mut set_id: i64 = 1000;
        let bodies = super::Bodies::new(o);
        let mut public_sets: Vec<Value> = Vec::new();
        while w.people < o.people {
            w.owners += 1;
            let owner = Owner::new(&mut rng, w.owners, o);
            let test = rng.random::<f64>() < 0.01;
            let email = if test {
                format!("test_{}@{TEST_DOMAIN}", hexid(&mut rng))
            } else {
                // Unique, as `User.ehash` is.
                format!(
                    "{}.{}{}@{}",
                    ascii(owner.first).to_lowercase(),
                    ascii(owner.last).to_lowercase().replace(' ', ""),
                    owner.id,
                    DOMAINS[rng.random_range(0..DOMAINS.len())]
                )
            };
            // Since launch: 1 = account data, 2 = + open data; 3 only from the alpha.
            let consent: i64 = match rng.random::<f64>() {
                x if x < 0.70 => 2,
                x if x < 0.76 => 3,
                x if x < 0.93 => 1,
                _ => 0,
            };
            let status: i64 = match rng.random::<f64>() {
                x if x < 0.94 => 1,
                x if x < 0.97 => 0,
                x if x < 0.99 => -1,
                _ => -2,
            };
            let role = if rng.random::<f64>() < 0.005 {
                "blocked"
            } else {
                "user"
            };
            let seen_days_ago = if rng.random::<f64>() < 0.85 {
                rng.random_range(0..330)
            } else {
                rng.random_range(400..2200)
            };
            let last_seen = if rng.random::<f64>() < 0.02 {
                rusqlite::types::Value::Null
            } else {
                datetime(&mut rng, o.as_of - seen_days_ago)
            };
            let age = rng.random_range(0..1500);
            let created = datetime(&mut rng, o.as_of - seen_days_ago - age);
            let username = format!("{}{}", owner.username, owner.id);
            let bio = format!("Hi, I'm {} and I post on @{}.", owner.first, owner.username);
            let double = rng.random::<bool>();
            let data = enc.json_field(&mut rng, &json!({}), double);
            let password = json!({"type": "v3", "data": hexid(&mut rng), "salt": hexid(&mut rng)});
            user.execute(params![
                owner.id as i64,
                enc.value(&mut rng, &json!(bio)),
                rng.random::<f64>() < 0.9,
                consent,
                rng.random_range(1..=5),
                created,
                data,
                sha256_hex(&email),
                enc.value(&mut rng, &json!(email)),
                sha256_hex(&email),
                enc.value(&mut rng, &json!(email)),
                rng.random::<f64>() < 0.2,
                rng.random_range(0..5000),
                rng.random_range(0..50),
                ["en", "nl", "fr", "de", "es", "uk"][rng.random_range(0..6)],
                last_seen,
                username.to_lowercase(),
                "",
                false,
                rng.random::<f64>() < 0.3,
                password.to_string(),
                [0, 0, 0, 2, 4, 8][rng.random_range(0..6)],
                role,
                status,
                datetime(&mut rng, o.as_of - seen_days_ago),
                username,
                uuid(&mut rng),
                uuid(&mut rng),
            ])
            .map_err(io)?;
            let n = match rng.random::<f64>() {
                x if x < 0.70 => 1,
                x if x < 0.90 => 2,
                _ => rng.random_range(3..=4),
            };
            let mut last: Option<Body> = None;
            for i in 0..n {
                if w.people >= o.people {
                    break;
                }
                set_id += 1;
                w.people += 1;
                let roll = rng.random::<f64>();
                let mut notes = NOTES[rng.random_range(0..NOTES.len())].to_string();
                let m = if roll < 0.01 && !public_sets.is_empty() {
                    // A public set of another owner, cloned (`guardedClone`).
                    notes.push_str(" (Note: This measurements set was cloned from set #1)");
                    public_sets[rng.random_range(0..public_sets.len())].clone()
                } else if roll < 0.02 {
                    // A curated set cloned into the account: identical measies.
                    measies(
                        &curated_bodies[rng.random_range(0..curated_bodies.len())],
                        false,
                    )
                } else {
                    let body = match &last {
                        Some(b) if rng.random::<f64>() < 0.15 => bodies.again(&mut rng, b),
                        _ => bodies.body(&mut rng),
                    };
                    let m = measies(&body, rng.random::<f64>() < 0.05);
                    last = Some(body);
                    m
                };
                let public = rng.random::<f64>() < 0.1;
                if public && public_sets.len() < 50 {
                    public_sets.push(m.clone());
                }
                let stored = match rng.random::<f64>() {
                    x if x < 0.002 => "{}".to_string(), // never filled in
                    x if x < 0.003 => {
                        let iv: [u8; 16] = rng.random();
                        other.encrypt_text(&Value::String(m.to_string()).to_string(), iv)
                    }
                    x if x < 0.03 => m.to_string(), // written in clear by a script
                    x if x < 0.35 => enc.json_field(&mut rng, &m, false),
                    _ => enc.json_field(&mut rng, &m, true),
                };
                let name = if i == 0 && rng.random::<f64>() < 0.5 {
                    format!("{} {}", owner.first, owner.last)
                } else {
                    SET_NAMES[rng.random_range(0..SET_NAMES.len())].to_string()
                };
                let img = (rng.random::<f64>() < 0.3).then(|| {
                    format!(
                        "https://images.example-sewing.test/sets/{}.jpg",
                        hexid(&mut rng)
                    )
                });
                let age = rng.random_range(30..2000);
                set.execute(params![
                    set_id,
                    datetime(&mut rng, o.as_of - age),
                    img,
                    false,
                    enc.value(&mut rng, &json!(name)),
                    enc.value(&mut rng, &json!(notes)),
                    owner.id as i64,
                    stored,
                    public,
                    datetime(&mut rng, o.as_of - age / 2),
                    uuid(&mut rng),
                ])
                .map_err(io)?;
            }
        }
        // A set whose account was removed (written with foreign keys off, as old rows are).
        let body = bodies.body(&mut rng);
        set.execute(params![
            set_id + 1,
            datetime(&mut rng, o.as_of - 100),
            Option::<String>::None,
            false,
            enc.value(&mut rng, &json!("Me")),
            enc.value(&mut rng, &json!("")),
            (w.owners + 1_000_000) as i64,
            enc.json_field(&mut rng, &measies(&body, false), true),
            false,
            datetime(&mut rng, o.as_of - 100),
            uuid(&mut rng),
        ])
        .map_err(io)?;
        w.people += 1;
    }
    tx.commit().map_err(io)?;
    conn.execute_batch("VACUUM").map_err(io)?;
    drop(conn);
    w.files = vec![db, o.out.join(KEY_NAME)];
    Ok(w)
}
