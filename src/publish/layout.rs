//! Every file name of a release, in one place.

pub const PARQUET: &str = "measurements.parquet";
pub const CSV: &str = "measurements.csv";
pub const MANIFEST: &str = "manifest.json";
pub const SUMS: &str = "SHA256SUMS";
pub const DATAPACKAGE: &str = "datapackage.json";
pub const CROISSANT: &str = "croissant.json";
pub const CITATION: &str = "CITATION.cff";
pub const DATASHEET: &str = "DATASHEET.md";
pub const REPORT_JSON: &str = "report.json";
pub const REPORT_HTML: &str = "report.html";
