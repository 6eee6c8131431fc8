//! Given/when/then tests of the Seal aggregate.

use super::*;
use crate::testing::{at, given, history, then, types, when};

const CODE: &str = "91350100M000100Y43";
const SEAL: &str = "SEAL_20250601A1B2C3D4";

fn seal_id() -> SealId {
    SealId::parse(SEAL).unwrap()
}

fn organization() -> OrganizationFacts {
    OrganizationFacts {
        credit_code: CreditCode::parse(CODE).unwrap(),
        name: OrganizationName::parse("天财商龙科技有限公司").unwrap(),
    }
}

fn image(byte: char) -> SealImage {
    SealImage {
        hash: Digest::parse(&byte.to_string().repeat(64)).unwrap(),
        width: 600,
        height: 600,
        byte_length: 40_000,
        source: SealImageSource::Drawn,
    }
}

fn create(minutes: i64) -> SealCommand {
    SealCommand::Create(CreateSeal {
        seal_id: seal_id(),
        credit_code: CODE.into(),
        organization: Some(organization()),
        kind: "CONTRACT".into(),
        name: "合同专用章".into(),
        image: image('a'),
        operator: "ops_zhang".into(),
        now: at(minutes),
    })
}

fn add_version(byte: char, minutes: i64) -> SealCommand {
    SealCommand::AddVersion(AddSealVersion {
        seal_id: seal_id(),
        image: image(byte),
        operator: "ops_li".into(),
        now: at(minutes),
    })
}

fn switch(minutes: i64) -> SwitchSeal {
    SwitchSeal {
        seal_id: seal_id(),
        operator: "ops_zhang".into(),
        reason: "印章遗失".into(),
        now: at(minutes),
    }
}

#[test]
fn a_seal_is_created_active_with_version_1_of_its_picture() {
    let state = given(Vec::<SealEvent>::new());
    then(
        when(&state, create(0)),
        Ok(vec![SealEvent::Created {
            seal_id: seal_id(),
            credit_code: CreditCode::parse(CODE).unwrap(),
            organization_name: OrganizationName::parse("天财商龙科技有限公司").unwrap(),
            kind: SealKind::Contract,
            name: SealName::parse("合同专用章").unwrap(),
            version: 1,
            image: image('a'),
            operator: Operator::parse("ops_zhang").unwrap(),
            created_at: at(0),
        }]),
    );
    let created = given(history([create(0)]));
    let facts = created.facts().unwrap();
    assert!(facts.active);
    assert_eq!(facts.version, 1);
    assert_eq!(facts.kind, SealKind::Contract);
    assert_eq!(facts.image_hash, image('a').hash);
}

#[test]
fn a_seal_of_an_unknown_organisation_is_refused() {
    let state = given(Vec::<SealEvent>::new());
    let SealCommand::Create(mut command) = create(0) else {
        unreachable!()
    };
    command.organization = None;
    let refused = when(&state, SealCommand::Create(command.clone())).unwrap_err();
    assert_eq!(
        refused,
        SealError::UnknownOrganization(CreditCode::parse(CODE).unwrap())
    );
    assert_eq!(refused.kind(), ErrorKind::NotFound);
    // Facts of another organisation than the one named are no organisation either.
    command.organization = Some(OrganizationFacts {
        credit_code: CreditCode::parse("91110000802100433B").unwrap(),
        ..organization()
    });
    assert!(matches!(
        when(&state, SealCommand::Create(command)),
        Err(SealError::UnknownOrganization(_))
    ));
}

#[test]
fn every_bad_field_of_a_new_seal_is_named_together() {
    let state = given(Vec::<SealEvent>::new());
    let refused = when(
        &state,
        SealCommand::Create(CreateSeal {
            credit_code: "9135".into(),
            kind: "PERSONAL".into(),
            name: "".into(),
            operator: " ".into(),
            ..match create(0) {
                SealCommand::Create(command) => command,
                _ => unreachable!(),
            }
        }),
    )
    .unwrap_err();
    let SealError::Invalid(errors) = &refused else {
        panic!("{refused:?}");
    };
    for field in ["creditCode", "kind", "name", "operator"] {
        assert!(errors.names(field), "{field}: {errors}");
    }
}

#[test]
fn creating_a_seal_twice_is_a_conflict() {
    let state = given(history([create(0)]));
    let refused = when(&state, create(1)).unwrap_err();
    assert_eq!(refused, SealError::AlreadyExists(seal_id()));
    assert_eq!(refused.kind(), ErrorKind::Conflict);
}

