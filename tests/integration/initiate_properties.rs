//! Properties of the real initiate endpoints on both backends: a body broken in any one way is a
//! 400 / 40001 naming the field at fault, and writes no event.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, CALLER, TestStore, event_count, json_of};

crate::backend_tests!(
    broken_contract_bodies_answer_400_naming_the_field_and_write_nothing,
    broken_face_verification_bodies_answer_400_naming_the_field_and_write_nothing,
);

const CASES: u32 = 40;

fn contract() -> Value {
    json!({
        "bizId": "PROP_0001",
        "bizType": "RELATIONSHIP_AGREEMENT",
        "templateId": "TPL_PROP",
        "title": "天财分账资金归集授权协议",
        "variables": {"payerName": "XX品牌总部", "receiverName": "上海浦东店"},
        "signers": [
            {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
             "idCardNo": "11010519491231002X", "mobile": "13800138000",
             "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1}
        ],
        "callbackUrl": "https://auth.example.com/callback/e-sign",
        "expireDays": 7
    })
}

fn face() -> Value {
    json!({
        "bizId": "PROP_FACE_0001",
        "bizType": "RELATIONSHIP_BINDING",
        "userInfo": {"name": "张三", "idCardNo": "11010519491231002X", "mobile": "13800138000"},
        "callbackUrl": "https://auth.example.com/callback/face-verification",
        "expireMinutes": 30
    })
}

/// Text fields (JSON pointer, the field as the error names it) and whether the body needs them.
const CONTRACT_TEXT_FIELDS: &[(&str, &str, bool)] = &[
    ("/bizId", "bizId", true),
    ("/bizType", "bizType", true),
    ("/templateId", "templateId", true),
    ("/title", "title", true),
    ("/callbackUrl", "callbackUrl", true),
    ("/signers/0/partyId", "signers[0].partyId", true),
    ("/signers/0/partyType", "signers[0].partyType", true),
    ("/signers/0/name", "signers[0].name", true),
    ("/signers/0/idCardNo", "signers[0].idCardNo", true),
    ("/signers/0/mobile", "signers[0].mobile", true),
    ("/signers/0/signMethod", "signers[0].signMethod", false),
    ("/signers/0/notifyType", "signers[0].notifyType", false),
    ("/variables/payerName", "variables.payerName", true),
];
const CONTRACT_NUMBER_FIELDS: &[(&str, &str)] = &[
    ("/expireDays", "expireDays"),
    ("/signers/0/sequence", "signers[0].sequence"),
];
const FACE_TEXT_FIELDS: &[(&str, &str, bool)] = &[
    ("/bizId", "bizId", true),
    ("/bizType", "bizType", true),
    ("/callbackUrl", "callbackUrl", true),
    ("/userInfo/name", "userInfo.name", true),
    ("/userInfo/idCardNo", "userInfo.idCardNo", true),
    ("/userInfo/mobile", "userInfo.mobile", false),
];
const FACE_NUMBER_FIELDS: &[(&str, &str)] = &[("/expireMinutes", "expireMinutes")];

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A JSON value that is neither `null` nor of `kind` ("string" or "number").
fn any_but(kind: &'static str) -> impl Strategy<Value = Value> {
    any_json().prop_filter("another type", move |value| match kind {
        "string" => !value.is_string() && !value.is_null(),
        _ => !value.is_number() && !value.is_null(),
    })
}

/// A body broken in one way, and the field the answer must name.
fn broken_bodies(
    valid: fn() -> Value,
    text_fields: &'static [(&'static str, &'static str, bool)],
    number_fields: &'static [(&'static str, &'static str)],
) -> impl Strategy<Value = (Vec<u8>, String)> {
    // A contract variable takes any scalar (numbers and booleans are rendered as their text), so
    // only an array or an object is the wrong type for one.
    let wrong_text = (proptest::sample::select(text_fields), any_but("string"))
        .prop_filter(
            "a variable accepts any scalar",
            |((pointer, _, _), value)| {
                !pointer.starts_with("/variables/") || value.is_array() || value.is_object()
            },
        )
        .prop_map(move |((pointer, field, _), value)| {
            let mut body = valid();
            *body.pointer_mut(pointer).expect("a field") = value;
            (serde_json::to_vec(&body).expect("JSON"), field.to_owned())
        });
    let wrong_number = (proptest::sample::select(number_fields), any_but("number")).prop_map(
        move |((pointer, field), value)| {
            let mut body = valid();
            *body.pointer_mut(pointer).expect("a field") = value;
            (serde_json::to_vec(&body).expect("JSON"), field.to_owned())
        },
    );
    let required: Vec<_> = text_fields
        .iter()
        .filter(|(_, _, required)| *required)
        .copied()
        .collect();
    let missing = (proptest::sample::select(required), any::<bool>()).prop_map(
        move |((pointer, field, _), as_null)| {
            let mut body = valid();
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            let object = body
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .expect("an object");
            if as_null {
                object.insert(key.to_owned(), Value::Null);
            } else {
                object.remove(key);
            }
            (serde_json::to_vec(&body).expect("JSON"), field.to_owned())
        },
    );
    let not_an_object = any_json()
        .prop_filter("not an object", |value| !value.is_object())
        .prop_map(|value| (serde_json::to_vec(&value).expect("JSON"), "body".to_owned()));
    let garbage = proptest::collection::vec(any::<u8>(), 0..64)
        .prop_filter("not JSON", |bytes| {
            serde_json::from_slice::<Value>(bytes).is_err()
        })
        .prop_map(|bytes| (bytes, "body".to_owned()));
    prop_oneof![
        4 => wrong_text,
        2 => wrong_number,
        3 => missing,
        1 => not_an_object,
        1 => garbage,
    ]
}

/// Sends every generated body to `path` and checks each answer and the event count.
async fn check_endpoint(
    t: &TestStore,
    path: &'static str,
    bodies: impl Strategy<Value = (Vec<u8>, String)>,
) {
    let service = crate::helpers::start_service(t, &[CALLER, ADMIN]).await;
    let client = service.client(CALLER);
    let admin = service.client(ADMIN);
    let template = json!({
        "templateId": "TPL_PROP",
        "name": "资金归集授权协议模板",
        "version": "1.0",
        "category": "RELATIONSHIP_AGREEMENT",
        "content": "<p>{{payerName}} 授权 {{receiverName}}</p>",
        "variableDefinitions": [
            {"key": "payerName", "name": "付款方名称", "required": true},
            {"key": "receiverName", "name": "收款方名称", "required": true}
        ],
        "signerConfig": {"minSigners": 1, "maxSigners": 2, "defaultSignMethods": ["FACE_AND_SMS"]},
        "active": true
    });
    let published = admin.post_json("/api/v1/template", &template).await;
    assert_eq!(published.status(), StatusCode::OK);
    let before = event_count(&service.state.store).await;
    let runtime = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&bodies, |(body, field)| {
            runtime.block_on(async {
                let response = client
                    .request(reqwest::Method::POST, path)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let (status, answer) = json_of(response).await;
                let fail = |why: &str| {
                    TestCaseError::fail(format!(
                        "{why}: {status} {answer} for {}",
                        String::from_utf8_lossy(&body)
                    ))
                };
                if status != StatusCode::BAD_REQUEST || answer["code"] != 40001 {
                    return Err(fail("not a 400 / 40001"));
                }
                let named = answer["details"].as_array().is_some_and(|details| {
                    // The broken field itself, or a place inside it (a NUL deep in a value
                    // given where text was due is named where it sits).
                    details
                        .iter()
                        .filter_map(|d| d["field"].as_str())
                        .any(|named| {
                            named == field
                                || named.starts_with(&format!("{field}."))
                                || named.starts_with(&format!("{field}["))
                        })
                });
                if !named {
                    return Err(fail(&format!("{field} is not named")));
                }
                if event_count(&service.state.store).await != before {
                    return Err(fail("an event was written"));
                }
                Ok(())
            })
        })
    });
    if let Err(error) = outcome {
        panic!("{error}");
    }
}

async fn broken_contract_bodies_answer_400_naming_the_field_and_write_nothing(t: TestStore) {
    let bodies = broken_bodies(contract, CONTRACT_TEXT_FIELDS, CONTRACT_NUMBER_FIELDS);
    check_endpoint(&t, "/api/v1/contract/initiate", bodies).await;
}

async fn broken_face_verification_bodies_answer_400_naming_the_field_and_write_nothing(
    t: TestStore,
) {
    let bodies = broken_bodies(face, FACE_TEXT_FIELDS, FACE_NUMBER_FIELDS);
    check_endpoint(&t, "/api/v1/verification/face/initiate", bodies).await;
}
