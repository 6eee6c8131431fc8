//! The resources as the API shows them (spec 2.1), built from query-table rows. The `GET` handlers and
//! the callbacks to callers use the same builders, so a callback carries what the matching `GET` returns.

use serde_json::{Value, json};

use aggregates::SENSITIVE_MARKER;

use crate::pii::{PiiCipher, PiiError};
use crate::store::query_tables::RowView;

/// A person's name from its column: the sealed marker opened, or, for a row projected from an event
/// written before names were sealed, the text as that event holds it.
pub fn person_name(
    row: &RowView,
    column: &str,
    pii: &PiiCipher,
) -> Result<Option<String>, PiiError> {
    let Some(text) = row.text(column) else {
        return Ok(None);
    };
    let sealed = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| value.get(SENSITIVE_MARKER).cloned());
    match sealed {
        Some(sealed) => pii.open_text(&sealed).map(Some),
        None => Ok(Some(text.to_owned())),
    }
}

/// A contract with its signers (in signing order) and archive records (spec 2.1.2 item 2). Signers'
/// names are decrypted: only the contract's owner sees this.
pub fn contract(
    contract: &RowView,
    signers: &[RowView],
    archives: &[RowView],
    pii: &PiiCipher,
) -> Result<Value, PiiError> {
    let signers = signers
        .iter()
        .map(|signer| {
            Ok(json!({
                "partyId": signer.text("party_id"),
                "partyType": signer.text("party_type"),
                "name": person_name(signer, "name", pii)?,
                "signStatus": signer.text("sign_status"),
                "signMethod": signer.text("sign_method"),
                "signerType": if signer.text("credit_code").is_some() { "ORGANIZATION" } else { "PERSON" },
                "organization": signer.text("credit_code").map(|credit_code| json!({
                    "name": signer.text("organization_name"),
                    "creditCode": credit_code,
                    "agentRole": signer.text("agent_role"),
                    "appearance": signer.text("seal_appearance"),
                    "sealId": signer.text("seal_id"),
                    "sealVersion": signer.integer("seal_version"),
                })),
                "places": signer.json("places_json"),
                "sequence": signer.integer("sequence"),
                "signedAt": signer.time("signed_at"),
                "transactionNo": signer.text("transaction_no"),
                "ipAddress": signer.text("ip_address"),
                "deviceInfo": signer.text("device_info"),
                "rejectReason": signer.text("reject_reason"),
            }))
        })
        .collect::<Result<Vec<Value>, PiiError>>()?;
    let archives: Vec<Value> = archives.iter().map(archive).collect();
    Ok(json!({
        "contractId": contract.text("contract_id"),
        "bizId": contract.text("biz_id"),
        "bizType": contract.text("biz_type"),
        "templateId": contract.text("template_id"),
        "templateVersion": contract.text("template_version"),
        "title": contract.text("title"),
        "status": contract.text("status"),
        "documents": contract.json("documents_json"),
        "signers": signers,
        "documentUrl": contract.text("document_url"),
        "documentHash": contract.text("document_hash"),
        "archiveInfo": archives.first().cloned(),
        "archives": archives,
        "createdAt": contract.time("created_at"),
        "expiresAt": contract.time("expires_at"),
        "signedAt": contract.time("signed_at"),
        "revokedAt": contract.time("revoked_at"),
        "revokeReason": contract.text("revoke_reason"),
    }))
}

/// One archive record of a contract (`contract_archive`).
pub fn archive(archive: &RowView) -> Value {
    json!({
        "archiveId": archive.text("archive_id"),
        "provider": archive.text("archive_provider"),
        "status": archive.text("status"),
        "archiveTime": archive.time("archive_time"),
        "certificateUrl": archive.text("certificate_url"),
        "attempts": archive.integer("attempts"),
        "failReason": archive.text("fail_reason"),
    })
}

/// A face verification (spec 2.1.1 item 2). Name and ID number are decrypted: only its owner sees
/// this.
pub fn verification(row: &RowView, pii: &PiiCipher) -> Result<Value, PiiError> {
    let id_card_no = match row.json("id_card_no") {
        Some(sealed) => Some(pii.open_text(&sealed["$pii"])?),
        None => None,
    };
    Ok(json!({
        "verificationId": row.text("verification_id"),
        "bizId": row.text("biz_id"),
        "bizType": row.text("biz_type"),
        "status": row.text("status"),
        "userInfo": {"name": person_name(row, "user_name", pii)?, "idCardNo": id_card_no},
        "score": row.decimal("face_score"),
        "transactionNo": row.text("thirdparty_transaction_no"),
        "verifiedAt": row.time("verified_at"),
        "failReason": row.text("fail_reason"),
        "expiresAt": row.time("expires_at"),
        "createdAt": row.time("created_at"),
        "provider": row.text("provider"),
        "degraded": row.boolean("degraded").unwrap_or(false),
        "method": row.text("verification_method").unwrap_or("FACE"),
    }))
}

