//! Organisation signers: a person signs for a company, whose registered seal is applied.

use super::*;
use crate::values::{AgentRole, CreditCode, OrganizationName, SealAppearance, SealId};

const HEADQUARTERS: &str = "XX品牌总部";
const HEADQUARTERS_CODE: &str = "91350100M000100Y43";
const STORE_CODE: &str = "91110000802100433B";
const SEAL: &str = "SEAL_HQ_CONTRACT";

fn seal_of(code: &str, name: &str, active: bool) -> OrganizationSeal {
    OrganizationSeal {
        credit_code: CreditCode::parse(code).unwrap(),
        organization_name: OrganizationName::parse(name).unwrap(),
        version: 2,
        image_hash: digest(55),
        active,
    }
}

fn seals(seal: OrganizationSeal) -> BTreeMap<SealId, OrganizationSeal> {
    BTreeMap::from([(SealId::parse(SEAL).unwrap(), seal)])
}

fn organization(appearance: Option<&str>) -> OrganizationRequest {
    OrganizationRequest {
        name: Some(HEADQUARTERS.into()),
        credit_code: Some(HEADQUARTERS_CODE.into()),
        seal_id: Some(SEAL.into()),
        agent_role: None,
        appearance: appearance.map(Into::into),
    }
}

/// The payer is the headquarters, signed for by 李四 (face + SMS, first); the receiver a person.
fn organization_request(organization: OrganizationRequest) -> ContractRequest {
    let mut request = request();
    request.signers[1].sign_method = Some("FACE_AND_SMS".into());
    request.signers[1].sequence = Some(1);
    request.signers[1].organization = Some(organization);
    request
}

fn initiate_organization(
    organization: OrganizationRequest,
    seal: OrganizationSeal,
) -> ContractCommand {
    match initiate_with(organization_request(organization)) {
        ContractCommand::Initiate(mut command) => {
            command.seals = seals(seal);
            ContractCommand::Initiate(command)
        }
        _ => unreachable!("initiate_with builds an initiation"),
    }
}

fn payer_checks(link: &str, minutes: i64) -> Vec<ContractCommand> {
    vec![
        send_sms(PAYER, link, 43, minutes),
        verify_sms(PAYER, link, 43, minutes),
        face(
            PAYER,
            link,
            facts(VerificationStatus::Success, "李四", PAYER_ID),
            minutes,
        ),
    ]
}

fn without_drawing(command: ContractCommand) -> ContractCommand {
    match command {
        ContractCommand::Sign(mut sign) => {
            sign.signature_image = None;
            sign.signature_image_hash = None;
            ContractCommand::Sign(sign)
        }
        other => other,
    }
}

fn ready_to_sign(appearance: Option<&str>) -> ContractState {
    given(history(
        [
            vec![initiate_organization(
                organization(appearance),
                seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true),
            )],
            payer_checks("L1", 1),
        ]
        .concat(),
    ))
}

#[test]
fn an_organisation_signer_pins_the_seal_version_and_its_image() {
    let events = when(
        &ContractState::default(),
        initiate_organization(
            organization(None),
            seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true),
        ),
    )
    .unwrap();
    let ContractEvent::ContractInitiated { signers, .. } = &events[0] else {
        panic!("expected the initiation first, got {:?}", events[0]);
    };
    assert_eq!(signers[0].organization, None);
    assert_eq!(
        signers[1].organization,
        Some(OrganizationSigner {
            name: OrganizationName::parse(HEADQUARTERS).unwrap(),
            credit_code: CreditCode::parse(HEADQUARTERS_CODE).unwrap(),
            agent_role: AgentRole::AuthorizedAgent,
            appearance: SealAppearance::Seal,
            seal_id: SealId::parse(SEAL).unwrap(),
            seal_version: 2,
            seal_image_hash: digest(55),
        })
    );
    // The person who signs for it is still the signer's name, ID and mobile.
    assert_eq!(signers[1].name.expose().as_str(), "李四");
}

