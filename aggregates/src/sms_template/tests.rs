//! Given/when/then tests of the SmsTemplate aggregate.

use super::*;
use crate::testing::{at, given, history, then, types, when};
use std::collections::{BTreeMap, BTreeSet};

const CODE: &str = "PAYMENT_VERIFY_NOTICE";
const CONTENT: &str = "您的账户收到一笔{amount}元的验证打款，请核对备注码{remarkCode}后完成验证。";

fn admin() -> ClientId {
    ClientId::parse("admin").unwrap()
}

fn request(version: &str, content: &str) -> SmsTemplateRequest {
    SmsTemplateRequest {
        template_code: Some(CODE.into()),
        name: Some("打款验证通知".into()),
        version: Some(version.into()),
        content: Some(content.into()),
        variables: vec![
            SmsVariableRequest {
                key: Some("amount".into()),
                name: Some("打款金额".into()),
                max_length: Some(12),
            },
            SmsVariableRequest {
                key: Some("remarkCode".into()),
                name: Some("备注码".into()),
                max_length: None,
            },
        ],
        active: None,
    }
}

fn publish(request: SmsTemplateRequest, minutes: i64) -> SmsTemplateCommand {
    SmsTemplateCommand::Publish(PublishSmsTemplate {
        request,
        actor: admin(),
        now: at(minutes),
    })
}

fn change(version: &str, minutes: i64) -> ChangeSmsTemplateActivation {
    ChangeSmsTemplateActivation {
        version: TemplateVersion::parse(version).unwrap(),
        actor: admin(),
        now: at(minutes),
    }
}

fn current(state: &SmsTemplateState) -> Option<String> {
    state
        .template()
        .and_then(SmsTemplate::current_version)
        .map(|version| version.version.to_string())
}

#[test]
fn a_first_publication_creates_an_active_version() {
    let events = when(
        &SmsTemplateState::default(),
        publish(request("1", CONTENT), 0),
    )
    .unwrap();
    assert_eq!(
        types(&events),
        vec!["SmsTemplateVersionPublished", "SmsTemplateVersionActivated"]
    );
    let state = given(events);
    let template = state.template().unwrap();
    let facts = template.facts(template.current_version().unwrap());
    assert!(facts.active);
    assert_eq!(facts.variables[0].max_length, 12);
    assert_eq!(facts.variables[1].max_length, DEFAULT_MAX_LENGTH);
}

#[test]
fn a_version_published_inactive_is_not_current_until_activated() {
    let mut inactive = request("1", CONTENT);
    inactive.active = Some(false);
    let state = given(history(vec![publish(inactive, 0)]));
    assert_eq!(current(&state), None);
    let activated = given(history(vec![
        publish(
            SmsTemplateRequest {
                active: Some(false),
                ..request("1", CONTENT)
            },
            0,
        ),
        SmsTemplateCommand::Activate(change("1", 1)),
    ]));
    assert_eq!(current(&activated), Some("1".into()));
}

#[test]
fn the_latest_activated_version_is_current_and_deactivating_it_rolls_back() {
    let state = given(history(vec![
        publish(request("1", CONTENT), 0),
        publish(request("2", &format!("【验证】{CONTENT}")), 1),
    ]));
    assert_eq!(current(&state), Some("2".into()));
    let rolled_back = given(history(vec![
        publish(request("1", CONTENT), 0),
        publish(request("2", &format!("【验证】{CONTENT}")), 1),
        SmsTemplateCommand::Deactivate(change("2", 2)),
    ]));
    assert_eq!(current(&rolled_back), Some("1".into()));
}

#[test]
fn a_published_version_never_changes_but_an_identical_retry_is_accepted() {
    let state = given(history(vec![publish(request("1", CONTENT), 0)]));
    then(when(&state, publish(request("1", CONTENT), 1)), Ok(vec![]));
    assert!(matches!(
        when(
            &state,
            publish(request("1", "金额{amount}，备注{remarkCode}"), 1)
        ),
        Err(SmsTemplateError::VersionImmutable { .. })
    ));
}

#[test]
fn activation_changes_are_idempotent_and_need_an_existing_version() {
    let state = given(history(vec![publish(request("1", CONTENT), 0)]));
    then(
        when(&state, SmsTemplateCommand::Activate(change("1", 1))),
        Ok(vec![]),
    );
    then(
        when(&state, SmsTemplateCommand::Deactivate(change("9", 1))),
        Err(SmsTemplateError::VersionNotFound(
            TemplateVersion::parse("9").unwrap(),
        )),
    );
    then(
        when(
            &SmsTemplateState::default(),
            SmsTemplateCommand::Activate(change("1", 1)),
        ),
        Err(SmsTemplateError::TemplateNotFound),
    );
}

#[test]
fn every_invalid_field_is_named() {
    let bad = SmsTemplateRequest {
        template_code: Some("bad code".into()),
        name: None,
        version: Some("1".into()),
        content: Some("金额{amount}，{unknown}".into()),
        variables: vec![
            SmsVariableRequest {
                key: Some("amount".into()),
                name: Some("金额".into()),
                max_length: Some(0),
            },
            SmsVariableRequest {
                key: Some("amount".into()),
                name: Some("金额".into()),
                max_length: None,
            },
        ],
        active: None,
    };
    let Err(SmsTemplateError::Invalid(errors)) =
        when(&SmsTemplateState::default(), publish(bad, 0))
    else {
        panic!("expected validation errors");
    };
    for field in [
        "templateCode",
        "name",
        "variables[0].maxLength",
        "variables[1].key",
    ] {
        assert!(errors.names(field), "{field}: {errors}");
    }
}

#[test]
fn placeholders_must_be_declared_and_declared_variables_used() {
    let mut request = request("1", "金额{amount}，{unknown}");
    let Err(SmsTemplateError::Invalid(errors)) =
        when(&SmsTemplateState::default(), publish(request.clone(), 0))
    else {
        panic!("expected validation errors");
    };
    assert!(errors.names("content"));
    assert!(errors.names("variables[1].key"), "{errors}");
    request.content = Some("金额{amount".into());
    assert!(matches!(
        when(&SmsTemplateState::default(), publish(request, 0)),
        Err(SmsTemplateError::Invalid(errors)) if errors.names("content")
    ));
}

#[test]
fn render_fills_every_placeholder_and_reports_the_missing_ones() {
    let values = BTreeMap::from([
        ("amount".to_owned(), "0.12".to_owned()),
        ("remarkCode".to_owned(), "{amount}".to_owned()),
    ]);
    assert_eq!(
        render("金额{amount}，备注{remarkCode}", &values).unwrap(),
        "金额0.12，备注{amount}"
    );
    assert_eq!(
        render("{amount}{other}", &values),
        Err(vec!["other".to_owned()])
    );
    assert_eq!(
        placeholders("a {x} b {y} {x}").unwrap(),
        BTreeSet::from(["x".to_owned(), "y".to_owned()])
    );
    assert!(placeholders("a } b").is_err());
    assert!(placeholders("a {1x} b").is_err());
}

#[test]
fn events_round_trip_through_json() {
    let events = when(
        &SmsTemplateState::default(),
        publish(request("1", CONTENT), 0),
    )
    .unwrap();
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.event_type());
        assert_eq!(
            serde_json::from_value::<SmsTemplateEvent>(json).unwrap(),
            event
        );
    }
}
