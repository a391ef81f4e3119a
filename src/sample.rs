//! Synthetic exports shaped like the real ones, for tests, demos and benchmarks. No real
//! person is in them: bodies come from a latent-factor model around the FreeSewing base
//! sizes, identifiers are made up (example domains), and a few records are broken on
//! purpose. Written as a stream, so a million people need little memory. Same seed, same
//! bytes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleFormat {
    #[value(name = "freesewing-v3")]
    FreesewingV3,
    #[value(name = "freesewing-v2")]
    FreesewingV2,
    /// The backend's SQLite database, encrypted with a demo key written beside it.
    #[value(name = "freesewing-sqlite")]
    FreesewingSqlite,
    /// The v2 collections `users` and `people` as `mongoexport` writes them (one
    /// document per line, relaxed Extended JSON).
    #[value(name = "freesewing-v2-mongoexport")]
    FreesewingV2Mongoexport,
}

impl SampleFormat {
    fn v2(self) -> bool {
        matches!(
            self,
            SampleFormat::FreesewingV2 | SampleFormat::FreesewingV2Mongoexport
        )
    }
}

/// (name, female-like mean, male-like mean, kind). Means are the FreeSewing base sizes.
/// Kind: L = length (follows height), G = girth (follows build), M = both.
pub(crate) const BODY: [(&str, f64, f64, char); 38] = [
    ("ankle", 245.0, 235.0, 'G'),
    ("biceps", 270.0, 350.0, 'G'),
    ("bustFront", 480.0, 560.0, 'G'),
    ("bustPointToUnderbust", 100.0, 60.0, 'M'),
    ("bustSpan", 160.0, 190.0, 'M'),
    ("chest", 925.0, 1000.0, 'G'),
    ("crossSeam", 740.0, 870.0, 'M'),
    ("crossSeamFront", 370.0, 410.0, 'M'),
    ("crotchDepth", 270.0, 340.0, 'M'),
    ("heel", 315.0, 360.0, 'M'),
    ("head", 565.0, 590.0, 'M'),
    ("highBust", 865.0, 1030.0, 'G'),
    ("highBustFront", 440.0, 570.0, 'G'),
    ("hips", 900.0, 840.0, 'G'),
    ("hpsToBust", 275.0, 280.0, 'L'),
    ("hpsToWaistBack", 395.0, 470.0, 'L'),
    ("hpsToWaistFront", 400.0, 460.0, 'L'),
    ("inseam", 765.0, 780.0, 'L'),
    ("knee", 380.0, 410.0, 'G'),
    ("neck", 340.0, 380.0, 'G'),
    ("seat", 1010.0, 1020.0, 'G'),
    ("seatBack", 520.0, 560.0, 'G'),
    ("shoulderSlope", 13.0, 13.0, 'S'),
    ("shoulderToElbow", 340.0, 360.0, 'L'),
    ("shoulderToShoulder", 415.0, 450.0, 'M'),
    ("shoulderToWrist", 590.0, 630.0, 'L'),
    ("underbust", 780.0, 980.0, 'G'),
    ("upperLeg", 570.0, 625.0, 'G'),
    ("waist", 750.0, 810.0, 'G'),
    ("waistBack", 380.0, 410.0, 'G'),
    ("waistToArmpit", 170.0, 210.0, 'L'),
    ("waistToFloor", 1050.0, 1160.0, 'L'),
    ("waistToHips", 125.0, 130.0, 'L'),
    ("waistToKnee", 600.0, 640.0, 'L'),
    ("waistToSeat", 250.0, 270.0, 'L'),
    ("waistToUnderbust", 80.0, 55.0, 'L'),
    ("waistToUpperLeg", 285.0, 340.0, 'L'),
    ("wrist", 165.0, 175.0, 'G'),
];
pub(crate) const BREASTS_ONLY: [&str; 7] = [
    "bustFront",
    "bustSpan",
    "highBust",
    "highBustFront",
    "hpsToWaistFront",
    "underbust",
    "waistToUnderbust",
];
/// v2 exports made before the 2020 rename use these names.
const LEGACY: [(&str, &str); 6] = [
    ("chest", "chestCircumference"),
    ("waist", "naturalWaist"),
    ("crotchDepth", "seatDepth"),
    ("neck", "neckCircumference"),
    ("seat", "seatCircumference"),
    ("waistToFloor", "naturalWaistToFloor"),
];

