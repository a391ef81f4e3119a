//! Synthetic exports shaped like the real ones, for tests, demos and benchmarks. No real
//! person is in them: bodies come from a latent-factor model around the FreeSewing base
//! sizes, identifiers are made up (example domains), and a few records are broken on
//! purpose. Written as a stream, so a million people need little memory. Same seed, same
//! bytes.

mod accounts;
mod body;
mod entry;
mod mongo;
mod store;

use accounts::{person_record, Owner};
use body::Body;
use entry::Designs;
pub use entry::Entry;
use mongo::{mongo_doc, mongo_user};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
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

pub struct Options {
    pub format: SampleFormat,
    pub people: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// Reference date (days since epoch): "last seen" dates are spread before it.
    pub as_of: i64,
    /// Which measurements a set holds.
    pub entry: Entry,
}

/// Bodies and what their owners entered of them.
pub(crate) struct Bodies {
    /// The designs, when sets hold their owners' designs' measurements.
    designs: Option<Designs>,
    /// Every person is from v2 (a v2 export).
    v2: bool,
}

impl Bodies {
    pub(crate) fn new(o: &Options) -> Bodies {
        Bodies {
            designs: (o.entry == Entry::Designs).then(Designs::load),
            v2: o.format.v2(),
        }
    }

    /// A new body, holding what its owner entered.
    pub(crate) fn body(&self, rng: &mut ChaCha8Rng) -> Body {
        let mut b = Body::new(rng);
        if let Some(d) = &self.designs {
            b.held = d.held(rng, self.v2, b.breasts);
        }
        b
    }

    /// The same body measured again, for the same designs or one more.
    pub(crate) fn again(&self, rng: &mut ChaCha8Rng, last: &Body) -> Body {
        let mut b = last.remeasured(rng);
        if let Some(d) = &self.designs {
            let v2 = self.v2 || last.held & entry::V3_ONLY_BITS == 0;
            b.held = d.again(rng, last.held, v2, b.breasts);
        }
        b
    }
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
        return store::generate(o);
    }
    std::fs::create_dir_all(&o.out)?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let (people_name, users_name) = match o.format {
        SampleFormat::FreesewingV3 => ("sets.ndjson", "users.ndjson"),
        SampleFormat::FreesewingV2 | SampleFormat::FreesewingV2Mongoexport => {
            ("people.json", "users.json")
        }
        SampleFormat::FreesewingSqlite => unreachable!("written by store::generate"),
    };
    let people_path = o.out.join(people_name);
    let users_path = o.out.join(users_name);
    let mut people = Out::new(&people_path, o.format)?;
    let mut users = Out::new(&users_path, o.format)?;
    let mut w = Written::default();
    let mut set_id: u64 = 1000;
    let bodies = Bodies::new(o);

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
                Some(b) if rng.random::<f64>() < 0.15 => bodies.again(&mut rng, b),
                _ => bodies.body(&mut rng),
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
        let body = bodies.body(&mut rng);
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
