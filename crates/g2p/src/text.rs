//! Python `str` predicates and case mappings, because the lexicon rules were written against
//! them (`isalpha`, `islower`, `capitalize`, ...) and the edge cases (empty strings, uncased
//! characters) decide which rule fires. Rust's char classes are close to Python's; the
//! differences are in rare scripts and do not change English output.

/// `str.isalpha()`: non-empty and every character a letter.
pub fn is_alpha(s: &str) -> bool {
    !s.is_empty() && s.chars().all(char::is_alphabetic)
}

/// `str.isdigit()` for one character: decimal digits and the super/subscript digits Python
/// also counts.
pub fn char_is_digit(c: char) -> bool {
    digit_value(c).is_some()
}

/// The numeric value of a character `str.isdigit()` accepts (`unicodedata.numeric`).
pub fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => c.to_digit(10),
        '²' => Some(2),
        '³' => Some(3),
        '¹' => Some(1),
        '⁰' => Some(0),
        '⁴'..='⁹' => Some(c as u32 - '⁴' as u32 + 4),
        '₀'..='₉' => Some(c as u32 - '₀' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

/// `str.isdigit()`.
pub fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.chars().all(char_is_digit)
}

/// `re.match(r"^[0-9]+$")`: ASCII digits only (the lexicon's `is_digit`).
pub fn is_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `str.islower()`: at least one cased character and no uppercase one.
pub fn is_lower(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_uppercase() {
            return false;
        }
        cased |= c.is_lowercase();
    }
    cased
}

/// `str.isupper()`: at least one cased character and no lowercase one.
pub fn is_upper(s: &str) -> bool {
    let mut cased = false;
    for c in s.chars() {
        if c.is_lowercase() {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// `s == s.lower()`.
pub fn eq_lower(s: &str) -> bool {
    s.chars().all(|c| {
        let mut l = c.to_lowercase();
        l.next() == Some(c) && l.next().is_none()
    })
}

/// `s == s.upper()`.
pub fn eq_upper(s: &str) -> bool {
    s.chars().all(|c| {
        let mut u = c.to_uppercase();
        u.next() == Some(c) && u.next().is_none()
    })
}

/// `str.capitalize()`: first character upper, the rest lower.
pub fn capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
    }
    for c in chars {
        out.extend(c.to_lowercase());
    }
    out
}

/// `str.isspace()` for one character (Python also counts the C0 separators 0x1C..0x1F).
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The string without its first character (`s[1:]`).
pub fn tail(s: &str) -> &str {
    let mut it = s.chars();
    it.next();
    it.as_str()
}

/// The last `n` characters (`s[-n:]`).
pub fn last_chars(s: &str, n: usize) -> &str {
    match s.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) if n > 0 => &s[i..],
        _ if n == 0 => "",
        _ => s,
    }
}

/// A small stand-in for NFKC: the compatibility mappings that occur in English text
/// (ligatures, full-width forms, no-break spaces, the ellipsis). Full NFKC would need a
/// Unicode table crate; composed/decomposed accents are left alone, and the lexicon only
/// holds ASCII keys anyway.
pub fn nfkc_lite(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            '…' => out.push_str("..."),
            '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => out.push(' '),
            '\u{ff01}'..='\u{ff5e}' => out.push(char::from_u32(c as u32 - 0xfee0).unwrap_or(c)),
            'ª' => out.push('a'),
            'º' => out.push('o'),
            'µ' => out.push('μ'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_predicates_match_python() {
        assert!(is_lower("abc'") && !is_lower("'") && !is_lower("aB"));
        assert!(is_upper("AB'") && !is_upper("") && !is_upper("1"));
        assert!(eq_lower("'") && eq_upper("'") && eq_upper("AB") && !eq_upper("Ab"));
        assert_eq!(capitalize("hELLO"), "Hello");
        assert_eq!(tail("ábc"), "bc");
        assert_eq!(last_chars("hello", 3), "llo");
        assert_eq!(last_chars("hé", 3), "hé");
        assert!(is_digits("2025") && !is_digits("") && char_is_digit('²'));
    }
}