/// A face verification's archived result (spec 5.1): the record, its SHA-256 and one record per
/// provider with the evidence that proves it (a timestamp token, a Merkle inclusion proof).
pub fn result_archive(archives: &[RowView]) -> Value {
    let first = archives.first();
    let records: Vec<Value> = archives
        .iter()
        .map(|archive| {
            let metadata = archive.json("metadata_json").unwrap_or(Value::Null);
            json!({
                "archiveId": archive.text("archive_id"),
                "provider": archive.text("archive_provider"),
                "status": archive.text("status"),
                "archiveTime": archive.time("archive_time"),
                "transactionNo": archive.text("transaction_no"),
                "authority": metadata["authority"],
                "evidence": metadata["evidence"],
                "attempts": archive.integer("attempts"),
                "failReason": archive.text("fail_reason"),
            })
        })
        .collect();
    json!({
        "record": first.and_then(|row| row.text("record_json")),
        "recordHash": archives.iter().find_map(|row| row.text("record_hash")),
        "archives": records,
    })
}

/// A template version as spec 2.1.3 spells its fields.
pub fn template(row: &RowView) -> Value {
    json!({
        "templateId": row.text("template_id"),
        "name": row.text("name"),
        "version": row.text("version"),
        "category": row.text("category"),
        "contentType": row.text("content_type"),
        "content": row.text("content"),
        "variableDefinitions": row.json("variable_definitions_json").unwrap_or_else(|| json!([])),
        "signerConfig": row.json("signer_config_json"),
        "active": row.boolean("active").unwrap_or(false),
        "createdBy": row.text("created_by"),
        "createdAt": row.time("created_at"),
        "updatedAt": row.time("updated_at"),
    })
}

/// An SMS template version (payment-verification notices).
pub fn sms_template(row: &RowView) -> Value {
    json!({
        "templateCode": row.text("template_code"),
        "name": row.text("name"),
        "version": row.text("version"),
        "content": row.text("content"),
        "variables": row.json("variables_json").unwrap_or_else(|| json!([])),
        "active": row.boolean("active").unwrap_or(false),
        "createdBy": row.text("created_by"),
        "updatedBy": row.text("updated_by"),
        "createdAt": row.time("created_at"),
        "updatedAt": row.time("updated_at"),
    })
}

/// A payment-verification notice and its delivery state. The mobile number is decrypted: only the
/// owning client sees this (as with a verification's ID number); variable values are never shown.
pub fn sms_notice(row: &RowView, pii: &PiiCipher) -> Result<Value, PiiError> {
    let mobile = match row.json("mobile") {
        Some(sealed) => Some(pii.open_text(&sealed["$pii"])?),
        None => None,
    };
    Ok(json!({
        "noticeId": row.text("notice_id"),
        "bizId": row.text("biz_id"),
        "bizType": row.text("biz_type"),
        "templateCode": row.text("template_code"),
        "templateVersion": row.text("template_version"),
        "mobile": mobile,
        "status": row.text("status"),
        "attempts": row.integer("attempts"),
        "sender": row.text("sender"),
        "messageId": row.text("message_id"),
        "failReason": row.text("fail_reason"),
        "retryable": row.boolean("retryable"),
        "nextAttemptAt": row.time("next_attempt_at"),
        "sentAt": row.time("sent_at"),
        "createdAt": row.time("created_at"),
        "updatedAt": row.time("updated_at"),
    }))
}

/// A registered organisation, with its seals (each as [`seal`] shows it, without versions).
pub fn organization(row: &RowView, seals: &[RowView]) -> Value {
    json!({
        "creditCode": row.text("credit_code"),
        "name": row.text("name"),
        "clientId": row.text("client_id"),
        "operator": row.text("operator"),
        "registeredAt": row.time("registered_at"),
        "createdAt": row.time("created_at"),
        "updatedAt": row.time("updated_at"),
        "seals": seals.iter().map(|seal_row| seal(seal_row, None)).collect::<Vec<_>>(),
    })
}

/// A company seal and the facts of its current version; with `versions`, every version too.
pub fn seal(row: &RowView, versions: Option<&[RowView]>) -> Value {
    let kind = row
        .text("kind")
        .and_then(|kind| aggregates::values::SealKind::parse(kind).ok());
    let mut view = json!({
        "sealId": row.text("seal_id"),
        "creditCode": row.text("credit_code"),
        "organizationName": row.text("organization_name"),
        "kind": row.text("kind"),
        "kindLabel": kind.map(aggregates::values::SealKind::label),
        "name": row.text("name"),
        "version": row.integer("version"),
        "imageHash": row.text("image_hash"),
        "width": row.integer("width"),
        "height": row.integer("height"),
        "active": row.boolean("active").unwrap_or(false),
        "createdAt": row.time("created_at"),
        "updatedAt": row.time("updated_at"),
    });
    if let (Some(versions), Some(object)) = (versions, view.as_object_mut()) {
        let listed: Vec<Value> = versions
            .iter()
            .map(|version| {
                json!({
                    "version": version.integer("version"),
                    "imageHash": version.text("image_hash"),
                    "width": version.integer("width"),
                    "height": version.integer("height"),
                    "byteLength": version.integer("byte_length"),
                    "source": version.text("source"),
                    "operator": version.text("operator"),
                    "createdAt": version.time("created_at"),
                })
            })
            .collect();
        object.insert("versions".into(), Value::Array(listed));
    }
    view
}
