//! Given/when/then tests of the Template aggregate.

use std::collections::BTreeMap;

use super::*;
use crate::testing::{at, given, history, t0, then, types, when};

fn admin() -> ClientId {
    ClientId::parse("admin").unwrap()
}

fn version(label: &str) -> TemplateVersion {
    TemplateVersion::parse(label).unwrap()
}

fn request(label: &str, content: &str) -> TemplateRequest {
    TemplateRequest {
        template_id: Some("TEMPLATE_COLLECTION_V1".into()),
        name: Some("资金归集授权协议模板".into()),
        version: Some(label.into()),
        category: Some("RELATIONSHIP_AGREEMENT".into()),
        content_type: None,
        content: Some(content.into()),
        variable_definitions: vec![
            VariableDefinitionRequest {
                key: Some("payerName".into()),
                name: Some("付款方名称".into()),
                required: Some(true),
                sample: Some("XX科技有限公司".into()),
            },
            VariableDefinitionRequest {
                key: Some("note".into()),
                name: Some("备注".into()),
                required: None,
                sample: None,
            },
        ],
        signer_config: Some(SignerConfigRequest {
            min_signers: Some(1),
            max_signers: Some(2),
            default_sign_methods: Some(vec!["FACE_AND_SMS".into()]),
        }),
        active: None,
    }
}

const CONTENT: &str = "<p>付款方: {{payerName}} {{note}}</p>";

fn publish(request: TemplateRequest) -> TemplateCommand {
    TemplateCommand::Publish(PublishVersion {
        request,
        actor: admin(),
        now: t0(),
    })
}

fn activation(label: &str, minutes: i64) -> ChangeActivation {
    ChangeActivation {
        version: version(label),
        actor: admin(),
        now: at(minutes),
    }
}

fn invalid_fields(result: Result<Vec<TemplateEvent>, TemplateError>) -> Vec<String> {
    match result {
        Err(TemplateError::Invalid(errors)) => errors
            .fields()
            .iter()
            .map(|error| error.field.clone())
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn publishing_a_new_template_emits_published_then_activated() {
    let events = when(&TemplateState::default(), publish(request("1.0", CONTENT))).unwrap();
    assert_eq!(
        types(&events),
        vec!["TemplateVersionPublished", "TemplateVersionActivated"]
    );
    let state = TemplateAggregate::replay(&events);
    let template = state.template().unwrap();
    let published = template.version(&version("1.0")).unwrap();
    assert!(published.is_active());
    assert_eq!(published.content.content_type, ContentType::Html);
    assert_eq!(published.content.variable_definitions.len(), 2);
    assert!(!published.content.variable_definitions[1].required);
}

#[test]
fn a_version_published_inactive_stays_inactive() {
    let mut inactive = request("1.0", CONTENT);
    inactive.active = Some(false);
    let events = when(&TemplateState::default(), publish(inactive)).unwrap();
    assert_eq!(types(&events), vec!["TemplateVersionPublished"]);
    let state = TemplateAggregate::replay(&events);
    assert!(state.template().unwrap().current_version().is_none());
}

#[test]
fn republishing_a_version_with_the_same_content_is_a_no_op() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    then(when(&state, publish(request("1.0", CONTENT))), Ok(vec![]));
}

#[test]
fn republishing_the_same_content_as_inactive_only_deactivates() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    let mut inactive = request("1.0", CONTENT);
    inactive.active = Some(false);
    let events = when(&state, publish(inactive)).unwrap();
    assert_eq!(types(&events), vec!["TemplateVersionDeactivated"]);
}

#[test]
fn republishing_a_version_with_different_content_is_a_conflict() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    let changed = request("1.0", "<p>{{payerName}} changed</p>");
    then(
        when(&state, publish(changed)),
        Err(TemplateError::Conflict(
            TemplateConflict::VersionImmutable {
                template_id: TemplateId::parse("TEMPLATE_COLLECTION_V1").unwrap(),
                version: version("1.0"),
            },
        )),
    );
}

