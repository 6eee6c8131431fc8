//! Request parts shared by the fuzz seeds and the service's integration tests, so that what one
//! calls "the two-signer contract" is the same bytes everywhere.

use serde_json::{Value, json};

/// The two signers most contracts have, in order: 张三 (`RECEIVER_001`, SMS link) then 李四
/// (`PAYER_001`, H5 link), both signing with face and SMS.
pub fn two_signers() -> Value {
    json!([
        {"partyId": "RECEIVER_001", "partyType": "RECEIVER", "name": "张三",
         "idCardNo": "11010519491231002X", "mobile": "13800138000",
         "signMethod": "FACE_AND_SMS", "notifyType": "SMS", "sequence": 1},
        {"partyId": "PAYER_001", "partyType": "PAYER", "name": "李四",
         "idCardNo": "440304199001010011", "mobile": "13900139000",
         "signMethod": "FACE_AND_SMS", "notifyType": "H5_LINK", "sequence": 2}
    ])
}
