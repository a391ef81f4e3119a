//! opentape: turns body-measurement exports into anonymized, versioned open datasets.
//!
//! The pipeline, one module (folder) per stage, each handing a typed value to the next:
//! [`read`] (roles applied, identifiers dropped: `Export`) -> [`filter`] (consent, accounts,
//! retention, plausibility, dedupe: `Eligible`) -> [`anonymize`] (partition: `Partition`;
//! generalize with noise: `Table`) -> [`assess`] (linkage check, utility, uniqueness) ->
//! [`publish`] (table, documents, manifest, staging, versions). [`release`] is the chain.
//! Every arrow runs one way: no module imports a module that imports it back.

// Settings and records every stage reads.
pub mod catalog;
pub mod date;
pub mod error;
pub mod num;
pub mod pipeline;
pub mod progress;
pub mod record;

// The stages, in pipeline order (one group each, so rustfmt keeps the order).
/// 1. Read the input -> `Export`.
pub mod read;

/// 2. Filter -> `Eligible`.
pub mod filter;

/// 3. Partition and generalize -> `Partition`, `Table`.
pub mod anonymize;

/// 4. Linkage, utility, uniqueness.
pub mod assess;

/// 5. Write, stage, check, publish.
pub mod publish;

/// A series of versions: which classes a version keeps, the ledger of the private folder.
pub mod series;

/// Everything of a release but the files (after read and filter): `Run`.
pub mod prepare;

/// The chain of the five.
pub mod release;

// Other commands' libraries.
pub mod inspect;
pub mod sample;

pub use error::{Error, Result};
