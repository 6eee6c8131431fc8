//! The SMS template projection, on streams made by the real SmsTemplate aggregate.

use aggregates::sms_template::*;
use aggregates::values::{ClientId, TemplateVersion};

use crate::testing::*;
use crate::{Row, SqlValue, Table, sms_template_rows};

const CODE: &str = "PAYMENT_VERIFY_NOTICE";

type Stream = Recorded<SmsTemplateAggregate>;

fn request(version: &str, active: Option<bool>) -> SmsTemplateRequest {
    SmsTemplateRequest {
        template_code: Some(CODE.into()),
        name: Some("打款验证通知".into()),
        version: Some(version.into()),
        content: Some("收到{amount}元验证打款".into()),
        variables: vec![SmsVariableRequest {
            key: Some("amount".into()),
            name: Some("金额".into()),
            max_length: None,
        }],
        active,
    }
}

fn admin() -> ClientId {
    ClientId::parse("admin").unwrap()
}

fn rows(stream: &Stream) -> Vec<Row> {
    sms_template_rows(&stream.projected()).unwrap()
}

#[test]
fn each_version_is_a_row_and_activation_moves_only_its_flags() {
    let mut stream = Stream::new();
    stream.run(
        SmsTemplateCommand::Publish(PublishSmsTemplate {
            request: request("1", None),
            actor: admin(),
            now: at(0),
        }),
        at(0),
    );
    stream.run(
        SmsTemplateCommand::Publish(PublishSmsTemplate {
            request: request("2", Some(false)),
            actor: admin(),
            now: at(1),
        }),
        at(1),
    );
    let rows_before = rows(&stream);
    assert_eq!(rows_before.len(), 2);
    let first = row(&rows_before, Table::SmsTemplate, &[CODE, "1"]);
    assert_eq!(value(first, "active"), &SqlValue::Bool(true));
    assert_eq!(value(first, "activation_order"), &SqlValue::Integer(1));
    assert_eq!(
        value(first, "variables_json"),
        &text(r#"[{"key":"amount","maxLength":32,"name":"金额"}]"#)
    );
    assert_eq!(value(first, "id"), &SqlValue::Integer(Stream::position(1)));
    let second = row(&rows_before, Table::SmsTemplate, &[CODE, "2"]);
    assert_eq!(value(second, "active"), &SqlValue::Bool(false));
    assert_eq!(value(second, "activation_order"), &SqlValue::Null);

    stream.run(
        SmsTemplateCommand::Deactivate(ChangeSmsTemplateActivation {
            version: TemplateVersion::parse("1").unwrap(),
            actor: ClientId::parse("ops").unwrap(),
            now: at(5),
        }),
        at(5),
    );
    let after = rows(&stream);
    let first = row(&after, Table::SmsTemplate, &[CODE, "1"]);
    assert_eq!(value(first, "active"), &SqlValue::Bool(false));
    assert_eq!(value(first, "updated_by"), &text("ops"));
    assert_eq!(value(first, "updated_at"), &stream.recorded_at(4));
    assert_eq!(value(first, "stream_version"), &SqlValue::Integer(4));
    let second = row(&after, Table::SmsTemplate, &[CODE, "2"]);
    assert_eq!(value(second, "updated_at"), &stream.recorded_at(3));
}

#[test]
fn a_rebuild_from_the_stored_payloads_gives_the_same_rows() {
    let mut stream = Stream::new();
    stream.run(
        SmsTemplateCommand::Publish(PublishSmsTemplate {
            request: request("1", None),
            actor: admin(),
            now: at(0),
        }),
        at(0),
    );
    let reloaded = stream.reloaded();
    assert_eq!(
        sms_template_rows(&projected(&reloaded)).unwrap(),
        rows(&stream)
    );
}