#[test]
fn a_new_version_follows_the_current_one_and_becomes_current() {
    let state = given(history([create(0), add_version('b', 5)]));
    then(
        when(&state, add_version('c', 9)),
        Ok(vec![SealEvent::VersionAdded {
            seal_id: seal_id(),
            version: 3,
            image: image('c'),
            operator: Operator::parse("ops_li").unwrap(),
            added_at: at(9),
        }]),
    );
    let seal = state.seal().unwrap();
    assert_eq!(seal.current().version, 2);
    // Earlier versions stay as they were.
    assert_eq!(seal.version(1).unwrap().image, image('a'));
    assert_eq!(state.facts().unwrap().image_hash, image('b').hash);
}

#[test]
fn a_version_with_the_current_picture_is_refused() {
    let state = given(history([create(0), add_version('b', 5)]));
    let refused = when(&state, add_version('b', 6)).unwrap_err();
    assert_eq!(
        refused,
        SealError::SamePicture {
            seal_id: seal_id(),
            version: 2
        }
    );
    // Going back to an older picture is a new version like any other.
    assert!(when(&state, add_version('a', 6)).is_ok());
}

#[test]
fn commands_on_a_seal_that_does_not_exist_are_not_found() {
    let state = given(Vec::<SealEvent>::new());
    for command in [
        add_version('b', 0),
        SealCommand::Deactivate(switch(0)),
        SealCommand::Activate(switch(0)),
    ] {
        let refused = when(&state, command).unwrap_err();
        assert_eq!(refused, SealError::UnknownSeal(seal_id()));
        assert_eq!(refused.kind(), ErrorKind::NotFound);
    }
}

#[test]
fn deactivating_records_operator_and_reason_and_the_facts_say_inactive() {
    let state = given(history([create(0)]));
    then(
        when(&state, SealCommand::Deactivate(switch(3))),
        Ok(vec![SealEvent::Deactivated {
            seal_id: seal_id(),
            operator: Operator::parse("ops_zhang").unwrap(),
            reason: Reason::parse("印章遗失").unwrap(),
            deactivated_at: at(3),
        }]),
    );
    let deactivated = given(history([create(0), SealCommand::Deactivate(switch(3))]));
    assert!(!deactivated.facts().unwrap().active);
    // A deactivated seal still gets versions, and stays deactivated.
    let versioned = given(history([
        create(0),
        SealCommand::Deactivate(switch(3)),
        add_version('b', 4),
    ]));
    assert!(matches!(versioned, SealState::Deactivated(_)));
    assert_eq!(versioned.facts().unwrap().version, 2);
}

#[test]
fn switching_to_the_state_a_seal_is_in_is_refused() {
    let active = given(history([create(0)]));
    let refused = when(&active, SealCommand::Activate(switch(1))).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert!(refused.to_string().contains("active already"), "{refused}");

    let deactivated = given(history([create(0), SealCommand::Deactivate(switch(1))]));
    let refused = when(&deactivated, SealCommand::Deactivate(switch(2))).unwrap_err();
    assert!(
        refused.to_string().contains("deactivated already"),
        "{refused}"
    );
    let reactivated = given(history([
        create(0),
        SealCommand::Deactivate(switch(1)),
        SealCommand::Activate(switch(2)),
    ]));
    assert!(reactivated.is_active());
}

#[test]
fn a_switch_needs_an_operator_and_a_reason() {
    let state = given(history([create(0)]));
    let refused = when(
        &state,
        SealCommand::Deactivate(SwitchSeal {
            operator: "".into(),
            reason: " ".into(),
            ..switch(1)
        }),
    )
    .unwrap_err();
    let SealError::Invalid(errors) = &refused else {
        panic!("{refused:?}");
    };
    assert!(
        errors.names("operator") && errors.names("reason"),
        "{errors}"
    );
}

#[test]
fn a_command_for_another_seal_is_refused_in_this_stream() {
    let state = given(history([create(0)]));
    let refused = when(
        &state,
        SealCommand::Deactivate(SwitchSeal {
            seal_id: SealId::parse("SEAL_OTHER").unwrap(),
            ..switch(1)
        }),
    )
    .unwrap_err();
    assert!(matches!(refused, SealError::WrongStream { .. }));
}

#[test]
fn seal_events_are_camel_case_and_read_back() {
    let events = history([
        create(0),
        add_version('b', 1),
        SealCommand::Deactivate(switch(2)),
        SealCommand::Activate(switch(3)),
    ]);
    assert_eq!(
        types(&events),
        [
            "SealCreated",
            "SealVersionAdded",
            "SealDeactivated",
            "SealActivated"
        ]
    );
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["organizationName"], "天财商龙科技有限公司");
    assert_eq!(json["kind"], "CONTRACT");
    assert_eq!(json["image"]["byteLength"], 40_000);
    assert_eq!(json["image"]["source"], "DRAWN");
    for event in &events {
        let back: SealEvent = serde_json::from_value(serde_json::to_value(event).unwrap()).unwrap();
        assert_eq!(&back, event);
    }
}
