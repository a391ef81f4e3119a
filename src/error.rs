//! Library errors. Each names the file, the record and the field where it can, and never
//! carries a value read from the input (a value may be personal data).

use std::path::PathBuf;

/// Exit codes, as documented in the README: 0 ok, 1 a guarantee failed or a release was
/// refused, 2 usage, input or I/O error.
pub const EXIT_REFUSED: i32 = 1;
pub const EXIT_INPUT: i32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}, record {record}: field `{field}` has no role in the pipeline (deny by default): declare it in [roles.{entity}] of {pipeline}")]
    UnknownField {
        path: PathBuf,
        record: String,
        field: String,
        entity: String,
        pipeline: PathBuf,
    },
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("refused: {0}")]
    Refused(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Refused(_) => EXIT_REFUSED,
            _ => EXIT_INPUT,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
