//! Resident identity card numbers (GB 11643-1999): parsed once, valid afterwards.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// ISO 7064 MOD 11-2 weights for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder 0..=10.
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";
/// Birth years before this are treated as typos: no living holder of an 18-digit card was born earlier.
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// An 18-character resident ID number: 6-digit region code, `YYYYMMDD` birth date, 3-digit sequence and
/// a check character (a digit or `X`).
///
/// The region code is not looked up in a table (codes change with administrative boundaries); the check
/// character catches typos there. `Debug` prints the masked form; `Display` prints the full number,
/// because events carry it inside [`crate::Sensitive`], which the service encrypts.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdCardNumber {
    text: String,
    birth_date: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("must be 18 characters")]
    Length,
    #[error("must be 17 digits followed by a digit or X")]
    Charset,
    #[error("does not contain a valid birth date")]
    BirthDate,
    #[error("contains a birth date in the future")]
    FutureBirthDate,
    #[error("has a wrong check character (ISO 7064 MOD 11-2)")]
    Checksum,
}

impl IdCardNumber {
    /// Parses a number, accepting a lower-case `x`, and refuses a birth date after `today` (the date in
    /// China, which the caller derives from the command's `now`).
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, IdCardError> {
        let number = Self::parse_format(input)?;
        if number.birth_date > today {
            return Err(IdCardError::FutureBirthDate);
        }
        Ok(number)
    }

    fn parse_format(input: &str) -> Result<Self, IdCardError> {
        if input.chars().count() != 18 {
            return Err(IdCardError::Length);
        }
        let bytes = input.as_bytes();
        let (body, check) = bytes.split_at(17);
        let check = check.first().map(u8::to_ascii_uppercase);
        if !body.iter().all(u8::is_ascii_digit) || !matches!(check, Some(b'0'..=b'9' | b'X')) {
            return Err(IdCardError::Charset);
        }
        let birth_date = birth_date(&input[6..14]).ok_or(IdCardError::BirthDate)?;
        let sum: u32 = body
            .iter()
            .zip(WEIGHTS)
            .map(|(digit, weight)| u32::from(digit - b'0') * weight)
            .sum();
        let expected = CHECK_CHARACTERS.get((sum % 11) as usize).copied();
        if check != expected {
            return Err(IdCardError::Checksum);
        }
        Ok(Self {
            text: input.to_ascii_uppercase(),
            birth_date,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The display and log form: first 6 and last 4 characters visible, `110105********002X`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.text[..6], &self.text[14..])
    }
}

fn birth_date(digits: &str) -> Option<NaiveDate> {
    let year = digits.get(0..4)?.parse().ok()?;
    let month = digits.get(4..6)?.parse().ok()?;
    let day = digits.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day).filter(|date| date.year() >= EARLIEST_BIRTH_YEAR)
}

/// Reads a number back from storage: every rule except "not in the future", which depended on the day it
/// was first accepted. New input goes through [`IdCardNumber::parse`].
impl FromStr for IdCardNumber {
    type Err = IdCardError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse_format(input)
    }
}

