//! parse_date three ways on 2M ISO date-times: ns per date, two rounds.
use chrono::{Datelike, NaiveDate};
/// opentape's parse_date before chrono (civil-date arithmetic by hand).
fn old_parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    let dim = match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&m) || d == 0 || d > dim {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146097 + doe - 719468)
}
/// chrono parsing the whole date.
fn new_parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || (b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ')) {
        return None;
    }
    if !b[..10].iter().enumerate().all(|(i, c)| {
        if i == 4 || i == 7 {
            *c == b'-'
        } else {
            c.is_ascii_digit()
        }
    }) {
        return None;
    }
    let d = NaiveDate::parse_from_str(s.get(0..10)?, "%Y-%m-%d").ok()?;
    Some(d.num_days_from_ce() as i64 - 719_163)
}
/// What opentape does now: digits by hand, the calendar by chrono.
fn ymd_parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || (b.len() > 10 && !matches!(b[10], b'T' | b't' | b' ')) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u32)
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let d = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(d.num_days_from_ce() as i64 - 719_163)
}
fn main() {
    let v: Vec<String> = (0..2_000_000)
        .map(|i| {
            format!(
                "20{:02}-{:02}-{:02}T06:39:43.000Z",
                10 + i % 16,
                1 + i % 12,
                1 + i % 28
            )
        })
        .collect();
    for _ in 0..2 {
        for (name, f) in [
            ("hand-written", old_parse as fn(&str) -> Option<i64>),
            ("chrono", new_parse),
            ("chrono from_ymd", ymd_parse),
        ] {
            let t = std::time::Instant::now();
            let s: i64 = v.iter().map(|x| f(x).unwrap()).sum();
            println!(
                "{name}: {:.1} ns per date (sum {s})",
                t.elapsed().as_secs_f64() * 1e9 / v.len() as f64
            );
        }
    }
}
