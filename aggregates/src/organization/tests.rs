//! Given/when/then tests of the Organization aggregate.

use super::*;
use crate::testing::{at, given, history, then, types, when};

/// A code printed on a real business licence (a public register).
const CODE: &str = "91350100M000100Y43";
const NAME: &str = "天财商龙科技有限公司";

fn register(code: &str, name: &str, minutes: i64) -> OrganizationCommand {
    OrganizationCommand::Register(RegisterOrganization {
        credit_code: code.into(),
        name: name.into(),
        client_id: ClientId::parse("admin").unwrap(),
        operator: "ops_zhang".into(),
        now: at(minutes),
    })
}

#[test]
fn a_first_registration_records_code_name_client_operator_and_time() {
    let state = given(Vec::<OrganizationEvent>::new());
    then(
        when(&state, register(CODE, NAME, 0)),
        Ok(vec![OrganizationEvent::Registered {
            credit_code: CreditCode::parse(CODE).unwrap(),
            name: OrganizationName::parse(NAME).unwrap(),
            client_id: ClientId::parse("admin").unwrap(),
            operator: Operator::parse("ops_zhang").unwrap(),
            registered_at: at(0),
        }]),
    );
}

#[test]
fn registering_again_under_the_same_name_changes_nothing() {
    let state = given(history([register(CODE, NAME, 0)]));
    then(when(&state, register(CODE, NAME, 5)), Ok(Vec::new()));
    // The lower-case spelling of the code is the same code.
    then(
        when(&state, register(&CODE.to_lowercase(), NAME, 5)),
        Ok(Vec::new()),
    );
    assert_eq!(state.organization().unwrap().registered_at, at(0));
}

#[test]
fn registering_again_under_another_name_is_a_conflict_naming_both() {
    let state = given(history([register(CODE, NAME, 0)]));
    let refused = when(&state, register(CODE, "另一家公司", 5)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict);
    assert!(matches!(refused, OrganizationError::NameConflict { .. }));
    let message = refused.to_string();
    assert!(
        message.contains(NAME) && message.contains("另一家公司"),
        "{message}"
    );
}

#[test]
fn every_bad_field_is_named_together() {
    let state = given(Vec::<OrganizationEvent>::new());
    let refused = when(
        &state,
        OrganizationCommand::Register(RegisterOrganization {
            credit_code: "91350100M000100Y44".into(),
            name: " ".into(),
            client_id: ClientId::parse("admin").unwrap(),
            operator: "".into(),
            now: at(0),
        }),
    )
    .unwrap_err();
    let OrganizationError::Invalid(errors) = &refused else {
        panic!("{refused:?}");
    };
    for field in ["creditCode", "name", "operator"] {
        assert!(errors.names(field), "{field}: {errors}");
    }
    assert_eq!(refused.kind(), ErrorKind::Validation);
}

#[test]
fn a_registration_is_one_camel_case_event_that_reads_back() {
    let events = history([register(CODE, NAME, 0), register(CODE, NAME, 1)]);
    assert_eq!(types(&events), ["OrganizationRegistered"]);
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(json["creditCode"], CODE);
    assert_eq!(json["name"], NAME);
    assert_eq!(json["clientId"], "admin");
    let back: OrganizationEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, events[0]);
}
