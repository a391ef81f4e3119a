//! Texts that are unsafe to publish: formula-like cells, control and bidi characters.

/// Why a text is unsafe to publish in a cell, if it is: a spreadsheet runs a cell that
/// starts like a formula (OWASP "CSV injection"), and control or bidirectional-override
/// characters make a terminal or editor show something other than what is there.
pub fn unsafe_text(s: &str) -> Option<&'static str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        return Some("starts like a spreadsheet formula (=, +, -, @, tab or carriage return)");
    }
    hidden_characters(s, &[])
}

/// Whether `s` holds a control character (other than those in `allowed`) or a
/// bidirectional-control character (Unicode Bidi_Control).
pub fn hidden_characters(s: &str, allowed: &[char]) -> Option<&'static str> {
    for c in s.chars() {
        if matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        {
            return Some("holds a bidirectional-control character");
        }
        if c.is_control() && !allowed.contains(&c) {
            return Some("holds a control character");
        }
    }
    None
}
