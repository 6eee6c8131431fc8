//! Archive providers (docs/archive.md) on real databases and checked by outside tools: the local
//! Merkle log on both backends (dense indexes under concurrency, safe retries, proofs against the
//! stored signed tree heads, heads whose signatures `openssl dgst` accepts), `LOCAL_CA` and `TSA`
//! tokens that `openssl ts -verify` accepts, the `TSA` fallback over HTTP, and the archive
//! certificate's text as `pdftotext` reads it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use esign::documents::archive_certificate::{CertificateFacts, certificate_pdf};
use esign::providers::archive::merkle::{self, Hash};
use esign::providers::archive::merkle_log::{self, Appended, LogError, SignedTreeHead};
use esign::providers::archive::{
    ArchiveError, ArchiveProvider, ArchiveRequest, Archiver, LocalCaArchiver, MerkleLog,
    ReceiptTrust, TsaArchiver, VerifyError, verify_receipt,
};
use esign::providers::tsa::Client;
use esign::trust::Ca;
use esign::trust::ca::{self, NewCa};
use sha2::{Digest, Sha256};

use crate::helpers::{Backend, TestStore, start_service};

crate::backend_tests!(
    merkle_log_indexes_are_dense_and_a_retry_returns_the_same_leaf,
    merkle_log_proofs_verify_against_the_stored_signed_tree_heads,
    concurrent_appends_make_one_dense_log_with_consistent_heads,
);

