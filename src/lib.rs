//! opentape: turns body-measurement exports into anonymized, versioned open datasets.
//!
//! Stages, each a module with typed values between them:
//! [`read`] (roles applied, identifiers dropped) -> [`filter`] (consent, retention,
//! plausibility, dedupe) -> anonymize -> write -> verify.

pub mod anonymize;
pub mod assess;
pub mod catalog;
pub mod date;
pub mod error;
pub mod filter;
pub mod inspect;
pub mod model;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod read;
pub mod release;
pub mod sample;
pub mod sample_store;

pub use error::{Error, Result};
