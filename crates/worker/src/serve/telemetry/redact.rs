//! Phone numbers out of logs and the call API: callers' numbers are personal data, and an
//! operator reading a log or listing calls needs the call id, not the number.
//!
//! A run of [`MIN_DIGITS`] or more digits (the separators `-`, space, `(`, `)` inside it
//! allowed; not `.`, so IP addresses stay readable) keeps its last [`KEPT`] digits; the others become `*`. Shorter runs
//! (a port, a tick count, a DTMF key) stay as they are.

/// Digits in a run before it counts as a phone number (E.164 numbers have 7 to 15; short
/// internal extensions are not personal).
pub const MIN_DIGITS: usize = 7;
/// Trailing digits left readable, so two calls from different numbers can still be told apart.
pub const KEPT: usize = 2;

/// `text` with the phone numbers in it masked.
pub fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, and separators followed by more digits.
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits += 1;
                j += 1;
                end = j;
            } else if is_separator(chars[j]) {
                // Separators count only when more digits follow them: "(425) 555-0111".
                let mut k = j;
                while k < chars.len() && is_separator(chars[k]) {
                    k += 1;
                }
                if !chars.get(k).is_some_and(char::is_ascii_digit) {
                    break;
                }
                j = k;
            } else {
                break;
            }
        }
        if digits < MIN_DIGITS {
            out.extend(&chars[i..end]);
        } else {
            let mut seen = 0;
            for &c in &chars[i..end] {
                if c.is_ascii_digit() {
                    seen += 1;
                    out.push(if seen > digits - KEPT { c } else { '*' });
                } else {
                    out.push(c);
                }
            }
        }
        i = end;
    }
    out
}

fn is_separator(c: char) -> bool {
    matches!(c, '-' | ' ' | '(' | ')')
}

/// Whether a record field is an identifier or address a reader greps for (call ids, SIDs, the
/// peer's socket address), which masking leaves alone even when it holds digit runs.
pub fn is_identifier(key: &str) -> bool {
    key.ends_with("_id") || key.ends_with("sid") || matches!(key, "source" | "peer" | "media" | "browser")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_keep_their_last_two_digits() {
        assert_eq!(redact_numbers("sip:+14255550111@sbc.example:5060"), "sip:+*********11@sbc.example:5060");
        assert_eq!(redact_numbers("tel:+1 (425) 555-0111"), "tel:+* (***) ***-**11");
        assert_eq!(redact_numbers("\"Alice\" <sip:alice@example.com>;tag=1234"), "\"Alice\" <sip:alice@example.com>;tag=1234");
        assert_eq!(redact_numbers("ext 4711, port 5060, 192.168.10.1"), "ext 4711, port 5060, 192.168.10.1");
        assert_eq!(redact_numbers(""), "");
    }
}