/// Runs an outside tool, or `None` when it is missing (see [`crate::helpers::skip`]).
fn tool(program: &str, args: &[&str], dir: &Path) -> Option<(bool, String)> {
    match Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => Some((
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )),
        Err(error) => {
            crate::helpers::skip(program, format_args!("it is not available ({error})"));
            None
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn new_ca() -> Arc<Ca> {
    Arc::new(NewCa::generate("esign", Utc::now()).unwrap().ca)
}

fn request(archive_id: &str, contract_id: &str, document: &[u8]) -> ArchiveRequest {
    ArchiveRequest {
        archive_id: archive_id.to_owned(),
        contract_id: contract_id.to_owned(),
        document_hash: sha256(document),
        requested_at: Utc::now(),
    }
}

/// The head's signature verifies with the CA's TSA certificate and the proof leads to its root.
fn assert_proven(appended: &Appended, ca: &Ca) {
    appended
        .tree_head
        .verify_signature(&ca.tsa().certificate)
        .unwrap();
    assert!(merkle::verify_inclusion(
        &appended.leaf.leaf_hash,
        appended.leaf.leaf_index as usize,
        appended.tree_head.tree_size as usize,
        &appended.inclusion_proof,
        &appended.tree_head.root_hash,
    ));
}

/// Every stored head from 1 to `size`, checked for signature and monotonic time.
async fn heads(log: &MerkleLog, ca: &Ca, size: u64) -> Vec<SignedTreeHead> {
    let mut heads = Vec::new();
    for tree_size in 1..=size {
        let head = log.tree_head(tree_size).await.unwrap().unwrap();
        head.verify_signature(&ca.tsa().certificate).unwrap();
        if let Some(previous) = heads.last() {
            let previous: &SignedTreeHead = previous;
            assert!(head.timestamp_ms >= previous.timestamp_ms);
        }
        heads.push(head);
    }
    heads
}

/// Leaves get indexes 0, 1, 2, ... in append order; appending an archive id again returns its
/// leaf, head and signature unchanged, and the same id for another document is refused. The log's
/// tables refuse UPDATE and DELETE from anyone.
async fn merkle_log_indexes_are_dense_and_a_retry_returns_the_same_leaf(t: TestStore) {
    let ca = new_ca();
    let log = MerkleLog::new(t.store.clone(), ca.clone());
    assert_eq!(log.latest_tree_head().await.unwrap(), None);
    let mut appended = Vec::new();
    for i in 0..10 {
        let entry = log
            .append(
                &request(
                    &format!("ARCHIVE_{i}"),
                    "CONTRACT_1",
                    format!("doc {i}").as_bytes(),
                ),
                Utc::now(),
            )
            .await
            .unwrap();
        assert!(entry.newly_appended);
        assert_eq!(entry.leaf.leaf_index, i);
        assert_eq!(entry.tree_head.tree_size, i + 1);
        assert_proven(&entry, &ca);
        appended.push(entry);
    }
    let retry = log
        .append(&request("ARCHIVE_3", "CONTRACT_1", b"doc 3"), Utc::now())
        .await
        .unwrap();
    assert!(!retry.newly_appended);
    assert_eq!(retry.leaf, appended[3].leaf);
    assert_eq!(retry.tree_head, appended[3].tree_head);
    assert_eq!(retry.inclusion_proof, appended[3].inclusion_proof);
    assert_eq!(log.latest_tree_head().await.unwrap().unwrap().tree_size, 10);
    assert_eq!(
        log.leaf("ARCHIVE_3").await.unwrap().as_ref(),
        Some(&appended[3].leaf)
    );
    assert_eq!(log.leaf("ARCHIVE_404").await.unwrap(), None);

    let conflict = log
        .append(
            &request("ARCHIVE_3", "CONTRACT_1", b"another doc"),
            Utc::now(),
        )
        .await;
    assert!(matches!(conflict, Err(LogError::Conflict(ref id)) if id == "ARCHIVE_3"));
    assert_eq!(log.latest_tree_head().await.unwrap().unwrap().tree_size, 10);

    // The archive trait gives the same leaf on a retry, as a receipt.
    let receipt = log
        .archive(&request("ARCHIVE_3", "CONTRACT_1", b"doc 3"))
        .await
        .unwrap();
    assert_eq!(receipt.transaction_no, "local-merkle-log:3");
    assert_eq!(receipt.authority, "local-merkle-log");
    assert_eq!(receipt.archived_at, appended[3].leaf.appended_at);
    assert_eq!(receipt.evidence["leafIndex"], 3);
    assert_eq!(receipt.evidence["treeSize"], 4);

    let refused = match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            [
                "UPDATE merkle_log_leaves SET contract_id = 'X'",
                "DELETE FROM merkle_log_tree_heads",
                "DELETE FROM merkle_log_nodes",
            ]
            .iter()
            .map(|sql| connection.execute(sql, []).is_err())
            .collect::<Vec<_>>()
        }
        Backend::Postgres => {
            let client = t.postgres_superuser().await;
            let mut refused = Vec::new();
            for sql in [
                "UPDATE merkle_log_leaves SET contract_id = 'X'",
                "DELETE FROM merkle_log_tree_heads",
                "TRUNCATE merkle_log_nodes",
            ] {
                refused.push(client.batch_execute(sql).await.is_err());
            }
            refused
        }
    };
    assert_eq!(refused, [true, true, true]);
}