impl fmt::Display for IdCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for IdCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdCardNumber({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    #[test]
    fn the_reference_number_is_valid_and_keeps_its_birth_date() {
        let number = IdCardNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            number.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(number.as_str(), "11010519491231002X");
    }

    #[test]
    fn a_lower_case_check_character_is_accepted_and_stored_upper_case() {
        let number = IdCardNumber::parse("11010519491231002x", today()).unwrap();
        assert_eq!(number.to_string(), "11010519491231002X");
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        assert_eq!(
            IdCardNumber::parse("110105194912310021", today()),
            Err(IdCardError::Checksum)
        );
        assert_eq!(
            IdCardNumber::parse("310101199001011235", today()),
            Err(IdCardError::Checksum)
        );
        // The spec's example number happens to carry a right check digit.
        assert!(IdCardNumber::parse("310101199001011234", today()).is_ok());
    }

    #[test]
    fn length_and_characters_are_checked_before_anything_else() {
        assert_eq!(
            IdCardNumber::parse("1101051949123100", today()),
            Err(IdCardError::Length)
        );
        assert_eq!(IdCardNumber::parse("", today()), Err(IdCardError::Length));
        assert_eq!(
            IdCardNumber::parse("1101051949123100XX", today()),
            Err(IdCardError::Charset)
        );
        assert_eq!(
            IdCardNumber::parse("11010519491231002１", today()),
            Err(IdCardError::Charset)
        );
    }

    #[test]
    fn an_impossible_birth_date_is_refused() {
        // 1990-02-30 does not exist; the check character is right for these digits.
        assert_eq!(
            IdCardNumber::parse("11010519900230001X", today()),
            Err(IdCardError::BirthDate)
        );
    }

    #[test]
    fn a_birth_date_after_today_is_refused_but_reads_back_from_storage() {
        assert_eq!(
            IdCardNumber::parse("110105209912310010", today()),
            Err(IdCardError::FutureBirthDate)
        );
        assert!("110105209912310010".parse::<IdCardNumber>().is_ok());
    }

    #[test]
    fn the_masked_form_shows_the_first_six_and_last_four_characters() {
        let number = IdCardNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(number.masked(), "110105********002X");
        assert_eq!(format!("{number:?}"), "IdCardNumber(110105********002X)");
    }

    /// The check character written out from the standard's definition (weights 2^(17-i) mod 11),
    /// not from the parser's table.
    fn check_character(body: &str) -> char {
        let sum: u32 = body
            .bytes()
            .enumerate()
            .map(|(index, digit)| u32::from(digit - b'0') * (2u32.pow(17 - index as u32) % 11))
            .sum();
        b"10X98765432"[(sum % 11) as usize] as char
    }

    fn birth_dates() -> impl proptest::strategy::Strategy<Value = NaiveDate> {
        use proptest::strategy::Strategy;
        let first = NaiveDate::from_ymd_opt(EARLIEST_BIRTH_YEAR, 1, 1).unwrap();
        let span = (today() - first).num_days();
        (0..=span).prop_map(move |days| first + chrono::Days::new(days as u64))
    }

    proptest::proptest! {
        #[test]
        fn every_number_with_a_right_check_character_parses_and_round_trips(
            region in 100_000u32..=999_999,
            birth in birth_dates(),
            sequence in 0u32..=999,
            lower_case_x in proptest::bool::ANY,
        ) {
            let body = format!("{region:06}{}{sequence:03}", birth.format("%Y%m%d"));
            let check = check_character(&body);
            let check = if lower_case_x { check.to_ascii_lowercase() } else { check };
            let text = format!("{body}{check}");
            let number = IdCardNumber::parse(&text, today()).unwrap();
            proptest::prop_assert_eq!(number.birth_date(), birth);
            proptest::prop_assert_eq!(number.as_str(), text.to_ascii_uppercase());
            let again = IdCardNumber::parse(&number.to_string(), today()).unwrap();
            proptest::prop_assert_eq!(&again, &number);
            proptest::prop_assert_eq!(number.as_str().parse::<IdCardNumber>().unwrap(), number);
        }

        #[test]
        fn any_other_check_character_is_refused(
            region in 100_000u32..=999_999,
            birth in birth_dates(),
            sequence in 0u32..=999,
            wrong in proptest::sample::select(b"0123456789X".to_vec()),
        ) {
            let body = format!("{region:06}{}{sequence:03}", birth.format("%Y%m%d"));
            proptest::prop_assume!(wrong as char != check_character(&body));
            let text = format!("{body}{}", wrong as char);
            proptest::prop_assert_eq!(IdCardNumber::parse(&text, today()), Err(IdCardError::Checksum));
        }

        #[test]
        fn arbitrary_text_never_panics_and_only_18_characters_can_pass(text in ".{0,24}") {
            if IdCardNumber::parse(&text, today()).is_ok() {
                proptest::prop_assert_eq!(text.len(), 18);
            }
        }
    }
}
