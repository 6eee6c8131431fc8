#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esign_tools::fuzzing::identity_numbers(data));
