//! Every file name opentape writes, in one place: a release's, its folder's, the private folder's.

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

// Beside the versions, in `--out`.
pub const CHANGELOG: &str = "CHANGELOG.md";
/// Holds the latest version's name.
pub const LATEST: &str = "latest";

// In the private folder (`--private-dir`): never published.
pub const DROPPED: &str = "dropped.csv";
pub const MEMBERSHIP: &str = "membership.csv";
pub const UTILITY: &str = "utility.json";
/// The series ledger's folder, and its latest state inside it.
pub const SERIES_DIR: &str = "series";
pub const LEDGER: &str = "ledger.json";
