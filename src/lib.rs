//! opentape: turns body-measurement exports into anonymized, versioned open datasets.
//!
//! Stages, each a module with typed values between them:
//! [`read`] (roles applied, identifiers dropped) -> [`filter`] (consent, retention,
//! plausibility, dedupe) -> anonymize -> write -> verify.

pub mod anonymize;
pub mod assess;
pub mod catalog;
pub mod docs;
pub mod error;
pub mod filter;
pub mod inspect;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod read;
pub mod release;
pub mod report;
pub mod sample;
pub mod sample_store;
pub mod versions;

pub use error::{Error, Result};
