#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esign::fuzzing::request_signature(data));
