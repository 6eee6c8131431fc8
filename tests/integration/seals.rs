//! Organisations and their company seals through the admin API (docs/seals.md), on both backends:
//! registration by credit code, a drawn and an uploaded seal, their pictures read back by hash, a new
//! version, deactivation, the audit trail (also through `esign audit verify`), administrators only,
//! and pictures that are stored encrypted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, RunningService, TestStore, json_of, rgba_png, start_service};

crate::backend_tests!(
    an_organisation_gets_a_drawn_and_an_uploaded_seal_with_versions_and_a_trail,
    bad_input_is_named_and_changes_nothing,
    only_administrators_manage_organisations_and_seals,
);

/// A code printed on a real business licence (a public register).
const CODE: &str = "91350100M000100Y43";
const NAME: &str = "天财商龙科技有限公司";

/// A transparent 200 x 200 PNG with a red ring-ish pattern; `shade` varies the picture.
fn uploaded_png(shade: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(200 * 200 * 4);
    for y in 0..200u32 {
        for x in 0..200u32 {
            let (dx, dy) = (x as i64 - 100, y as i64 - 100);
            let on = (80 * 80..90 * 90).contains(&(dx * dx + dy * dy));
            pixels.extend_from_slice(&[230, shade, 18, if on { 255 } else { 0 }]);
        }
    }
    rgba_png(200, 200, &pixels)
}

fn sha256_hex(bytes: &[u8]) -> String {
    esign::documents::storage::sha256_hex(bytes)
}

