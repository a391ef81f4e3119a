//! Detectors for values and names that look personal. Each says what it saw, never the
//! value itself (a report must not repeat a leak).

/// What a cell looks like, if it looks personal.
pub fn looks_personal(s: &str) -> Option<&'static str> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if is_email(s) {
        return Some("looks like an email address");
    }
    if is_url(s) {
        return Some("looks like a URL");
    }
    if is_uuid(s) {
        return Some("looks like a UUID");
    }
    if is_ipv4(s) || is_ipv6(s) {
        return Some("looks like an IP address");
    }
    if is_handle(s) {
        return Some("looks like an @handle");
    }
    if is_fine_date(s) {
        return Some("looks like a date finer than a month");
    }
    if is_phone(s) {
        return Some("looks like a phone number");
    }
    if is_free_text(s) {
        return Some("looks like free text");
    }
    None
}

/// What a text cell (or column name) shows that makes it unsafe to open, if anything: a
/// spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"); control
/// and bidirectional-control characters make a terminal or editor show something other
/// than what is there. Then whatever [`looks_personal`] sees.
pub fn text_cell(s: &str) -> Option<&'static str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return Some("starts like a spreadsheet formula");
    }
    hidden_characters(s, &[]).or_else(|| looks_personal(s))
}

/// Whether `s` holds a control character other than those `allowed`, or a Unicode
/// Bidi_Control character (U+061C, U+200E-F, U+202A-E, U+2066-9).
pub fn hidden_characters(s: &str, allowed: &[char]) -> Option<&'static str> {
    s.chars().find_map(|c| {
        if matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            Some("holds a bidirectional-control character")
        } else if c.is_control() && !allowed.contains(&c) {
            Some("holds a control character")
        } else {
            None
        }
    })
}

fn is_email(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        let Some((local, domain)) = w.split_once('@') else {
            return false;
        };
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    })
}

fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("://") || l.contains("www.") || l.starts_with("mailto:")
}

fn is_uuid(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|w| {
            let parts: Vec<&str> = w.split('-').collect();
            parts.len() == 5 && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        })
}

fn is_ipv4(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() == 4
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255)
                })
        })
}

fn is_ipv6(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        let groups: Vec<&str> = w.split(':').collect();
        groups.len() >= 3
            && groups
                .iter()
                .all(|g| g.len() <= 4 && g.chars().all(|c| c.is_ascii_hexdigit()))
            && groups.iter().filter(|g| !g.is_empty()).count() >= 2
    })
}

fn is_handle(s: &str) -> bool {
    s.split_whitespace().any(|w| {
        w.strip_prefix('@').is_some_and(|rest| {
            rest.len() >= 2
                && rest
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_.-".contains(c))
        })
    })
}

/// YYYY-MM-DD, YYYY/MM/DD, DD-MM-YYYY, DD/MM/YYYY, D-Mon-YY (the ANSUR style), ISO date-times.
fn is_fine_date(s: &str) -> bool {
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit())
    };
    s.split(|c: char| c.is_whitespace() || c == 'T').any(|w| {
        let parts: Vec<&str> = w.split(['-', '/', '.']).collect();
        if parts.len() != 3 {
            return false;
        }
        let (a, b, c) = (parts[0], parts[1], parts[2]);
        let month_name = b.len() == 3 && b.chars().all(|c| c.is_ascii_alphabetic());
        (digits(a, 4..=4) && digits(b, 1..=2) && digits(c, 1..=2))
            || (digits(a, 1..=2) && digits(b, 1..=2) && digits(c, 2..=4))
            || (digits(a, 1..=2) && month_name && digits(c, 2..=4))
    })
}

fn is_phone(s: &str) -> bool {
    let digits = s.chars().filter(|c| c.is_ascii_digit()).count();
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let formatted = s.starts_with('+') || s.contains(' ') || s.contains('-') || s.contains('(');
    allowed && formatted && (7..=15).contains(&digits)
}

fn is_free_text(s: &str) -> bool {
    s.split_whitespace().count() >= 4 || s.chars().count() > 40
}

