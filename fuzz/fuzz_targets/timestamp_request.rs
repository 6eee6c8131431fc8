#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esign_tools::fuzzing::timestamp_request(data));