/// For a grown log: every leaf's inclusion proof at every size leads to the root of that size's
/// stored signed head, the roots are those of RFC 6962 over the leaves, every two heads are
/// consistent, a receipt's evidence verifies offline, and `openssl dgst` accepts a tree head
/// signature over the documented 50 bytes with the TSA certificate's key.
async fn merkle_log_proofs_verify_against_the_stored_signed_tree_heads(t: TestStore) {
    let ca = new_ca();
    let log = MerkleLog::new(t.store.clone(), ca.clone());
    let mut leaves: Vec<Hash> = Vec::new();
    let mut last_receipt = None;
    for i in 0..13 {
        let request = request(&format!("A{i}"), &format!("C{}", i % 3), &[i as u8; 100]);
        let receipt = log.archive(&request).await.unwrap();
        let leaf = hex::decode(receipt.evidence["leafHash"].as_str().unwrap()).unwrap();
        leaves.push(leaf.try_into().unwrap());
        let verified = verify_receipt(
            ArchiveProvider::Blockchain,
            &receipt.evidence,
            &request.document_hash,
            &ReceiptTrust::platform(&ca),
        )
        .unwrap();
        assert_eq!(verified.transaction_no, receipt.transaction_no);
        assert_eq!(verified.archived_at, receipt.archived_at);
        assert_eq!(
            verify_receipt(
                ArchiveProvider::Blockchain,
                &receipt.evidence,
                &sha256(b"another document"),
                &ReceiptTrust::platform(&ca),
            ),
            Err(VerifyError::OtherDocument)
        );
        last_receipt = Some((request, receipt));
    }
    let heads = heads(&log, &ca, 13).await;
    for (size, head) in (1..=13usize).zip(&heads) {
        assert_eq!(head.root_hash, merkle::root(&leaves[..size]));
        for (index, leaf) in leaves[..size].iter().enumerate() {
            let proof = log
                .inclusion_proof(index as u64, size as u64)
                .await
                .unwrap();
            assert!(
                merkle::verify_inclusion(leaf, index, size, &proof, &head.root_hash),
                "leaf {index} in a tree of {size}"
            );
        }
    }
    for old in 1..=13usize {
        for new in old..=13usize {
            let proof = log.consistency_proof(old as u64, new as u64).await.unwrap();
            assert!(
                merkle::verify_consistency(
                    old,
                    new,
                    &proof,
                    &heads[old - 1].root_hash,
                    &heads[new - 1].root_hash
                ),
                "{old} -> {new}"
            );
        }
    }
    assert!(matches!(
        log.inclusion_proof(0, 14).await,
        Err(LogError::NoTreeHead(14))
    ));
    assert!(matches!(
        log.consistency_proof(5, 14).await,
        Err(LogError::NoTreeHead(14))
    ));
    assert!(matches!(
        log.inclusion_proof(13, 13).await,
        Err(LogError::Proof(_))
    ));

    // The tree head signature by hand, as docs/archive.md shows it.
    let (_, receipt) = last_receipt.unwrap();
    let evidence = &receipt.evidence;
    let dir = tempfile::tempdir().unwrap();
    let head = &heads[12];
    std::fs::write(
        dir.path().join("head.bin"),
        merkle_log::tree_head_bytes(head.tree_size, head.timestamp_ms, &head.root_hash),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("head.sig"),
        hex::decode(evidence["treeHeadSignature"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("signer.der"),
        BASE64
            .decode(evidence["signerCertificate"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let Some((ok, output)) = tool(
        "openssl",
        &[
            "x509",
            "-inform",
            "DER",
            "-in",
            "signer.der",
            "-pubkey",
            "-noout",
            "-out",
            "signer.pub",
        ],
        dir.path(),
    ) else {
        return;
    };
    assert!(ok, "{output}");
    let verify = |file: &str| {
        tool(
            "openssl",
            &[
                "dgst",
                "-sha256",
                "-verify",
                "signer.pub",
                "-signature",
                "head.sig",
                file,
            ],
            dir.path(),
        )
        .unwrap()
    };
    let (ok, output) = verify("head.bin");
    assert!(ok && output.contains("Verified OK"), "{output}");
    let mut other = merkle_log::tree_head_bytes(head.tree_size, head.timestamp_ms, &head.root_hash);
    other[17] ^= 1;
    std::fs::write(dir.path().join("other.bin"), other).unwrap();
    let (ok, output) = verify("other.bin");
    assert!(!ok && output.contains("Verification failure"), "{output}");
}

/// Eight tasks append at once, and all of them retry one shared archive id: the log ends with
/// dense indexes, the shared archive once, every returned proof valid against its signed head,
/// and each head consistent with the last.
async fn concurrent_appends_make_one_dense_log_with_consistent_heads(t: TestStore) {
    let ca = new_ca();
    let log = Arc::new(MerkleLog::new(t.store.clone(), ca.clone()));
    let mut tasks = Vec::new();
    for task in 0..8 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in 0..5 {
                let request = request(
                    &format!("A-{task}-{n}"),
                    &format!("C-{task}"),
                    format!("{task}/{n}").as_bytes(),
                );
                results.push(log.append(&request, Utc::now()).await.unwrap());
                if n == 2 {
                    let shared = request_shared();
                    results.push(log.append(&shared, Utc::now()).await.unwrap());
                }
            }
            results
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let shared: Vec<&Appended> = all
        .iter()
        .filter(|entry| entry.leaf.archive_id == "SHARED")
        .collect();
    assert_eq!(shared.len(), 8);
    assert_eq!(
        shared.iter().filter(|entry| entry.newly_appended).count(),
        1
    );
    assert!(shared.iter().all(|entry| entry.leaf == shared[0].leaf));

    let mut indexes: Vec<u64> = all
        .iter()
        .filter(|entry| entry.newly_appended)
        .map(|entry| entry.leaf.leaf_index)
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..41).collect::<Vec<u64>>());
    for entry in &all {
        assert_proven(entry, &ca);
        assert_eq!(entry.tree_head.tree_size, entry.leaf.leaf_index + 1);
    }

    let heads = heads(&log, &ca, 41).await;
    assert_eq!(log.latest_tree_head().await.unwrap().as_ref(), heads.last());
    let mut by_index: Vec<&Appended> = all.iter().filter(|entry| entry.newly_appended).collect();
    by_index.sort_by_key(|entry| entry.leaf.leaf_index);
    let leaves: Vec<Hash> = by_index.iter().map(|entry| entry.leaf.leaf_hash).collect();
    assert_eq!(heads[40].root_hash, merkle::root(&leaves));
    for pair in heads.windows(2) {
        let (old, new) = (pair[0].tree_size, pair[1].tree_size);
        let proof = log.consistency_proof(old, new).await.unwrap();
        assert!(merkle::verify_consistency(
            old as usize,
            new as usize,
            &proof,
            &pair[0].root_hash,
            &pair[1].root_hash
        ));
    }
}

fn request_shared() -> ArchiveRequest {
    request("SHARED", "C-SHARED", b"shared")
}

/// Writes the root and the intermediate where openssl reads them.
fn write_ca(ca: &Ca, dir: &Path) {
    std::fs::write(dir.join("root.pem"), ca.root_pem().unwrap()).unwrap();
    let intermediate = ca::pem(&ca.chain()[0]).unwrap();
    std::fs::write(dir.join("intermediate.pem"), intermediate).unwrap();
}

/// `openssl ts -verify` on a token from stored evidence: OK for the document, a failure for
/// another. `None` when openssl is missing.
fn openssl_verifies_token(evidence: &serde_json::Value, document: &[u8], ca: &Ca) -> Option<()> {
    let dir = tempfile::tempdir().unwrap();
    write_ca(ca, dir.path());
    let token = BASE64.decode(evidence["token"].as_str().unwrap()).unwrap();
    std::fs::write(dir.path().join("token.der"), token).unwrap();
    std::fs::write(dir.path().join("contract.pdf"), document).unwrap();
    std::fs::write(dir.path().join("other.pdf"), b"another document").unwrap();
    let verify = |data: &str| {
        tool(
            "openssl",
            &[
                "ts",
                "-verify",
                "-token_in",
                "-in",
                "token.der",
                "-data",
                data,
                "-CAfile",
                "root.pem",
                "-untrusted",
                "intermediate.pem",
            ],
            dir.path(),
        )
    };
    let (ok, output) = verify("contract.pdf")?;
    assert!(ok && output.contains("Verification: OK"), "{output}");
    let (ok, output) = verify("other.pdf")?;
    assert!(!ok && !output.contains("Verification: OK"), "{output}");
    Some(())
}

/// A `LOCAL_CA` receipt: esign's own timestamp service in process; the token in the evidence
/// verifies with `openssl ts -verify` against the platform root, and offline with
/// `verify_receipt`.
#[tokio::test]
async fn a_local_ca_token_verifies_with_openssl_ts() {
    let ca = new_ca();
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let archiver = LocalCaArchiver::new(Arc::new(ca.tsa_signer(policy)), &ca);
    let document = b"%PDF-1.7 the signed contract".as_slice();
    let request = request("ARCHIVE_LOCAL", "CONTRACT_LOCAL", document);
    let receipt = archiver.archive(&request).await.unwrap();
    assert_eq!(archiver.provider(), ArchiveProvider::LocalCa);
    assert!((receipt.archived_at - Utc::now()).num_seconds().abs() < 60);
    let verified = verify_receipt(
        ArchiveProvider::LocalCa,
        &receipt.evidence,
        &request.document_hash,
        &ReceiptTrust::platform(&ca),
    )
    .unwrap();
    assert_eq!(verified.transaction_no, receipt.transaction_no);
    openssl_verifies_token(&receipt.evidence, document, &ca);
}

/// The `TSA` provider against esign's `/tsa` over HTTP: the first URL is dead, the second answers;
/// the receipt names the URL that answered and its token verifies with openssl. Only dead URLs are
/// unavailable (worth a retry); a TSA whose certificate the client does not trust is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tsa_provider_falls_back_from_a_dead_url_over_http() {
    let Some(t) = TestStore::new(Backend::Sqlite).await else {
        return;
    };
    let service = start_service(&t, &[]).await;
    let ca = service.state.ca.clone().unwrap();
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/tsa", listener.local_addr().unwrap())
    };
    let live = format!("{}/tsa", service.base);
    let client = |urls: Vec<String>, anchor: &Ca| {
        Client::new(
            urls,
            Duration::from_secs(20),
            vec![anchor.root().clone()],
            Vec::new(),
        )
        .unwrap()
    };
    let archiver = TsaArchiver::new(client(vec![dead.clone(), live.clone()], &ca));
    assert_eq!(archiver.provider(), ArchiveProvider::Tsa);
    let document = b"%PDF-1.7 archived through the TSA".as_slice();
    let request = request("ARCHIVE_TSA", "CONTRACT_TSA", document);
    let receipt = archiver.archive(&request).await.unwrap();
    assert_eq!(receipt.evidence["url"], live.as_str());
    assert_eq!(
        receipt.evidence["serialNumber"],
        receipt.transaction_no.as_str()
    );
    assert!(
        receipt.authority.contains("Timestamp Authority"),
        "{}",
        receipt.authority
    );
    verify_receipt(
        ArchiveProvider::Tsa,
        &receipt.evidence,
        &request.document_hash,
        &ReceiptTrust::platform(&ca),
    )
    .unwrap();
    openssl_verifies_token(&receipt.evidence, document, &ca);

    let only_dead = TsaArchiver::new(client(vec![dead], &ca));
    assert!(matches!(
        only_dead.archive(&request).await,
        Err(ArchiveError::Unavailable(_))
    ));
    let stranger = NewCa::generate("stranger", Utc::now()).unwrap().ca;
    let distrusting = TsaArchiver::new(client(vec![live], &stranger));
    assert!(matches!(
        distrusting.archive(&request).await,
        Err(ArchiveError::Refused(_))
    ));
}

/// A TSA that answers 5xx and one that accepts connections but never answers are both skipped for
/// the next URL (the timeout bounds the wait); with only failing TSAs the archive is `Unavailable`,
/// which the sweep retries and, at the end, records as archive failure 50003.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tsa_provider_moves_past_a_5xx_and_a_silent_tsa() {
    let Some(t) = TestStore::new(Backend::Sqlite).await else {
        return;
    };
    let service = start_service(&t, &[]).await;
    let ca = service.state.ca.clone().unwrap();
    let failing = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let router = axum::Router::new().route(
            "/tsa",
            axum::routing::post(|| async { axum::http::StatusCode::SERVICE_UNAVAILABLE }),
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    };
    // Listening (the kernel completes the handshake) but never read: the request hangs.
    let silent_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}/tsa", silent_listener.local_addr().unwrap());
    let live = format!("{}/tsa", service.base);
    let client = |urls: Vec<String>| {
        Client::new(
            urls,
            Duration::from_millis(500),
            vec![ca.root().clone()],
            Vec::new(),
        )
        .unwrap()
    };
    let document = b"%PDF-1.7 archived past failing TSAs".as_slice();
    let request = request("ARCHIVE_TSA_FAULTS", "CONTRACT_TSA_FAULTS", document);

    let started = std::time::Instant::now();
    let archiver = TsaArchiver::new(client(vec![failing.clone(), silent.clone(), live.clone()]));
    let receipt = archiver.archive(&request).await.unwrap();
    assert_eq!(receipt.evidence["url"], live.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the silent TSA cost one timeout, not more"
    );
    openssl_verifies_token(&receipt.evidence, document, &ca);

    let only_failing = TsaArchiver::new(client(vec![failing, silent]));
    assert!(matches!(
        only_failing.archive(&request).await,
        Err(ArchiveError::Unavailable(_))
    ));
    drop(silent_listener);
}

