//! Made-up accounts and their sets: names, e-mails, notes and links that look real enough
//! to test the stripping (example domains only), and the records as each format holds them.

use super::body::{Body, BODY, BREASTS_ONLY};
use super::{Options, SampleFormat};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

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

    pub(super) fn user_record(&self, rng: &mut ChaCha8Rng, o: &Options) -> Value {
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

pub(super) fn person_record(
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
        if BREASTS_ONLY.contains(&name) && !body.breasts || body.held >> j & 1 == 0 {
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