#[test]
fn a_wrong_credit_code_is_refused_naming_the_field_and_records_nothing() {
    let mut request = organization(None);
    request.credit_code = Some("91350100M000100Y44".into());
    let result = when(
        &ContractState::default(),
        initiate_organization(request, seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true)),
    );
    assert_eq!(
        invalid_fields(result),
        ["signers[1].organization.creditCode"]
    );
}

#[test]
fn the_seal_must_exist_be_active_and_belong_to_the_organisation() {
    let cases = [
        (
            seal_of(HEADQUARTERS_CODE, HEADQUARTERS, false),
            "signers[1].organization.sealId",
        ),
        (
            seal_of(STORE_CODE, "上海浦东店", true),
            "signers[1].organization.sealId",
        ),
        (
            seal_of(HEADQUARTERS_CODE, "另一家公司", true),
            "signers[1].organization.name",
        ),
    ];
    for (seal, field) in cases {
        let result = when(
            &ContractState::default(),
            initiate_organization(organization(None), seal),
        );
        assert_eq!(invalid_fields(result), [field]);
    }
    let unknown = when(
        &ContractState::default(),
        initiate_with(organization_request(organization(None))),
    );
    assert_eq!(invalid_fields(unknown), ["signers[1].organization.sealId"]);
}

#[test]
fn missing_and_unknown_organisation_fields_are_all_named() {
    let request = OrganizationRequest {
        name: None,
        credit_code: None,
        seal_id: None,
        agent_role: Some("BOSS".into()),
        appearance: Some("STAMP".into()),
    };
    let result = when(
        &ContractState::default(),
        initiate_organization(request, seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true)),
    );
    let mut fields = invalid_fields(result);
    fields.sort();
    assert_eq!(
        fields,
        [
            "signers[1].organization.agentRole",
            "signers[1].organization.appearance",
            "signers[1].organization.creditCode",
            "signers[1].organization.name",
            "signers[1].organization.sealId",
        ]
    );
}

#[test]
fn an_organisation_signs_with_face_and_sms_only() {
    let mut request = organization_request(organization(None));
    request.signers[1].sign_method = Some("CA_CERT".into());
    let command = match initiate_with(request) {
        ContractCommand::Initiate(mut command) => {
            command.seals = seals(seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true));
            ContractCommand::Initiate(command)
        }
        _ => unreachable!("initiate_with builds an initiation"),
    };
    assert_eq!(
        invalid_fields(when(&ContractState::default(), command)),
        ["signers[1].signMethod"]
    );
}

#[test]
fn an_organisation_with_its_seal_alone_signs_without_drawing() {
    let state = ready_to_sign(None);
    let events = when(&state, without_drawing(sign(PAYER, "L1", 2))).unwrap();
    let ContractEvent::SignerSigned {
        signature_image,
        signature_image_hash,
        ..
    } = &events[0]
    else {
        panic!("expected the signature first, got {:?}", events[0]);
    };
    assert_eq!((signature_image, signature_image_hash), (&None, &None));

    let drawn = when(&state, sign(PAYER, "L1", 2));
    assert_eq!(invalid_fields(drawn), ["signatureImage"]);
}

#[test]
fn a_seal_beside_a_handwritten_signature_needs_the_drawing() {
    let state = ready_to_sign(Some("SEAL_AND_HANDWRITTEN"));
    assert_eq!(
        invalid_fields(when(&state, without_drawing(sign(PAYER, "L1", 2)))),
        ["signatureImage"]
    );
    assert!(when(&state, sign(PAYER, "L1", 2)).is_ok());
}

#[test]
fn a_person_must_draw_their_signature() {
    let state = given(history(
        [vec![initiate()], checks(RECEIVER, "L0", 1)].concat(),
    ));
    assert_eq!(
        invalid_fields(when(&state, without_drawing(sign(RECEIVER, "L0", 2)))),
        ["signatureImage"]
    );
}

#[test]
fn an_organisation_signer_survives_the_round_trip_through_json() {
    let events = history([initiate_organization(
        organization(Some("SEAL_AND_HANDWRITTEN")),
        seal_of(HEADQUARTERS_CODE, HEADQUARTERS, true),
    )]);
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        let read: ContractEvent = serde_json::from_value(json).unwrap();
        assert_eq!(read, event);
    }
}
