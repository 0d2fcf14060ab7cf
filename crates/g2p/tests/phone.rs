//! Phone-menu readings: `normalize_phone_text` in isolation, then through the whole G2P.

mod common;

use attendant_g2p::normalize_phone_text as phone;

#[track_caller]
fn reads(input: &str, expected: &str) {
    assert_eq!(phone(input), expected, "input: {input:?}");
}

#[test]
fn currency_reads_units_and_cents() {
    reads("$1,234.56", "one thousand two hundred thirty four dollars and fifty six cents");
    reads("$5", "five dollars");
    reads("$1", "one dollar");
    reads("$0.99", "ninety nine cents");
    reads("$0.01", "one cent");
    reads("$2.50 due", "two dollars and fifty cents due");
    reads("$3.00", "three dollars");
    reads("£3.50", "three pounds and fifty pence");
    reads("£1.01", "one pound and one penny");
    reads("€20", "twenty euros");
    reads("$5 million", "five million dollars");
    reads("$2.5M", "two point five million dollars");
    reads("a balance of $12,000.", "a balance of twelve thousand dollars.");
}

#[test]
fn digit_strings_read_digit_by_digit_with_zero() {
    reads("account 457291", "account four five seven two nine one");
    reads("reference 10203.", "reference one zero two zero three.");
    reads("code 0042", "code zero zero four two");
}

#[test]
fn phone_numbers_read_as_digit_groups() {
    reads("1-800-555-0199", "one, eight zero zero, five five five, zero one nine nine");
    reads("(425) 555-0123", "four two five, five five five, zero one two three");
    reads("+1 425 555 0123", "one, four two five, five five five, zero one two three");
    reads("425.555.0123", "four two five, five five five, zero one two three");
    reads("call 555-0123 now", "call five five five, zero one two three now");
    reads("+44 20 7946 0958", "four four, two zero, seven nine four six, zero nine five eight");
}

#[test]
fn times_read_as_clock_times() {
    reads("7:30 pm", "seven thirty p.m.");
    reads("9:00 am", "nine a.m.");
    reads("open at 9:00 AM.", "open at nine a.m.");
    reads("17:00", "five p.m.");
    reads("0:15", "twelve fifteen a.m.");
    reads("8:05", "eight oh five");
    reads("at 10 o'clock or 3pm", "at ten o'clock or three p.m.");
    reads("3:00", "three o'clock");
    reads("11:59 p.m. tonight", "eleven fifty nine p.m. tonight");
}

#[test]
fn dates_read_month_ordinal_year() {
    reads("March 3rd", "March third");
    reads("March 3", "March third");
    reads("Mar. 22", "March twenty second");
    reads("3/14/2025", "March fourteenth, twenty twenty five");
    reads("2025-03-14", "March fourteenth, twenty twenty five");
    reads("June 1, 2009", "June first, two thousand nine");
    reads("12/25/99", "December twenty fifth, nineteen ninety nine");
    reads("the 4th of July", "the fourth of July");
    reads("in 2025", "in twenty twenty five");
    reads("in 2000", "in two thousand");
    reads("in 1905", "in nineteen oh five");
}

#[test]
fn numbers_ordinals_percents_decimals() {
    reads("1st", "first");
    reads("22nd", "twenty second");
    reads("the 103rd caller", "the one hundred third caller");
    reads("15%", "fifteen percent");
    reads("2.5%", "two point five percent");
    reads("2.5", "two point five");
    reads("1,000,000", "one million");
    reads("3,000,000,000 calls", "three billion calls");
    reads(
        "1,234,567,890",
        "one billion two hundred thirty four million five hundred sixty seven thousand eight hundred ninety",
    );
    reads("-4 degrees", "minus four degrees");
    reads("1234", "one thousand two hundred thirty four");
}

#[test]
fn keypad_keys() {
    reads("press # or *", "press pound or star");
    reads("Press 1.", "Press one.");
    reads("press 1 for billing", "press one for billing");
    reads("followed by #.", "followed by pound.");
    reads("dial *67", "dial star six seven");
    reads("enter 1234#", "enter one two three four pound");
    reads("press 1#", "press one pound");
}

#[test]
fn numbers_with_units_ranges_and_fractions_are_left_to_hibari() {
    reads("5 km", "5 km");
    reads("9-5", "9-5");
    reads("1/2", "1/2");
    reads("72°F", "72°F");
}

#[test]
fn text_without_numbers_is_unchanged() {
    for s in ["Thank you for calling.", "Dr. Smith, please.", "", "  spaced  out  ", "emoji 😀 here"] {
        assert_eq!(phone(s), s);
    }
}

#[test]
fn whole_pipeline_reads_phone_style() {
    let mut g2p = common::g2p();
    let a = g2p.phonemize("Your balance is $12.50.").expect("phonemize");
    let b = g2p.phonemize("Your balance is twelve dollars and fifty cents.").expect("phonemize");
    assert_eq!(a, b);
    let a = g2p.phonemize("Press # or * now.").expect("phonemize");
    let b = g2p.phonemize("Press pound or star now.").expect("phonemize");
    assert_eq!(a, b);
    let a = g2p.phonemize("We open at 7:30 pm.").expect("phonemize");
    assert!(a.ends_with("pˌiˈɛm."), "{a}");
    let a = g2p.phonemize("We open at 7:30 pm").expect("phonemize");
    assert!(a.ends_with("pˌiˈɛm"), "{a}");
}