#[test]
fn a_new_version_is_published_beside_the_old_one_which_keeps_its_content() {
    let state = given(history(vec![
        publish(request("1.0", CONTENT)),
        publish(request("2.0", "<p>v2 {{payerName}}</p>")),
    ]));
    let template = state.template().unwrap();
    assert_eq!(template.versions.len(), 2);
    assert_eq!(
        template.version(&version("1.0")).unwrap().content.content,
        CONTENT
    );
    assert_eq!(template.current_version().unwrap().version, version("2.0"));
}

#[test]
fn the_current_version_is_the_most_recently_activated_one() {
    let state = given(history(vec![
        publish(request("1.0", CONTENT)),
        publish(request("2.0", "<p>v2 {{payerName}}</p>")),
        TemplateCommand::Deactivate(activation("1.0", 1)),
        TemplateCommand::Activate(activation("1.0", 2)),
    ]));
    assert_eq!(
        state.template().unwrap().current_version().unwrap().version,
        version("1.0")
    );
}

#[test]
fn activating_an_active_version_or_deactivating_an_inactive_one_is_a_no_op() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    then(
        when(&state, TemplateCommand::Activate(activation("1.0", 1))),
        Ok(vec![]),
    );
    let state = given(history(vec![
        publish(request("1.0", CONTENT)),
        TemplateCommand::Deactivate(activation("1.0", 1)),
    ]));
    then(
        when(&state, TemplateCommand::Deactivate(activation("1.0", 2))),
        Ok(vec![]),
    );
}

#[test]
fn activating_an_unknown_version_or_template_is_not_found() {
    then(
        when(
            &TemplateState::default(),
            TemplateCommand::Activate(activation("1.0", 0)),
        ),
        Err(TemplateError::NotFound(TemplateNotFound::Template)),
    );
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    then(
        when(&state, TemplateCommand::Deactivate(activation("9.9", 0))),
        Err(TemplateError::NotFound(TemplateNotFound::Version(version(
            "9.9",
        )))),
    );
}

#[test]
fn a_stream_refuses_a_publication_for_another_template() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    let mut other = request("1.0", CONTENT);
    other.template_id = Some("OTHER".into());
    assert!(matches!(
        when(&state, publish(other)),
        Err(TemplateError::Conflict(
            TemplateConflict::WrongTemplate { .. }
        ))
    ));
}

#[test]
fn a_publication_names_every_invalid_field() {
    let mut bad = request("1 0", CONTENT);
    bad.template_id = None;
    bad.content_type = Some("PDF".into());
    bad.variable_definitions.push(VariableDefinitionRequest {
        key: Some("payerName".into()),
        name: Some("again".into()),
        required: Some(true),
        sample: None,
    });
    bad.variable_definitions
        .push(VariableDefinitionRequest::default());
    bad.signer_config = Some(SignerConfigRequest {
        min_signers: Some(0),
        max_signers: Some(2),
        default_sign_methods: Some(vec!["PEN".into()]),
    });
    assert_eq!(
        invalid_fields(when(&TemplateState::default(), publish(bad))),
        vec![
            "templateId",
            "version",
            "contentType",
            "variableDefinitions[2].key",
            "variableDefinitions[3].key",
            "variableDefinitions[3].name",
            "signerConfig.minSigners",
            "signerConfig.defaultSignMethods[0]",
        ]
    );
}

#[test]
fn a_signer_config_with_max_below_min_is_refused() {
    let mut bad = request("1.0", CONTENT);
    bad.signer_config = Some(SignerConfigRequest {
        min_signers: Some(3),
        max_signers: Some(2),
        default_sign_methods: None,
    });
    assert_eq!(
        invalid_fields(when(&TemplateState::default(), publish(bad))),
        vec!["signerConfig.maxSigners"]
    );
}

