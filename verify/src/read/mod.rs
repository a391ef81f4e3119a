//! Streaming readers of a release: the Parquet and CSV tables, the other files.

pub(crate) mod files;
pub(crate) mod scan;
pub mod table;