async fn register(service: &RunningService) -> Value {
    let admin = service.client(ADMIN);
    let (status, body) = json_of(
        admin
            .post_json(
                "/api/v1/admin/organizations",
                &json!({"name": NAME, "creditCode": CODE.to_lowercase()}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn image_of(service: &RunningService, seal_id: &str, query: &str) -> (StatusCode, Vec<u8>) {
    let response = service
        .client(ADMIN)
        .get(&format!("/api/v1/admin/seals/{seal_id}/image{query}"))
        .await;
    let status = response.status();
    if status == StatusCode::OK {
        assert_eq!(response.headers()["content-type"], "image/png");
    }
    (status, response.bytes().await.unwrap().to_vec())
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The whole life of two seals: what an operator does and what the log, the document store and a
/// rebuild of the tables say about it.
async fn an_organisation_gets_a_drawn_and_an_uploaded_seal_with_versions_and_a_trail(t: TestStore) {
    let service = start_service(&t, &[ADMIN]).await;
    let admin = service.client(ADMIN);

    let organization = register(&service).await;
    assert_eq!(organization["creditCode"], CODE, "kept upper case");
    assert_eq!(organization["name"], NAME);
    assert_eq!(organization["seals"], json!([]));
    // Again under the same name: the same organisation, no new event.
    let again = register(&service).await;
    assert_eq!(again["registeredAt"], organization["registeredAt"]);
    // Under another name: a conflict.
    let (status, body) = json_of(
        admin
            .post_json(
                "/api/v1/admin/organizations",
                &json!({"name": "另一家公司", "creditCode": CODE}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A drawn contract seal.
    let seals_path = format!("/api/v1/admin/organizations/{CODE}/seals");
    let (status, drawn) = json_of(
        admin
            .post_json(
                &seals_path,
                &json!({"kind": "CONTRACT", "name": "合同专用章", "draw": true, "operator": "ops_zhang"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{drawn}");
    let drawn_id = drawn["sealId"].as_str().unwrap().to_owned();
    assert!(drawn_id.starts_with("SEAL_"), "{drawn_id}");
    assert_eq!(drawn["kindLabel"], "合同专用章");
    assert_eq!(drawn["version"], 1);
    assert_eq!(drawn["active"], true);
    assert_eq!(drawn["versions"][0]["source"], "DRAWN");
    assert_eq!(drawn["width"], 600);
    // The drawing is the one the library draws for this name and kind, and it reads back whole.
    let expected = esign::documents::company_seal::draw_round_seal(
        &aggregates::values::OrganizationName::parse(NAME).unwrap(),
        "合同专用章",
    )
    .unwrap();
    assert_eq!(drawn["imageHash"], sha256_hex(&expected));
    let (status, picture) = image_of(&service, &drawn_id, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha256_hex(&picture), drawn["imageHash"].as_str().unwrap());

    // An uploaded official seal.
    let first = uploaded_png(0);
    let (status, uploaded) = json_of(
        admin
            .post_json(
                &seals_path,
                &json!({
                    "kind": "OFFICIAL",
                    "name": "公章",
                    "imageBase64": STANDARD.encode(&first),
                    "operator": "ops_zhang"
                }),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{uploaded}");
    let uploaded_id = uploaded["sealId"].as_str().unwrap().to_owned();
    assert_eq!(uploaded["imageHash"], sha256_hex(&first));
    assert_eq!(uploaded["versions"][0]["byteLength"], first.len());
    assert_eq!(uploaded["versions"][0]["source"], "UPLOADED");

    // A second version replaces the picture in use; version 1 is still there.
    let second = uploaded_png(9);
    let versions_path = format!("/api/v1/admin/seals/{uploaded_id}/versions");
    let (status, versioned) = json_of(
        admin
            .post_json(
                &versions_path,
                &json!({"imageBase64": STANDARD.encode(&second), "operator": "ops_li"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{versioned}");
    assert_eq!(versioned["version"], 2);
    assert_eq!(versioned["imageHash"], sha256_hex(&second));
    assert_eq!(versioned["versions"].as_array().unwrap().len(), 2);
    let (_, current) = image_of(&service, &uploaded_id, "").await;
    assert_eq!(current, second);
    let (_, earlier) = image_of(&service, &uploaded_id, "?version=1").await;
    assert_eq!(earlier, first);
    let (status, _) = image_of(&service, &uploaded_id, "?version=3").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same picture again is not a new version.
    let (status, body) = json_of(
        admin
            .post_json(
                &versions_path,
                &json!({"imageBase64": STANDARD.encode(&second), "operator": "ops_li"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Deactivated, then refused to deactivate again.
    let deactivate = format!("/api/v1/admin/seals/{uploaded_id}/deactivate");
    let switch = json!({"operator": "ops_zhang", "reason": "印章遗失"});
    let (status, body) = json_of(admin.post_json(&deactivate, &switch).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    let (status, _) = json_of(admin.post_json(&deactivate, &switch).await).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The contract side's look-ups.
    let seal_id = aggregates::values::SealId::parse(&uploaded_id).unwrap();
    let facts = esign::app::seals::seal_facts(&service.state, &seal_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!facts.active);
    assert_eq!(facts.version, 2);
    assert_eq!(facts.credit_code.as_str(), CODE);
    assert_eq!(
        esign::app::seals::seal_image(&service.state, &seal_id, &facts.image_hash)
            .await
            .unwrap(),
        second
    );
    let unknown = aggregates::values::SealId::parse("SEAL_NONE").unwrap();
    assert!(
        esign::app::seals::seal_facts(&service.state, &unknown)
            .await
            .unwrap()
            .is_none()
    );

    // The organisation lists both seals.
    let (status, organization) = json_of(
        admin
            .get(&format!("/api/v1/admin/organizations/{CODE}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{organization}");
    assert_eq!(organization["seals"].as_array().unwrap().len(), 2);

    // The audit trail: every event, its operator and hash, the chain intact.
    let (status, trail) = json_of(
        admin
            .get(&format!("/api/v1/admin/seals/{uploaded_id}/events"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    assert_eq!(trail["chainIntact"], true);
    let types: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["SealCreated", "SealVersionAdded", "SealDeactivated"]
    );
    assert_eq!(trail["events"][1]["payload"]["operator"], "ops_li");
    assert_eq!(
        trail["events"][1]["payload"]["image"]["hash"],
        sha256_hex(&second)
    );
    assert_eq!(trail["events"][2]["payload"]["reason"], "印章遗失");
    assert_eq!(trail["events"][0]["metadata"]["actor"], "client:admin");
    let dir = tempfile::tempdir().unwrap();
    let verified = crate::cli::esign(&t, dir.path())
        .args([
            "audit",
            "verify",
            "--stream",
            &format!("seal-{uploaded_id}"),
        ])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );

    // The pictures are stored encrypted: no stored file holds a PNG in clear.
    let documents = service.state.config.server.data_dir.join("documents");
    let stored = files_under(&documents.join("seals"));
    assert_eq!(stored.len(), 3, "{stored:?}");
    for path in stored {
        let raw = std::fs::read(&path).unwrap();
        assert!(raw.starts_with(b"ESDOC1"), "{}", path.display());
        assert!(
            !raw.windows(4).any(|window| window == b"\x89PNG"),
            "{}",
            path.display()
        );
        assert!(!raw.windows(4).any(|window| window == b"IDAT"));
    }

    // The tables are what the log says.
    let report = esign::read::rebuild::check(&t.store, &t.cipher)
        .await
        .unwrap();
    assert!(report.matches(), "{report:?}");
    for (table, rows) in [("organization", 1), ("seal", 2), ("seal_version", 3)] {
        let found = report
            .tables
            .iter()
            .find(|found| found.table == table)
            .unwrap();
        assert_eq!(found.rebuilt_rows, rows, "{table}");
    }
}

/// Bad fields are named (40001) and nothing is written; unknown ids are 404.
async fn bad_input_is_named_and_changes_nothing(t: TestStore) {
    let service = start_service(&t, &[ADMIN]).await;
    let admin = service.client(ADMIN);
    let events_before = crate::helpers::event_count(&t.store).await;

    let (status, body) = json_of(
        admin
            .post_json(
                "/api/v1/admin/organizations",
                &json!({"name": NAME, "creditCode": "91350100M000100Y44"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(40001)),
        "{body}"
    );
    assert_eq!(body["details"][0]["field"], "creditCode", "{body}");
    assert!(
        body["details"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("check character"),
        "{body}"
    );

    // Seals of an organisation nobody registered: 404.
    let (status, _) = json_of(
        admin
            .post_json(
                &format!("/api/v1/admin/organizations/{CODE}/seals"),
                &json!({"kind": "CONTRACT", "name": "合同专用章", "draw": true, "operator": "ops"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(crate::helpers::event_count(&t.store).await, events_before);

    register(&service).await;
    let registered = crate::helpers::event_count(&t.store).await;
    let seals_path = format!("/api/v1/admin/organizations/{CODE}/seals");
    let opaque = rgba_png(200, 200, &[255; 200 * 200 * 4]);
    let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec();
    let truncated = uploaded_png(0)[..300].to_vec();
    let small = rgba_png(50, 50, &[0; 50 * 50 * 4]);
    for (picture, reason) in [
        (opaque, "transparent"),
        (jpeg, "PNG"),
        (truncated, "readable"),
        (small, "100 to 2000 pixels"),
    ] {
        let (status, body) = json_of(
            admin
                .post_json(
                    &seals_path,
                    &json!({"kind": "CONTRACT", "name": "合同专用章",
                        "imageBase64": STANDARD.encode(&picture), "operator": "ops"}),
                )
                .await,
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (StatusCode::BAD_REQUEST, &json!(40001)),
            "{body}"
        );
        assert_eq!(body["details"][0]["field"], "imageBase64", "{body}");
        assert!(
            body["details"][0]["reason"]
                .as_str()
                .unwrap()
                .contains(reason),
            "{body}"
        );
    }
    // Every bad field at once: the kind, the operator, and a picture both uploaded and drawn.
    let (status, body) = json_of(
        admin
            .post_json(
                &seals_path,
                &json!({"kind": "PERSONAL", "name": "章", "draw": true,
                    "imageBase64": STANDARD.encode(uploaded_png(0))}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap())
        .collect();
    for field in ["imageBase64", "kind", "operator"] {
        assert!(fields.contains(&field), "{field}: {body}");
    }
    assert_eq!(crate::helpers::event_count(&t.store).await, registered);
    let stored = files_under(&service.state.config.server.data_dir.join("documents/seals"));
    assert!(
        stored.is_empty(),
        "refused pictures are not stored: {stored:?}"
    );

    for path in [
        "/api/v1/admin/seals/SEAL_NONE".to_owned(),
        "/api/v1/admin/seals/SEAL_NONE/image".to_owned(),
        "/api/v1/admin/seals/SEAL_NONE/events".to_owned(),
        "/api/v1/admin/organizations/91110000802100433B".to_owned(),
    ] {
        let (status, _) = json_of(admin.get(&path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = json_of(
        admin
            .post_json(
                "/api/v1/admin/seals/SEAL_NONE/deactivate",
                &json!({"operator": "ops", "reason": "x"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A client that is not an administrator is refused (40300) on every route and writes nothing.
async fn only_administrators_manage_organisations_and_seals(t: TestStore) {
    let service = start_service(&t, &[ADMIN, CALLER]).await;
    register(&service).await;
    let caller = service.client(CALLER);
    let events_before = crate::helpers::event_count(&t.store).await;
    let (status, body) = json_of(
        caller
            .post_json(
                "/api/v1/admin/organizations",
                &json!({"name": "别人的公司", "creditCode": "91110000802100433B"}),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::FORBIDDEN, &json!(40300)),
        "{body}"
    );
    let (status, _) = json_of(
        caller
            .post_json(
                &format!("/api/v1/admin/organizations/{CODE}/seals"),
                &json!({"kind": "CONTRACT", "name": "合同专用章", "draw": true, "operator": "ops"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = json_of(
        caller
            .get(&format!("/api/v1/admin/organizations/{CODE}"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(crate::helpers::event_count(&t.store).await, events_before);
}
