//! Assessing the anonymized table before it is written: linkage against the eligible people
//! (the checker's own code), utility against them, and raw uniqueness before anonymization.

pub mod linkage;
pub mod pooled;
pub mod public;
pub mod risk;
pub mod utility;