#[test]
fn placeholders_without_a_definition_are_refused_by_name() {
    let bad = request("1.0", "<p>{{payerName}} {{receiverName}}</p>");
    match when(&TemplateState::default(), publish(bad)) {
        Err(TemplateError::Invalid(errors)) => {
            assert_eq!(errors.fields().len(), 1);
            assert_eq!(errors.fields()[0].field, "content");
            assert!(errors.fields()[0].reason.contains("receiverName"));
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn component_json_content_is_inferred_and_must_be_json() {
    let json = request("1.0", r#"{"components":[{"text":"{{payerName}}"}]}"#);
    let events = when(&TemplateState::default(), publish(json)).unwrap();
    assert!(matches!(
        &events[0],
        TemplateEvent::Published {
            content_type: ContentType::ComponentJson,
            ..
        }
    ));
    let mut broken = request("1.0", "{\"components\": [");
    broken.content_type = Some("COMPONENT_JSON".into());
    assert_eq!(
        invalid_fields(when(&TemplateState::default(), publish(broken))),
        vec!["content"]
    );
}

#[test]
fn facts_tell_a_contract_whether_the_version_is_active() {
    let state = given(history(vec![
        publish(request("1.0", CONTENT)),
        TemplateCommand::Deactivate(activation("1.0", 1)),
    ]));
    let template = state.template().unwrap();
    let facts = template.facts(template.version(&version("1.0")).unwrap());
    assert!(!facts.active);
    assert_eq!(facts.signer_config.max_signers(), 2);
    assert_eq!(
        facts.signer_config.default_sign_method(),
        SignMethod::FaceAndSms
    );
}

#[test]
fn the_preview_renders_optional_variables_left_out_as_nothing() {
    let state = given(history(vec![publish(request("1.0", CONTENT))]));
    let published = state.template().unwrap().current_version().unwrap();
    let variables = BTreeMap::from([("payerName".to_string(), "XX总部".to_string())]);
    assert_eq!(
        published.render_preview(&variables).unwrap(),
        "<p>付款方: XX总部 </p>"
    );
}

#[test]
fn events_carry_their_type_name_in_json_and_read_back_alone() {
    let events = history(vec![
        publish(request("1.0", CONTENT)),
        TemplateCommand::Deactivate(activation("1.0", 1)),
    ]);
    for event in &events {
        let json = serde_json::to_value(event).unwrap();
        assert_eq!(json["type"], serde_json::json!(event.event_type()));
        assert_eq!(event.schema_version(), 1);
        let back: TemplateEvent = serde_json::from_value(json).unwrap();
        assert_eq!(&back, event);
    }
    let json = serde_json::to_value(&events[0]).unwrap();
    assert_eq!(
        json["signerConfig"]["defaultSignMethods"],
        serde_json::json!(["FACE_AND_SMS"])
    );
    assert_eq!(
        json["variableDefinitions"][0]["key"],
        serde_json::json!("payerName")
    );
    assert_eq!(json["publishedBy"], serde_json::json!("admin"));
}

#[test]
fn signature_places_for_known_party_types_are_published() {
    let html = request(
        "1.0",
        "<p>{{payerName}}</p><esign-signature party-type=\"PAYER\"></esign-signature>",
    );
    assert!(when(&TemplateState::default(), publish(html)).is_ok());
    let json = request(
        "1.0",
        r#"{"components":[{"type":"signature","partyType":"RECEIVER"}]}"#,
    );
    assert!(when(&TemplateState::default(), publish(json)).is_ok());
}

#[test]
fn a_signature_place_with_an_unknown_party_type_is_refused_on_content() {
    for content in [
        "<p>{{payerName}}</p><esign-signature party-type=\"GUARANTOR\"></esign-signature>",
        r#"{"components":[{"type":"signature","partyType":"GUARANTOR"}]}"#,
    ] {
        match when(&TemplateState::default(), publish(request("1.0", content))) {
            Err(TemplateError::Invalid(errors)) => {
                assert_eq!(errors.fields().len(), 1, "{errors:?}");
                assert_eq!(errors.fields()[0].field, "content");
                assert!(errors.fields()[0].reason.contains("GUARANTOR"));
                assert!(errors.fields()[0].reason.contains("RECEIVER | PAYER"));
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}

#[test]
fn a_party_type_marked_twice_is_refused_on_content() {
    let twice = request(
        "1.0",
        "<esign-signature party-type=\"PAYER\"></esign-signature><p>{{payerName}}</p>\
         <esign-signature party-type=\"PAYER\"></esign-signature>",
    );
    match when(&TemplateState::default(), publish(twice)) {
        Err(TemplateError::Invalid(errors)) => {
            assert_eq!(errors.fields()[0].field, "content");
            assert!(errors.fields()[0].reason.contains("more than once"));
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}
