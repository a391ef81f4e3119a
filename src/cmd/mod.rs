//! The command line: one module per subcommand, each with its arguments and `run`.

/// `print!` to standard output that stops quietly when the reader has gone (`| head -1`
/// closes the pipe): the command goes on and exits with its own code, where `print!`
/// would panic ("failed printing to stdout: Broken pipe", exit 101).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// [`out!`] with a newline, as `println!`.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod diff;
pub mod inspect;
pub mod progress;
pub mod release;
pub mod report;
pub mod sample;
pub mod verify;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "opentape",
    version,
    about = "Turns body-measurement exports into anonymized, versioned open datasets.",
    long_about = None,
    after_help = "Exit codes: 0 ok; 1 a guarantee failed or a release was refused; 2 usage, input or I/O error.\n\n\
Examples:\n  opentape release --pipeline pipelines/freesewing-v3.toml --version 1.0.0 --as-of 2026-11-29\n  \
opentape verify releases/1.0.0 --json\n  \
opentape inspect --pipeline pipelines/ansur2.toml\n  \
opentape sample --format freesewing-v3 --people 2000 --seed 1 --out data-samples/freesewing-v3"
)]
pub struct Cli {
    /// No progress display on stderr (it only appears on a terminal, after a second).
    #[arg(long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Inspect(inspect::Args),
    Diff(diff::Args),
    Report(report::Args),
    Release(release::Args),
    Sample(sample::Args),
    Verify(verify::Args),
}

/// Options shared by the commands that read an export.
#[derive(Debug, clap::Args)]
pub struct InputArgs {
    /// Pipeline file (TOML): format, field roles, filters, release parameters.
    #[arg(long, value_name = "FILE")]
    pub pipeline: PathBuf,
    /// Input files or folders; default: the pipeline's sample input under data-samples/.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Reference date for the retention filter (YYYY-MM-DD); default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Refuse inputs larger than this many bytes in total.
    #[arg(long, value_name = "BYTES", default_value_t = opentape::read::Limits::default().max_input_bytes)]
    pub max_input_bytes: u64,
    /// Refuse inputs with more than this many records (people and users).
    #[arg(long, value_name = "N", default_value_t = opentape::read::Limits::default().max_records)]
    pub max_records: u64,
}

/// `--store-key-file`: the FreeSewing backend's key, for a store whose values are
/// encrypted at rest (and, for `verify`, a key no released file may contain).
#[derive(Debug, clap::Args)]
pub struct StoreKeyArg {
    /// File holding the FreeSewing backend's encryption key (its `encryption.key`, or the
    /// value of BACKEND_ENC_KEY); else the BACKEND_ENC_KEY environment variable.
    #[arg(long, value_name = "FILE")]
    pub store_key_file: Option<PathBuf>,
}

impl StoreKeyArg {
    /// The key text, read as the checker reads it; `None` when none is given.
    pub fn load(&self) -> crate_result::Result<Option<String>> {
        opentape_verify::load_store_key(self.store_key_file.as_deref())
            .map_err(|e| opentape::Error::Usage(e.to_string()))
    }

    /// Read options with this key, derived once (scrypt), and `limits`.
    pub fn read_options(
        &self,
        limits: opentape::read::Limits,
    ) -> crate_result::Result<opentape::read::ReadOptions> {
        let store_key = self
            .load()?
            .map(|k| std::sync::Arc::new(opentape::read::decrypt::StoreKey::derive(&k)));
        Ok(opentape::read::ReadOptions::new(limits, store_key))
    }

    /// The options a command that reads a source runs with: `as_of`, this key within
    /// `limits`, the stage hook and the meter.
    pub fn run_options<'a>(
        &self,
        as_of: i64,
        limits: opentape::read::Limits,
        on_stage: Option<opentape::release::StageHook<'a>>,
        meter: &'a opentape::progress::Meter,
    ) -> crate_result::Result<opentape::release::RunOptions<'a>> {
        Ok(opentape::release::RunOptions {
            as_of,
            read: self.read_options(limits)?,
            on_stage,
            meter,
        })
    }
}

/// The two keys of `release`, `report` and `verify`: the secret noise key and the store's.
#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    /// File holding the secret noise key (at least 16 bytes); else the OPENTAPE_NOISE_KEY
    /// environment variable. `release` keys the noise with it, `report --source` noises
    /// again with it, `verify` checks that no file contains it.
    #[arg(long, value_name = "FILE")]
    pub noise_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreKeyArg,
}

/// Where the noise key may come from, for messages.
pub const NOISE_KEY_SOURCES: &str = "--noise-key-file or OPENTAPE_NOISE_KEY";

impl KeyArgs {
    /// The noise key's bytes, read as the checker reads them; `None` when none is given.
    pub fn noise_bytes(&self) -> crate_result::Result<Option<Vec<u8>>> {
        opentape_verify::load_key(self.noise_key_file.as_deref())
            .map_err(|e| opentape::Error::Usage(e.to_string()))
    }

    /// The noise key, checked (at least 16 bytes); `None` when none is given.
    pub fn noise_key(&self) -> crate_result::Result<Option<opentape::anonymize::noise::NoiseKey>> {
        self.noise_bytes()?
            .map(|b| {
                opentape::anonymize::noise::NoiseKey::from_bytes(b).ok_or_else(|| {
                    opentape::Error::Usage(format!(
                        "the noise key ({NOISE_KEY_SOURCES}) must be at least 16 bytes long"
                    ))
                })
            })
            .transpose()
    }

    /// Whether either key was given on the command line.
    pub fn given(&self) -> bool {
        self.noise_key_file.is_some() || self.store.store_key_file.is_some()
    }
}

impl InputArgs {
    pub fn as_of(&self) -> crate_result::Result<i64> {
        parse_as_of(self.as_of.as_deref())
    }

    pub fn limits(&self) -> opentape::read::Limits {
        opentape::read::Limits {
            max_input_bytes: self.max_input_bytes,
            max_records: self.max_records,
        }
    }

    pub fn inputs(&self, pl: &opentape::pipeline::Pipeline) -> Vec<PathBuf> {
        if self.input.is_empty() {
            pl.default_inputs.clone()
        } else {
            self.input.clone()
        }
    }
}

/// `--as-of`: a YYYY-MM-DD date as days since 1970-01-01; today when absent.
pub fn parse_as_of(s: Option<&str>) -> crate_result::Result<i64> {
    match s {
        None => Ok(opentape::date::today()),
        Some(s) => opentape::date::parse_date(s).ok_or_else(|| {
            opentape::Error::Usage(format!(
                "--as-of `{s}` is not a date of the form YYYY-MM-DD"
            ))
        }),
    }
}

pub mod crate_result {
    pub type Result<T> = std::result::Result<T, opentape::Error>;
}

pub fn run(cli: Cli) -> crate_result::Result<i32> {
    let progress = progress::Progress::new(cli.quiet);
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Report(a) => report::run(a, &progress),
        Command::Release(a) => release::run(a, &progress),
        Command::Sample(a) => sample::run(a),
        Command::Verify(a) => verify::run(a, &progress),
    }
}
