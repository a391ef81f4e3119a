//! Calendar dates as day numbers since 1970-01-01 (UTC): parsing, formatting, today,
//! through chrono (which polars already builds).

use chrono::{Datelike, NaiveDate};
use serde_json::Value;

/// Days since 1970-01-01 of an ISO 8601 date or date-time ("2025-03-01T10:00:00Z"), or of
/// a Unix time in seconds or milliseconds.
pub fn days_since_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_date(s),
        Value::Number(n) => {
            let x = n.as_f64()?;
            let secs = if x.abs() > 1e11 { x / 1000.0 } else { x };
            Some((secs / 86400.0).floor() as i64)
        }
        _ => None,
    }
}

/// 1970-01-01 counted from 0001-01-01 (day 1 of the common era).
const EPOCH: i64 = 719_163;

/// Days since 1970-01-01 of `d`.
fn day_number(d: NaiveDate) -> i64 {
    d.num_days_from_ce() as i64 - EPOCH
}

/// `YYYY-MM-DD` at the start of the text (a date-time's time part, after `T` or a space,
/// is not read).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 10 || (b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ')) {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    // The digits by hand, the calendar by chrono: its `parse_from_str` takes ten times as
    // long (110 ns a date against 11; BENCHMARKS.md), and a million owners each have one.
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32)
        })
    };
    days_from_civil(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// The day number of a civil date (`None` where there is no such day).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<i64> {
    NaiveDate::from_ymd_opt(y, m, d).map(day_number)
}

/// Today, in days since 1970-01-01 (UTC).
pub fn today() -> i64 {
    day_number(chrono::Utc::now().date_naive())
}

/// The civil date of a day number, as `YYYY-MM-DD` (a number past chrono's calendar,
/// some 262,000 years away, is written as a count of days).
pub fn format_date(days: i64) -> String {
    days.checked_add(EPOCH)
        .and_then(|d| i32::try_from(d).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("{days} days after 1970-01-01"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_reject_nonsense() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("2026-11-29T06:39:43.000Z"),
            days_from_civil(2026, 11, 29)
        );
        for d in (-719_162..2_932_896)
            .step_by(997)
            .chain([0, 1, 365, 20_500])
        {
            assert_eq!(parse_date(&format_date(d)), Some(d), "{d}");
        }
        assert_eq!(format_date(-719_162), "0001-01-01");
        assert_eq!(format_date(2_932_896), "9999-12-31");
        assert_eq!(parse_date("2025-02-30"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("2025-01-01x"), None);
        assert_eq!(parse_date("+2025-01-01"), None);
        assert_eq!(parse_date("2024-02-29"), days_from_civil(2024, 2, 29));
        assert_eq!(parse_date("2100-02-29"), None);
        assert_eq!(format_date(-1), "1969-12-31");
        assert_eq!(
            format_date(i64::MAX),
            format!("{} days after 1970-01-01", i64::MAX)
        );
        // Unix time in milliseconds or seconds: 2023-11-14.
        let day = days_from_civil(2023, 11, 14);
        assert_eq!(
            days_since_epoch(&serde_json::json!(1_700_000_000_000u64)),
            day
        );
        assert_eq!(days_since_epoch(&serde_json::json!(1_700_000_000u64)), day);
    }
}
