#![no_main]

// The upload reader catches panics of the PDF parser and refuses the file; libFuzzer's own hook
// would abort on them first. Only a panic that escapes the reader is a finding.
libfuzzer_sys::fuzz_target!(
    init: std::panic::set_hook(Box::new(|_| {})),
    |data: &[u8]| esign_tools::fuzzing::uploaded_pdf(data)
);