/// The archive certificate of a log receipt and of a `LOCAL_CA` receipt, as `pdftotext` reads
/// them: title, ids, provider, authority, document hash, transaction number, the evidence fields
/// and the verify URL; the same facts give the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_certificate_reads_back_with_pdftotext() {
    let Some(t) = TestStore::new(Backend::Sqlite).await else {
        return;
    };
    let ca = new_ca();
    let log = MerkleLog::new(t.store.clone(), ca.clone());
    log.archive(&request("ARCHIVE_0", "CONTRACT_0", b"first"))
        .await
        .unwrap();
    let chained = request("ARCHIVE_20250101_0001", "CONTRACT_20250101_0001", b"signed");
    let log_receipt = log.archive(&chained).await.unwrap();
    let policy = esign::trust::parse_tsa_policy(esign::trust::DEFAULT_TSA_POLICY).unwrap();
    let local = LocalCaArchiver::new(Arc::new(ca.tsa_signer(policy)), &ca);
    let local_receipt = local.archive(&chained).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    for (provider, receipt) in [
        (ArchiveProvider::Blockchain, &log_receipt),
        (ArchiveProvider::LocalCa, &local_receipt),
    ] {
        let facts = CertificateFacts {
            contract_id: chained.contract_id.clone(),
            archive_id: chained.archive_id.clone(),
            provider,
            authority: receipt.authority.clone(),
            archived_at: receipt.archived_at,
            document_hash: chained.document_hash,
            transaction_no: receipt.transaction_no.clone(),
            evidence: esign::providers::archive::readable_evidence(provider, &receipt.evidence)
                .unwrap(),
            verify_url: "https://esign.test/v/ARCHIVE_20250101_0001".into(),
        };
        let pdf = certificate_pdf(&facts).unwrap();
        assert_eq!(pdf, certificate_pdf(&facts).unwrap());
        let file = dir.path().join(format!("{provider}.pdf"));
        std::fs::write(&file, &pdf).unwrap();
        let Some((ok, text)) = tool("pdftotext", &[file.to_str().unwrap(), "-"], dir.path()) else {
            return;
        };
        assert!(ok, "{text}");
        // Extraction spaces text by glyph positions, so compare without whitespace.
        let text: String = text.chars().filter(|ch| !ch.is_whitespace()).collect();
        let mut expected = vec![
            "存证证书".to_owned(),
            "协议编号：CONTRACT_20250101_0001".to_owned(),
            "存证编号：ARCHIVE_20250101_0001".to_owned(),
            hex::encode(chained.document_hash),
            format!("存证流水号：{}", receipt.transaction_no),
            "https://esign.test/v/ARCHIVE_20250101_0001".to_owned(),
        ];
        match provider {
            ArchiveProvider::Blockchain => expected.extend([
                "存证网络：local-merkle-log".to_owned(),
                "叶子序号：1".to_owned(),
                "树大小：2".to_owned(),
                format!("根哈希：{}", receipt.evidence["rootHash"].as_str().unwrap()),
                "它不是第三方区块链".to_owned(),
            ]),
            _ => expected.extend([
                "LOCAL_CA".to_owned(),
                format!(
                    "令牌序列号：{}",
                    receipt.evidence["serialNumber"].as_str().unwrap()
                ),
                format!("时间戳策略：{}", esign::trust::DEFAULT_TSA_POLICY),
            ]),
        }
        for expected in expected {
            assert!(
                text.contains(&expected),
                "{expected} is missing from {text}"
            );
        }
    }
}