/// Column names that suggest identifying content.
pub fn identifier_like_name(name: &str) -> bool {
    const WORDS: [&str; 34] = [
        "id",
        "uuid",
        "email",
        "mail",
        "name",
        "username",
        "user",
        "handle",
        "phone",
        "tel",
        "mobile",
        "address",
        "ip",
        "url",
        "uri",
        "note",
        "notes",
        "bio",
        "date",
        "time",
        "timestamp",
        "created",
        "updated",
        "birth",
        "dob",
        "zip",
        "postcode",
        "ssn",
        "subject",
        "subjectid",
        "owner",
        "account",
        "picture",
        "image",
    ];
    const EXTRA: [&str; 6] = ["img", "social", "github", "twitter", "instagram", "login"];
    words(name)
        .iter()
        .any(|w| WORDS.contains(&w.as_str()) || EXTRA.contains(&w.as_str()))
}

/// camelCase, snake_case, kebab-case and spaces split into lowercase words.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_personal_values() {
        let yes = [
            ("maria.schmidt84@example.net", "email"),
            ("see https://blog.example.org/x", "URL"),
            ("www.example.com", "URL"),
            ("123e4567-e89b-12d3-a456-426614174000", "UUID"),
            ("192.168.10.1", "IP"),
            ("2001:db8::ff00:42:8329", "IP"),
            ("@maria_sews", "handle"),
            ("2026-03-14", "date"),
            ("2026-03-14T10:00:00Z", "date"),
            ("4-Oct-10", "date"),
            ("14/03/2026", "date"),
            ("+31 6 1234 5678", "phone"),
            ("(555) 123-4567", "phone"),
            ("Measured by my sister after the holidays", "free text"),
        ];
        for (v, kind) in yes {
            let got = looks_personal(v).unwrap_or_else(|| panic!("{v} not detected"));
            assert!(got.contains(kind), "{v}: {got}");
            assert!(!got.contains(v), "the report never repeats the value");
        }
    }

    #[test]
    fn detects_unsafe_text_cells() {
        let yes = [
            ("=1+1", "formula"),
            ("@SUM(1+1)*cmd|' /C calc'!A0", "formula"),
            ("+Male", "formula"),
            ("-2+3", "formula"),
            ("\tMale", "formula"),
            ("\rMale", "formula"),
            ("Ma\u{202E}el", "bidirectional"),
            ("Male\u{2066}", "bidirectional"),
            ("\u{200F}Male", "bidirectional"),
            ("Ma\u{1b}[31mle", "control"),
            ("Male\n", "control"),
            ("Ma\u{0}le", "control"),
            ("Ma\u{85}le", "control"),
        ];
        for (v, kind) in yes {
            let got = text_cell(v).unwrap_or_else(|| panic!("{v:?} not detected"));
            assert!(got.contains(kind), "{v:?}: {got}");
        }
        for v in [
            "Male",
            "Female",
            "true",
            "false",
            "a=b",
            "x-y",
            "Gemischt",
            "Männlich",
        ] {
            assert_eq!(text_cell(v), None, "{v}");
        }
        assert_eq!(hidden_characters("line\nline", &['\n']), None);
        assert!(hidden_characters("line\u{7}", &['\n']).is_some());
    }

    #[test]
    fn measurement_tables_pass() {
        for v in [
            "true", "false", "Male", "Female", "1234", "-3", "980", "", "13", "2026", "2026-03",
            "0.5",
        ] {
            assert_eq!(looks_personal(v), None, "{v}");
        }
    }

    #[test]
    fn identifier_like_column_names() {
        for n in [
            "id",
            "userId",
            "subjectid",
            "SubjectId",
            "email",
            "created_at",
            "phone number",
            "img",
            "DateOfBirth",
        ] {
            assert!(identifier_like_name(n), "{n}");
        }
        for n in [
            "chest",
            "waistToHips",
            "has_breasts",
            "Gender",
            "crotchheight",
            "hpsToWaistBack",
            "shoulderSlope",
            "bideltoidbreadth",
            "handbreadth",
            "headcircumference",
        ] {
            assert!(!identifier_like_name(n), "{n}");
        }
    }
}