pub(crate) const FIRST: [&str; 24] = [
    "Maria", "Joost", "Anneke", "Wouter", "Sarah", "Liam", "Chloé", "Mateo", "Aiko", "Noor",
    "Fatima", "Lucas", "Emma", "Oskar", "Priya", "Tomás", "Ingrid", "Kwame", "Yuki", "Elena",
    "Hannah", "Rafael", "Sofia", "Bram",
];
pub(crate) const LAST: [&str; 20] = [
    "Schmidt",
    "de Vries",
    "Janssens",
    "Okafor",
    "García",
    "Nakamura",
    "Novak",
    "Dubois",
    "Kowalski",
    "Andersen",
    "Rossi",
    "Haddad",
    "Fernandes",
    "Müller",
    "Smith",
    "Larsen",
    "Peeters",
    "Costa",
    "Ivanova",
    "Bakker",
];
pub(crate) const DOMAINS: [&str; 4] = [
    "example.com",
    "example.org",
    "mail.example.net",
    "example.de",
];
pub(crate) const NOTES: [&str; 6] = [
    "Measured by my sister after the holidays, waist might be a bit generous.",
    "New measurements after pregnancy. Call me at +31 6 1234 5678 if the pattern needs fitting.",
    "For the wedding suit, tailor took these on a Tuesday in the shop on Main Street.",
    "Left arm is slightly longer; used the right one. See https://blog.example.org/my-fitting",
    "Kids' measurements, redo in spring.",
    "Self-measured in the mirror, not very reliable around the shoulders.",
];
pub(crate) const SET_NAMES: [&str; 6] =
    ["Me", "Mum", "Partner", "Me (2024)", "Dress form", "Brother"];

pub struct Options {
    pub format: SampleFormat,
    pub people: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// Reference date (days since epoch): "last seen" dates are spread before it.
    pub as_of: i64,
}

/// Figures about what was written.
#[derive(Debug, Default, serde::Serialize)]
pub struct Written {
    pub owners: u64,
    pub people: u64,
    pub files: Vec<PathBuf>,
}

pub fn generate(o: &Options) -> std::io::Result<Written> {
    if o.format == SampleFormat::FreesewingSqlite {
        return crate::sample_store::generate(o);
    }
    std::fs::create_dir_all(&o.out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let (people_name, users_name) = match o.format {
        SampleFormat::FreesewingV3 => ("sets.ndjson", "users.ndjson"),
        SampleFormat::FreesewingV2 | SampleFormat::FreesewingV2Mongoexport => {
            ("people.json", "users.json")
        }
        SampleFormat::FreesewingSqlite => unreachable!("written by sample_store"),
    };
    let people_path = o.out.join(people_name);
    let users_path = o.out.join(users_name);
    let mut people = Out::new(&people_path, o.format)?;
    let mut users = Out::new(&users_path, o.format)?;
    let mut w = Written::default();
    let mut set_id: u64 = 1000;

    while w.people < o.people {
        w.owners += 1;
        let owner = Owner::new(&mut rng, w.owners, o);
        let user = owner.user_record(&mut rng, o);
        if o.format == SampleFormat::FreesewingV2Mongoexport {
            users.record(&mongo_user(&mut rng, user, w.owners))?;
        } else {
            users.record(&user)?;
        }
        // Most owners have one person; some several; some measured one body twice.
        let n = match rng.random::<f64>() {
            x if x < 0.70 => 1,
            x if x < 0.90 => 2,
            _ => rng.random_range(3..=5),
        };
        let mut last: Option<Body> = None;
        for i in 0..n {
            if w.people >= o.people {
                break;
            }
            let body = match &last {
                Some(b) if rng.random::<f64>() < 0.15 => b.remeasured(&mut rng),
                _ => Body::new(&mut rng),
            };
            set_id += 1;
            w.people += 1;
            let rec = person_record(&mut rng, o, &owner, set_id, i, &body, w.people);
            if o.format == SampleFormat::FreesewingV2Mongoexport {
                people.record(&mongo_doc(&mut rng, rec))?;
            } else {
                people.record(&rec)?;
            }
            if o.format == SampleFormat::FreesewingV3 && w.people == o.people / 2 {
                // A line cut short, as a crashed export leaves it.
                people.raw("{\"id\": 99999999, \"userId\": 1, \"name\": \"Me\", \"measies\": {\"chest\": 9")?;
            }
            last = Some(body);
        }
    }
    if o.format == SampleFormat::FreesewingV2Mongoexport {
        // A person whose account document was removed (v2 `remove` left people behind).
        let body = Body::new(&mut rng);
        let ghost = Owner::new(&mut rng, w.owners + 1, o);
        let rec = person_record(&mut rng, o, &ghost, set_id + 1, 0, &body, w.people + 1);
        people.record(&mongo_doc(&mut rng, rec))?;
        w.people += 1;
    }
    people.finish()?;
    users.finish()?;
    w.files = vec![people_path, users_path];
    Ok(w)
}

/// A document as `mongoexport` writes it (relaxed Extended JSON): an ObjectId, a version
/// key, and dates as `{"$date": ISO}`.
fn mongo_doc(rng: &mut ChaCha8Rng, v: Value) -> Value {
    let Value::Object(o) = v else { return v };
    let mut out = Map::new();
    out.insert(
        "_id".into(),
        json!({"$oid": format!("{:08x}{}", rng.random::<u32>(), hexid(rng))}),
    );
    for (k, v) in o {
        let v = match (k.as_str(), v) {
            ("createdAt" | "updatedAt", Value::String(s)) => json!({"$date": s}),
            ("time", Value::Object(t)) => Value::Object(
                t.into_iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => (k, json!({"$date": s})),
                        v => (k, v),
                    })
                    .collect(),
            ),
            (_, v) => v,
        };
        out.insert(k, v);
    }
    out.insert("__v".into(), json!(0));
    Value::Object(out)
}

