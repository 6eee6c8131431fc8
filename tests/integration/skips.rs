//! A suite whose dependency is missing must not pass unseen: the test binary is run again on one S3
//! test with the S3 server pointed at a closed port, once as a developer runs it and once with every
//! suite required.

use std::process::Command;

const S3_TEST: &str = "document_store::s3_refuses_wrong_credentials";

/// The S3 test alone, without `--nocapture`, against a port nothing listens on.
fn run_s3_test_without_its_server(require_all: bool) -> std::process::Output {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", S3_TEST, "--test-threads", "1"])
        .env("ESIGN_TEST_S3_ENDPOINT", &endpoint)
        .env_remove("CI")
        .env_remove("ESIGN_TEST_REQUIRE_ALL");
    if require_all {
        command.env("ESIGN_TEST_REQUIRE_ALL", "1");
    }
    command.output().unwrap()
}

#[test]
fn a_skipped_test_says_so_on_the_terminal_and_fails_when_every_suite_is_required() {
    let skipped = run_s3_test_without_its_server(false);
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "a skip passes: {stderr}");
    assert!(
        stderr.contains(&format!(
            "SKIPPED {S3_TEST}: needs an S3-compatible server (moto)"
        )),
        "the skip is shown although output is captured: {stderr}"
    );
    assert!(stderr.contains("ESIGN_TEST_REQUIRE_ALL=1"), "{stderr}");

    let required = run_s3_test_without_its_server(true);
    let stdout = String::from_utf8_lossy(&required.stdout);
    assert!(
        !required.status.success(),
        "a required suite fails: {stdout}"
    );
    assert!(
        stdout.contains("needs an S3-compatible server (moto), and all suites are required"),
        "the failure names what is missing: {stdout}"
    );
}
