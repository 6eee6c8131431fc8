#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esign::fuzzing::identity_numbers(data));
