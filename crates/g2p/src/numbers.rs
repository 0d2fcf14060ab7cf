//! English number words in num2words' style ("one thousand, two hundred and thirty-four"), the
//! subset the lexicon's number reader and hibari's normalizer use: cardinal, ordinal, year,
//! decimal. The callers split the result on non-letters and drop "and", so the commas and
//! hyphens here only have to match what num2words would give.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const SCALES: [&str; 12] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
    "septillion",
    "octillion",
    "nonillion",
    "decillion",
];

/// The largest value [`cardinal`] has scale words for (just under 10^36).
pub const MAX_CARDINAL: u128 = 999_999_999_999_999_999_999_999_999_999_999_999;

/// Parses a run of ASCII digits (leading zeros allowed) if it is small enough to be read as a
/// number; longer runs are read digit by digit by the callers.
pub fn parse(digits: &str) -> Option<u128> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 36 {
        return None;
    }
    let n: u128 = if trimmed.is_empty() { 0 } else { trimmed.parse().ok()? };
    (n <= MAX_CARDINAL).then_some(n)
}

/// The name of one decimal digit.
pub fn digit_word(d: u8) -> &'static str {
    ONES[usize::from(d % 10)]
}

fn below_1000(n: u128, out: &mut Vec<String>) {
    let mut n = n;
    let start = out.len();
    if n >= 100 {
        out.push(ONES[(n / 100) as usize].to_owned());
        out.push("hundred".to_owned());
        n %= 100;
        if n > 0 {
            out.push("and".to_owned());
        }
    }
    if n >= 20 {
        let tens = TENS[(n / 10) as usize];
        out.push(match n % 10 {
            0 => tens.to_owned(),
            d => format!("{tens}-{}", ONES[d as usize]),
        });
    } else if n > 0 || out.len() == start {
        out.push(ONES[n as usize].to_owned());
    }
}

/// num2words(n): "one thousand, two hundred and thirty-four"; "one thousand and one".
/// Values above [`MAX_CARDINAL`] are clamped (callers check with [`parse`] first).
pub fn cardinal(n: u128) -> String {
    let mut n = n.min(MAX_CARDINAL);
    let mut words = Vec::new();
    if n < 1000 {
        below_1000(n, &mut words);
        return words.join(" ");
    }
    let mut groups: Vec<String> = Vec::new();
    let mut scale = 0;
    while n > 0 {
        let g = n % 1000;
        n /= 1000;
        if g > 0 {
            words.clear();
            below_1000(g, &mut words);
            let mut group = words.join(" ");
            if scale > 0 {
                group.push(' ');
                group.push_str(SCALES[scale]);
            }
            groups.push(group);
        }
        scale += 1;
    }
    groups.reverse();
    let last = groups.last().map(String::as_str).unwrap_or_default();
    // num2words joins a last group without "hundred" and of one word with "and".
    let after_and = last.rsplit(" and ").next().unwrap_or(last);
    if groups.len() > 1 && !after_and.contains(' ') && !last.contains("hundred") {
        let head = groups[..groups.len() - 1].join(", ");
        return format!("{head} and {last}");
    }
    groups.join(", ")
}

/// num2words(n, to="ordinal"): "twenty-third", "one hundred and first".
pub fn ordinal(n: u128) -> String {
    let c = cardinal(n);
    let (head, last) = match c.rfind(' ') {
        Some(i) => (&c[..=i], &c[i + 1..]),
        None => ("", c.as_str()),
    };
    let last = match last.rfind('-') {
        Some(i) => format!("{}-{}", &last[..i], ordinal_word(&last[i + 1..])),
        None => ordinal_word(last),
    };
    format!("{head}{last}")
}

fn ordinal_word(w: &str) -> String {
    match w {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        _ => match w.strip_suffix('y') {
            Some(stem) => format!("{stem}ieth"),
            None => format!("{w}th"),
        },
    }
}

/// num2words(n, to="year"): "nineteen oh-five", "two thousand and five", "twenty ten".
pub fn year(n: u128) -> String {
    let (high, low) = (n / 100, n % 100);
    if high == 0 || (high % 10 == 0 && low < 10) || high >= 100 {
        return cardinal(n);
    }
    let low = match low {
        0 => "hundred".to_owned(),
        1..=9 => format!("oh-{}", cardinal(low)),
        _ => cardinal(low),
    };
    format!("{} {low}", cardinal(high))
}

/// num2words(float(s)) for "3.14": "three point one four" (trailing zeros dropped like float()).
/// `s` holds ASCII digits and at most one '.'; a too-long integer part is read digit by digit.
pub fn decimal(s: &str) -> String {
    let (ip, fp) = s.split_once('.').unwrap_or((s, ""));
    let fp = fp.trim_end_matches('0');
    let mut words = match parse(if ip.is_empty() { "0" } else { ip }) {
        Some(n) => cardinal(n),
        None => digits(ip),
    };
    if !fp.is_empty() {
        words.push_str(" point ");
        words.push_str(&digits(fp));
    }
    words
}

/// Digit names separated by spaces: "4 0 7" for "407" (non-digits are skipped).
pub fn digits(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes().filter(u8::is_ascii_digit) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(digit_word(b - b'0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals_follow_num2words() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(1234), "one thousand, two hundred and thirty-four");
        assert_eq!(cardinal(1001), "one thousand and one");
        assert_eq!(cardinal(1_000_000), "one million");
        assert_eq!(cardinal(2_000_021), "two million and twenty-one");
        assert_eq!(cardinal(115), "one hundred and fifteen");
    }

    #[test]
    fn ordinals_years_decimals() {
        assert_eq!(ordinal(23), "twenty-third");
        assert_eq!(ordinal(101), "one hundred and first");
        assert_eq!(ordinal(1000), "one thousandth");
        assert_eq!(ordinal(40), "fortieth");
        assert_eq!(year(1905), "nineteen oh-five");
        assert_eq!(year(2005), "two thousand and five");
        assert_eq!(year(2010), "twenty ten");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(decimal("3.140"), "three point one four");
        assert_eq!(decimal(".5"), "zero point five");
    }

    #[test]
    fn parse_refuses_what_cannot_be_named() {
        assert_eq!(parse("007"), Some(7));
        assert_eq!(parse(&"9".repeat(37)), None);
        assert_eq!(parse("12a"), None);
    }
}
