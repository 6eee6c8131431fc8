//! The notice projection, on streams made by the real SmsNotice aggregate.

use std::collections::BTreeMap;

use aggregates::sms_notice::*;
use aggregates::sms_template::{SmsContent, SmsTemplateFacts, SmsVariable};
use aggregates::template::VariableKey;
use aggregates::values::{
    ClientId, DisplayName, LongText, ProviderName, Reason, TemplateId, TemplateVersion,
};
use chrono::TimeDelta;
use serde_json::json;

use crate::testing::*;
use crate::{Row, SqlValue, Table, sms_notice_rows};

const NOTICE: &str = "SMS_NOTICE_1";

type Stream = Recorded<SmsNoticeAggregate>;

fn requested() -> Stream {
    let mut stream = Stream::new();
    stream.run(
        SmsNoticeCommand::Request(RequestNotice {
            notice_id: NoticeId::parse(NOTICE).unwrap(),
            client_id: ClientId::parse("auth").unwrap(),
            request: NoticeRequest {
                biz_id: Some("PAY_1".into()),
                biz_type: Some("PAYMENT_VERIFICATION".into()),
                template_code: Some("PAY_NOTICE".into()),
                template_version: None,
                mobile: Some("13800138000".into()),
                variables: BTreeMap::from([("remarkCode".to_owned(), json!("A1B2"))]),
            },
            template: Some(SmsTemplateFacts {
                template_code: TemplateId::parse("PAY_NOTICE").unwrap(),
                version: TemplateVersion::parse("1").unwrap(),
                active: true,
                content: SmsContent::parse("备注码{remarkCode}").unwrap(),
                variables: vec![SmsVariable {
                    key: VariableKey::parse("remarkCode").unwrap(),
                    name: DisplayName::parse("备注码").unwrap(),
                    max_length: 8,
                }],
            }),
            now: at(0),
        }),
        at(0),
    );
    stream
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: TimeDelta::minutes(1),
    }
}

fn sender() -> ProviderName {
    ProviderName::parse("message-centre").unwrap()
}

fn rows(stream: &Stream) -> Vec<Row> {
    sms_notice_rows(&stream.projected()).unwrap()
}

fn the_row(rows: &[Row]) -> &Row {
    row(rows, Table::SmsNotice, &[NOTICE])
}

#[test]
fn a_requested_notice_is_one_row_with_the_mobile_sealed_and_no_variable_values() {
    let stream = requested();
    let rows = rows(&stream);
    let notice = the_row(&rows);
    assert_eq!(value(notice, "status"), &text("REQUESTED"));
    assert_eq!(value(notice, "attempts"), &SqlValue::Integer(1));
    assert_eq!(value(notice, "attempt_started_at"), &time(at(0)));
    assert!(
        value(notice, "mobile")
            .as_text()
            .unwrap()
            .starts_with(r#"{"$pii":{"#)
    );
    assert!(value(notice, "mobile_hash").as_text().is_some());
    assert_no_plaintext(&rows, &["13800138000", "A1B2"]);
}

#[test]
fn a_failure_then_a_retry_then_success_show_in_the_row() {
    let mut stream = requested();
    stream.run(
        SmsNoticeCommand::RecordDelivery(RecordDelivery {
            attempt: 1,
            outcome: DeliveryOutcome::Failed {
                sender: sender(),
                reason: Reason::parse("message centre answered 503").unwrap(),
                retryable: true,
            },
            policy: policy(),
            now: at(1),
        }),
        at(1),
    );
    let failed = rows(&stream);
    let notice = the_row(&failed);
    assert_eq!(value(notice, "status"), &text("FAILED"));
    assert_eq!(value(notice, "retryable"), &SqlValue::Bool(true));
    assert_eq!(value(notice, "next_attempt_at"), &time(at(2)));
    assert_eq!(value(notice, "sender"), &text("message-centre"));
    assert_eq!(value(notice, "attempt_started_at"), &SqlValue::Null);

    stream.run(
        SmsNoticeCommand::StartAttempt(StartAttempt {
            attempt: 2,
            lease: TimeDelta::minutes(2),
            policy: policy(),
            now: at(2),
        }),
        at(2),
    );
    stream.run(
        SmsNoticeCommand::RecordDelivery(RecordDelivery {
            attempt: 2,
            outcome: DeliveryOutcome::Sent {
                sender: sender(),
                message_id: LongText::parse("MC-42").unwrap(),
            },
            policy: policy(),
            now: at(3),
        }),
        at(3),
    );
    let sent = rows(&stream);
    let notice = the_row(&sent);
    assert_eq!(value(notice, "status"), &text("SENT"));
    assert_eq!(value(notice, "attempts"), &SqlValue::Integer(2));
    assert_eq!(value(notice, "message_id"), &text("MC-42"));
    assert_eq!(value(notice, "fail_reason"), &SqlValue::Null);
    assert_eq!(value(notice, "sent_at"), &time(at(3)));
    assert_eq!(value(notice, "updated_at"), &stream.recorded_at(4));
    assert_eq!(value(notice, "stream_version"), &SqlValue::Integer(4));
    let reloaded = stream.reloaded();
    assert_eq!(sms_notice_rows(&projected(&reloaded)).unwrap(), sent);
}
