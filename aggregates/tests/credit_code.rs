//! Property tests of the unified social credit code check (GB 32100-2015): every code completed
//! with its check character is accepted, and the errors the check exists to catch (one character
//! changed, two neighbours of the first 17 swapped) are always refused.

#![allow(
    clippy::unwrap_used,
    reason = "test fixtures: a bad fixture should fail loudly"
)]

use aggregates::values::{CreditCode, CreditCodeError, credit_code_check_character};
use proptest::prelude::*;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn code_body() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
        17,
    )
    .prop_map(|characters| characters.into_iter().collect())
}

fn complete(body: &str) -> String {
    format!("{body}{}", credit_code_check_character(body).unwrap())
}

proptest! {
    #[test]
    fn a_completed_code_is_accepted_in_either_case(body in code_body()) {
        let code = complete(&body);
        let parsed = CreditCode::parse(&code).unwrap();
        prop_assert_eq!(parsed.as_str(), code.as_str());
        let from_lowercase = CreditCode::parse(&code.to_ascii_lowercase()).unwrap();
        prop_assert_eq!(from_lowercase.as_str(), code.as_str());
    }

    #[test]
    fn any_one_changed_character_is_refused(
        body in code_body(),
        position in 0usize..18,
        replacement in proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>()),
    ) {
        let code = complete(&body);
        let mut changed: Vec<char> = code.chars().collect();
        prop_assume!(changed[position] != replacement);
        changed[position] = replacement;
        let changed: String = changed.into_iter().collect();
        prop_assert!(
            matches!(CreditCode::parse(&changed), Err(CreditCodeError::Check { .. })),
            "{changed} was accepted"
        );
    }

    #[test]
    fn two_swapped_neighbours_are_refused(body in code_body(), position in 0usize..16) {
        let code = complete(&body);
        let mut swapped: Vec<char> = code.chars().collect();
        prop_assume!(swapped[position] != swapped[position + 1]);
        swapped.swap(position, position + 1);
        let swapped: String = swapped.into_iter().collect();
        prop_assert!(CreditCode::parse(&swapped).is_err(), "{swapped} was accepted");
    }

    #[test]
    fn no_input_makes_the_parser_panic(input in "\\PC{0,24}") {
        let _ = CreditCode::parse(&input);
    }
}
