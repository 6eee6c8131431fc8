//! The fuzz corpus as a regression suite: every file under `fuzz/corpus/<target>/` goes through its
//! target function (the same one `cargo fuzz` drives), so an input that once broke an invariant
//! keeps being checked by `cargo test`.
//!
//! The seeds are written by code: `cargo run -p esign-tools --bin esign-fuzz-seeds` rewrites them
//! (the signed inputs use the fixed clock of `esign_tools::fuzzing`, so they stay valid). Inputs
//! the fuzzers found are added beside them by hand under names that say what they broke.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use esign_tools::fuzzing::seeds::{self, Seed};
use esign_tools::fuzzing::{self, TARGETS, TSA_DATA, TSA_NONCE};
use sha2::{Digest, Sha256};

fn fuzz_dir() -> PathBuf {
    // The fuzz crate sits beside this one, at the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("fuzz")
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_through_its_fuzz_target() {
    let mut total_bytes = 0;
    for (target, run) in TARGETS {
        let files = corpus_files(target);
        assert!(files.len() >= 2, "{target}: fewer than two seeds");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            total_bytes += data.len();
            // A panic here names the file: the target's invariant broke for it.
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} broke {target}", file.display());
        }
    }
    assert!(
        total_bytes < 1024 * 1024,
        "the corpus grew to {total_bytes} bytes"
    );
}

#[test]
fn every_target_function_has_a_fuzz_binary_and_nothing_else_does() {
    let binaries: BTreeSet<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    let functions: BTreeSet<String> = TARGETS.iter().map(|(name, _)| name.to_string()).collect();
    assert_eq!(binaries, functions);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &functions {
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name}");
    }
}

#[test]
fn the_seeds_reach_the_paths_they_are_named_for() {
    use der::{Decode, Encode};
    use esign::trust::tsa::{TimeStampResp, verify_token};
    // The signed seeds are not refused for their signature or shape: they pass the real checks.
    let anchors = [fuzzing::fixture_ca().root().clone()];
    let digest: [u8; 32] = Sha256::digest(TSA_DATA).into();
    for Seed { target, name, data } in seeds::all() {
        match (target, name) {
            ("timestamp_response", "granted") => {
                let response = TimeStampResp::from_der(&data).unwrap();
                let token = response.time_stamp_token.unwrap().to_der().unwrap();
                verify_token(&token, &digest, Some(TSA_NONCE), &anchors, &[]).unwrap();
            }
            ("pdf_validation", "signed") => {
                let validation =
                    esign::app::document_verification::validate_signatures(&data, &anchors);
                assert!(validation.valid, "{validation:?}");
            }
            _ => {}
        }
    }
}