/// A `users` document: e-mail and social accounts are inside mongoose-encryption's `_ct`
/// (random bytes here: a reader never needs them); some owners predate the 2019 rename
/// of `consent.measurements` (`model`), some are frozen (restricted processing).
fn mongo_user(rng: &mut ChaCha8Rng, v: Value, n: u64) -> Value {
    use base64::Engine;
    let mut d = mongo_doc(rng, v);
    let o = d.as_object_mut().expect("a user document");
    o.remove("email");
    o.remove("social");
    o.insert(
        "ehash".into(),
        json!(format!(
            "{}{}{}{}",
            hexid(rng),
            hexid(rng),
            hexid(rng),
            hexid(rng)
        )),
    );
    o.insert(
        "password".into(),
        json!(format!("$2b$10${}{}", hexid(rng), hexid(rng))),
    );
    let b64 = |rng: &mut ChaCha8Rng| {
        let bytes: [u8; 48] = rng.random();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    o.insert(
        "_ct".into(),
        json!({"$binary": {"base64": b64(rng), "subType": "00"}}),
    );
    o.insert(
        "_ac".into(),
        json!({"$binary": {"base64": b64(rng), "subType": "00"}}),
    );
    let consent = o["consent"].as_object_mut().expect("consent");
    if n % 17 == 3 {
        let m = consent.remove("measurements").unwrap_or(json!(true));
        consent.insert("model".into(), m);
    }
    if n % 29 == 5 {
        o.insert("status".into(), json!("frozen"));
    }
    d
}

/// A JSON writer: NDJSON for v3, one JSON array per file for v2.
struct Out {
    w: BufWriter<std::fs::File>,
    array: bool,
    first: bool,
}

impl Out {
    fn new(path: &Path, format: SampleFormat) -> std::io::Result<Out> {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
        let array = format == SampleFormat::FreesewingV2;
        if array {
            w.write_all(b"[\n")?;
        }
        Ok(Out {
            w,
            array,
            first: true,
        })
    }

    fn record(&mut self, v: &Value) -> std::io::Result<()> {
        if self.array && !self.first {
            self.w.write_all(b",\n")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.w, v)?;
        if !self.array {
            self.w.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Writes raw text as one record (used for the deliberately broken line).
    fn raw(&mut self, text: &str) -> std::io::Result<()> {
        self.w.write_all(text.as_bytes())?;
        self.w.write_all(b"\n")
    }

    fn finish(mut self) -> std::io::Result<()> {
        if self.array {
            self.w.write_all(b"\n]\n")?;
        }
        self.w.flush()
    }
}

pub(crate) struct Owner {
    pub(crate) id: u64,
    handle: String,
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    pub(crate) username: String,
}

impl Owner {
    pub(crate) fn new(rng: &mut ChaCha8Rng, id: u64, _o: &Options) -> Owner {
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let username = format!(
            "{}{}{}",
            ascii(first).to_lowercase(),
            ["_", ".", ""][rng.random_range(0..3)],
            rng.random_range(1..999)
        );
        Owner {
            id,
            handle: handle(rng),
            first,
            last,
            username,
        }
    }

    fn user_record(&self, rng: &mut ChaCha8Rng, o: &Options) -> Value {
        let email = format!(
            "{}.{}{}@{}",
            ascii(self.first).to_lowercase(),
            ascii(self.last).to_lowercase().replace(' ', ""),
            rng.random_range(1..99),
            DOMAINS[rng.random_range(0..DOMAINS.len())]
        );
        // 85% seen within the last ~11 months; the rest 13 months to 6 years ago.
        let seen_days_ago = if rng.random::<f64>() < 0.85 {
            rng.random_range(0..330)
        } else {
            rng.random_range(400..2200)
        };
        let last_seen = timestamp(rng, o.as_of - seen_days_ago);
        let account_age = rng.random_range(0..1500);
        let created = timestamp(rng, o.as_of - seen_days_ago - account_age);
        let bio = format!(
            "Hi, I'm {} from {}. I sew {} and post on @{}.",
            self.first,
            ["Antwerp", "Lyon", "Osaka", "Porto", "Leeds"][rng.random_range(0..5)],
            ["dresses", "shirts", "jeans", "everything"][rng.random_range(0..4)],
            self.username
        );
        let img = format!(
            "https://images.example-sewing.test/users/{}.webp",
            hexid(rng)
        );
        match o.format {
            SampleFormat::FreesewingV3 => {
                // The production columns, as `sqlite3 -json` prints a decrypted dump.
                let consent = match rng.random::<f64>() {
                    x if x < 0.72 => 2,
                    x if x < 0.78 => 3,
                    x if x < 0.95 => 1,
                    _ => 0,
                };
                let status = match rng.random::<f64>() {
                    x if x < 0.94 => 1,
                    x if x < 0.97 => 0,
                    x if x < 0.99 => -1,
                    _ => -2,
                };
                let email = if rng.random::<f64>() < 0.01 {
                    format!("test_{}@freesewing.dev", hexid(rng))
                } else {
                    email
                };
                let last_seen = if rng.random::<f64>() < 0.02 {
                    Value::Null
                } else {
                    json!(last_seen)
                };
                json!({
                    "id": self.id,
                    "bio": bio,
                    "compare": 1,
                    "consent": consent,
                    "control": rng.random_range(1..=5),
                    "createdAt": created,
                    "data": "{}",
                    "ehash": format!("{}{}{}{}", hexid(rng), hexid(rng), hexid(rng), hexid(rng)),
                    "email": email,
                    "ihash": format!("{}{}{}{}", hexid(rng), hexid(rng), hexid(rng), hexid(rng)),
                    "initial": email,
                    "imperial": u8::from(rng.random::<f64>() < 0.2),
                    "jwtCalls": rng.random_range(0..5000),
                    "keyCalls": 0,
                    "language": (["en", "nl", "fr", "de", "es"][rng.random_range(0..5)]),
                    "lastSeen": last_seen,
                    "lusername": self.username.to_lowercase(),
                    "mfaSecret": "",
                    "mfaEnabled": 0,
                    "newsletter": u8::from(rng.random::<f64>() < 0.3),
                    "password": format!("{{\"type\":\"v3\",\"data\":\"{}\",\"salt\":\"{}\"}}", hexid(rng), hexid(rng)),
                    "patron": ([0, 0, 0, 2, 4, 8][rng.random_range(0..6)]),
                    "role": if rng.random::<f64>() < 0.005 { "blocked" } else { "user" },
                    "status": status,
                    "updatedAt": created,
                    "username": self.username,
                })
            }
            _ => json!({
                "handle": self.handle,
                "email": email,
                "username": self.username,
                "bio": bio,
                "picture": img,
                "social": {
                    "github": format!("{}-sews", self.username),
                    "twitter": format!("@{}", self.username),
                    "instagram": format!("@{}.makes", self.username),
                },
                "settings": {"language": "en", "units": (["metric", "imperial"][rng.random_range(0..2)])},
                "patron": 0,
                "role": "user",
                "status": "active",
                "newsletter": false,
                "consent": {
                    "profile": true,
                    "measurements": true,
                    "openData": rng.random::<f64>() < 0.8,
                },
                "time": {"created": created, "login": last_seen},
            }),
        }
    }
}

/// One body: sex-like type and measurements in mm (shoulderSlope in degrees).
#[derive(Clone)]
pub(crate) struct Body {
    pub(crate) breasts: bool,
    pub(crate) values: [f64; 38],
}

impl Body {
    pub(crate) fn new(rng: &mut ChaCha8Rng) -> Body {
        let breasts = rng.random::<f64>() < 0.55;
        // Latent factors: height and build, mildly correlated.
        let h = normal(rng);
        let g = 0.35 * h + (1.0f64 - 0.35 * 0.35).sqrt() * normal(rng);
        let mut values = [0.0; 38];
        for (i, &(_, f, m, kind)) in BODY.iter().enumerate() {
            let mean = if breasts { f } else { m };
            let (a, b, cv) = match kind {
                'L' => (0.85, 0.15, 0.045),
                'G' => (0.15, 0.85, 0.085),
                'M' => (0.55, 0.5, 0.06),
                _ => (0.0, 0.3, 0.2),
            };
            let e = (1.0f64 - a * a - b * b).max(0.05).sqrt();
            let z = a * h + b * g + e * normal(rng);
            values[i] = (mean * (1.0 + cv * z)).round();
        }
        Body { breasts, values }
    }

    /// The same body measured again: a few millimetres off here and there.
    pub(crate) fn remeasured(&self, rng: &mut ChaCha8Rng) -> Body {
        let mut b = self.clone();
        for v in &mut b.values {
            *v += rng.random_range(-2..=2) as f64;
        }
        b
    }
}

fn person_record(
    rng: &mut ChaCha8Rng,
    o: &Options,
    owner: &Owner,
    id: u64,
    i: usize,
    body: &Body,
    nth: u64,
) -> Value {
    let v2 = o.format.v2();
    let legacy = v2 && rng.random::<f64>() < 0.25;
    let mut m = Map::new();
    for (j, &(name, ..)) in BODY.iter().enumerate() {
        if BREASTS_ONLY.contains(&name) && !body.breasts {
            continue;
        }
        let key = LEGACY
            .iter()
            .find(|(n, _)| legacy && *n == name)
            .map(|(_, l)| *l)
            .unwrap_or(name);
        m.insert(key.to_string(), json!(body.values[j]));
    }
    // About 1 in 150 records is incomplete or broken, as in a real export.
    let mut broken: Option<&str> = None;
    if rng.random::<f64>() < 1.0 / 150.0 {
        let what = ["missing", "string", "negative", "inches", "encrypted"][rng.random_range(0..5)];
        let chest = if legacy {
            "chestCircumference"
        } else {
            "chest"
        };
        match what {
            "missing" => {
                m.remove("waist");
                m.remove("naturalWaist");
            }
            "string" => {
                m.insert(chest.into(), json!("95cm"));
            }
            "negative" => {
                m.insert(chest.into(), json!(-950));
            }
            "inches" => {
                m.insert(chest.into(), json!(38));
            }
            _ => broken = Some("encrypted"),
        }
    }
    let name = if i == 0 && rng.random::<f64>() < 0.5 {
        format!("{} {}", owner.first, owner.last)
    } else {
        SET_NAMES[rng.random_range(0..SET_NAMES.len())].to_string()
    };
    let notes = NOTES[rng.random_range(0..NOTES.len())];
    let img = format!("https://images.example-sewing.test/sets/{}.jpg", hexid(rng));
    let age = rng.random_range(30..2000);
    let created = timestamp(rng, o.as_of - age);
    let measies = if broken.is_some() {
        json!({"iv": hexid(rng), "ct": format!("{}{}{}", hexid(rng), hexid(rng), hexid(rng))})
    } else if !v2 && nth.is_multiple_of(7) {
        // Some exports hold measies as a JSON string.
        Value::String(Value::Object(m.clone()).to_string())
    } else {
        Value::Object(m)
    };
    if v2 {
        json!({
            "handle": handle(rng),
            "user": owner.handle,
            "name": name,
            "breasts": body.breasts,
            "picture": img,
            "units": "metric",
            "notes": notes,
            "measurements": measies,
            "createdAt": created,
            "updatedAt": created,
        })
    } else {
        json!({
            "id": id,
            "userId": owner.id,
            "name": name,
            "notes": notes,
            "img": img,
            "imperial": false,
            "public": rng.random::<f64>() < 0.1,
            "measies": measies,
            "createdAt": created,
            "updatedAt": created,
        })
    }
}

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; deterministic given the RNG stream.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(crate) fn handle(rng: &mut ChaCha8Rng) -> String {
    (0..5)
        .map(|_| (b'a' + rng.random_range(0..26u8)) as char)
        .collect()
}

pub(crate) fn hexid(rng: &mut ChaCha8Rng) -> String {
    format!("{:016x}", rng.random::<u64>())
}

pub(crate) fn timestamp(rng: &mut ChaCha8Rng, days: i64) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}.000Z",
        crate::date::format_date(days),
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60)
    )
}

pub(crate) fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' => 'e',
            'á' => 'a',
            'í' => 'i',
            'ü' => 'u',
            'ó' => 'o',
            c => c,
        })
        .collect()
}
