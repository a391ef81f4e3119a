//! One file per check id of the SPEC, in run order.

pub(crate) mod integrity;
pub(crate) mod k;
pub mod linkage;
mod nearest;
pub(crate) mod pii;
pub(crate) mod plausible;
pub(crate) mod schema;
pub(crate) mod secrets;
pub mod series;
