//! `esign-bench seed`, `esign-bench rebuild` and `esign-bench verify` as an operator runs them:
//! the seeded log verifies, the seeded query tables equal what the log rebuilds, and the contracts
//! belong to the bench's client.

use std::process::Command;

use crate::helpers::TestStore;

crate::backend_tests!(seeded_contracts_verify_and_rebuild_to_the_seeded_tables);

/// `esign-bench`, configured through the environment for this test's database and a private data
/// dir (where the development personal-data keys are generated once and shared by every run).
fn esign_bench(t: &TestStore, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esign-bench"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ESIGN_DATABASE_URL", &t.url)
        .env("ESIGN_SERVER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .current_dir(data_dir);
    command
}

/// The `esign` command line, configured the same way: the one inside `esign-bench`, which the bench
/// runs its measured commands with (`esign-bench esign ...`); the `esign` binary is another
/// package's and not built for these tests.
fn esign(t: &TestStore, data_dir: &std::path::Path) -> Command {
    let mut command = esign_bench(t, data_dir);
    command.arg(esign_tools::bench::service::RUN_ESIGN);
    command
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?}: {stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

async fn seeded_contracts_verify_and_rebuild_to_the_seeded_tables(t: TestStore) {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    let result = dir.path().join("seed.json");
    // Two batches, the second one short, so batching and the batch boundary are covered.
    run(esign_bench(&t, dir.path())
        .args(["seed", "--database-url", &t.url])
        .args([
            "--contracts",
            "20",
            "--batch",
            "15",
            "--ids",
            ids.to_str().unwrap(),
            "--json",
            result.to_str().unwrap(),
        ]));
    let seeded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    assert_eq!(seeded["contracts"], 20, "{seeded}");
    assert_eq!(seeded["events"], 20 * 19, "{seeded}");
    let contract_ids: Vec<String> = std::fs::read_to_string(&ids)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(contract_ids.len(), 20);

    let verified = run(esign(&t, dir.path()).args(["audit", "verify", "--json"]));
    let verified: serde_json::Value = serde_json::from_str(&verified).unwrap();
    assert!(verified["firstBreak"].is_null(), "{verified}");
    assert_eq!(
        verified["events"],
        20 * 19 + 2,
        "the contracts and the template"
    );

    let checked = run(esign(&t, dir.path()).args(["projections", "rebuild", "--check"]));
    assert!(
        checked.contains("the live tables match the log"),
        "{checked}"
    );

    // Every seeded contract is SIGNED, owned by the bench's client, with two signed signers and a
    // successful archive record.
    let store = &t.store;
    for contract_id in &contract_ids {
        let contract = esign::store::query_tables::select_one(
            store,
            projections::Table::Contract,
            "contract_id = {1}",
            &[contract_id],
        )
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no row for {contract_id}"));
        assert_eq!(
            contract.text("client_id"),
            Some(esign_tools::bench::service::CLIENT_ID)
        );
        assert_eq!(contract.text("status"), Some("SIGNED"));
        let archives = store.contracts().archives(contract_id).await.unwrap();
        assert_eq!(archives.len(), 1);
        assert_eq!(archives[0].text("status"), Some("SUCCESS"));
    }

    // The measuring commands run the real ones as children and report what they did.
    for tool in ["rebuild", "verify"] {
        let report = dir.path().join(format!("{tool}.json"));
        run(esign_bench(&t, dir.path())
            .args([tool, "--database-url", &t.url, "--json"])
            .arg(&report));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(report["events"], 20 * 19 + 2, "{tool}: {report}");
        assert!(
            report["eventsPerSecond"].as_f64().unwrap() > 0.0,
            "{report}"
        );
        assert!(report["peakRssMib"].as_f64().unwrap() > 0.0, "{report}");
    }
    let checked = run(esign(&t, dir.path()).args(["projections", "rebuild", "--check"]));
    assert!(
        checked.contains("the live tables match the log"),
        "{checked}"
    );
}
