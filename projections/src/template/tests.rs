//! The template projection, on streams made by the real Template aggregate.

use aggregates::template::*;
use aggregates::values::{ClientId, TemplateVersion};

use crate::testing::*;
use crate::{Row, SqlValue, Table, template_rows};

const TEMPLATE: &str = "TEMPLATE_COLLECTION_V1";

type Stream = Recorded<TemplateAggregate>;

fn request(version: &str, active: Option<bool>) -> TemplateRequest {
    TemplateRequest {
        template_id: Some(TEMPLATE.into()),
        name: Some("资金归集授权协议模板".into()),
        version: Some(version.into()),
        category: Some("RELATIONSHIP_AGREEMENT".into()),
        content_type: None,
        content: Some("<p>付款方: {{payerName}}</p>".into()),
        variable_definitions: vec![VariableDefinitionRequest {
            key: Some("payerName".into()),
            name: Some("付款方名称".into()),
            required: Some(true),
            sample: Some("XX科技有限公司".into()),
        }],
        signer_config: Some(SignerConfigRequest {
            min_signers: Some(1),
            max_signers: Some(2),
            default_sign_methods: Some(vec!["FACE_AND_SMS".into()]),
        }),
        active,
    }
}

fn publish(stream: &mut Stream, version: &str, active: Option<bool>, minutes: i64) {
    let command = TemplateCommand::Publish(PublishVersion {
        request: request(version, active),
        actor: ClientId::parse("admin").unwrap(),
        now: at(minutes),
    });
    stream.run(command, at(minutes));
}

fn rows(stream: &Stream) -> Vec<Row> {
    template_rows(&stream.projected()).unwrap()
}

fn version_row<'a>(rows: &'a [Row], version: &str) -> &'a Row {
    row(rows, Table::ContractTemplate, &[TEMPLATE, version])
}

#[test]
fn a_published_active_version_is_one_active_row() {
    let mut stream = Stream::new();
    publish(&mut stream, "1.0", None, 0);
    let rows = rows(&stream);
    assert_eq!(rows.len(), 1);
    let row = version_row(&rows, "1.0");
    assert!(
        row.values
            .iter()
            .map(|(name, _)| *name)
            .eq(Table::ContractTemplate.columns().iter().copied())
    );
    assert_eq!(value(row, "id"), &SqlValue::Integer(Stream::position(1)));
    assert_eq!(value(row, "name"), &text("资金归集授权协议模板"));
    assert_eq!(value(row, "category"), &text("RELATIONSHIP_AGREEMENT"));
    assert_eq!(value(row, "content_type"), &text("HTML"));
    assert_eq!(value(row, "content"), &text("<p>付款方: {{payerName}}</p>"));
    assert_eq!(
        value(row, "variable_definitions_json"),
        &text(
            r#"[{"key":"payerName","name":"付款方名称","required":true,"sample":"XX科技有限公司"}]"#
        )
    );
    assert_eq!(
        value(row, "signer_config_json"),
        &text(r#"{"defaultSignMethods":["FACE_AND_SMS"],"maxSigners":2,"minSigners":1}"#)
    );
    assert_eq!(value(row, "active"), &SqlValue::Bool(true));
    assert_eq!(value(row, "activation_order"), &SqlValue::Integer(1));
    assert_eq!(value(row, "created_by"), &text("admin"));
    assert_eq!(value(row, "updated_by"), &text("admin"));
    assert_eq!(value(row, "created_at"), &stream.recorded_at(1));
    assert_eq!(value(row, "updated_at"), &stream.recorded_at(2));
    // Published and activated: two events.
    assert_eq!(value(row, "stream_version"), &SqlValue::Integer(2));
}

#[test]
fn each_version_has_its_own_row_and_id_and_a_new_one_leaves_the_old_row_unchanged() {
    let mut stream = Stream::new();
    publish(&mut stream, "1.0", None, 0);
    publish(&mut stream, "2.0", Some(false), 10);
    let rows = rows(&stream);
    assert_eq!(rows.len(), 2);
    let first = version_row(&rows, "1.0");
    let second = version_row(&rows, "2.0");
    assert_eq!(value(second, "id"), &SqlValue::Integer(Stream::position(3)));
    assert_eq!(value(second, "active"), &SqlValue::Bool(false));
    assert_eq!(value(second, "activation_order"), &SqlValue::Null);
    assert_eq!(value(second, "created_at"), &stream.recorded_at(3));
    assert_eq!(value(first, "updated_at"), &stream.recorded_at(2));
    for row in &rows {
        assert_eq!(value(row, "stream_version"), &SqlValue::Integer(3));
    }
}

#[test]
fn deactivation_by_another_administrator_updates_active_and_updated_by() {
    let mut stream = Stream::new();
    publish(&mut stream, "1.0", None, 0);
    let command = TemplateCommand::Deactivate(ChangeActivation {
        version: TemplateVersion::parse("1.0").unwrap(),
        actor: ClientId::parse("ops").unwrap(),
        now: at(30),
    });
    stream.run(command, at(30));
    let rows = rows(&stream);
    let row = version_row(&rows, "1.0");
    assert_eq!(value(row, "active"), &SqlValue::Bool(false));
    assert_eq!(value(row, "activation_order"), &SqlValue::Null);
    assert_eq!(value(row, "created_by"), &text("admin"));
    assert_eq!(value(row, "updated_by"), &text("ops"));
    assert_eq!(value(row, "updated_at"), &stream.recorded_at(3));
    assert_eq!(value(row, "created_at"), &stream.recorded_at(1));
}

#[test]
fn the_latest_activation_has_the_highest_activation_order() {
    let mut stream = Stream::new();
    publish(&mut stream, "1.0", None, 0);
    publish(&mut stream, "2.0", None, 10);
    let rows = rows(&stream);
    assert_eq!(
        value(version_row(&rows, "1.0"), "activation_order"),
        &SqlValue::Integer(1)
    );
    assert_eq!(
        value(version_row(&rows, "2.0"), "activation_order"),
        &SqlValue::Integer(2)
    );
    assert_eq!(template_rows(&projected(&stream.reloaded())).unwrap(), rows);
}
