#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esign::fuzzing::face_callback(data));
