//! The seal projection, on a stream made by the real aggregate.

use aggregates::organization::OrganizationFacts;
use aggregates::seal::*;
use aggregates::values::{CreditCode, Digest, OrganizationName, SealId, SealImageSource};

use crate::testing::*;
use crate::{Row, SqlValue, Table, seal_rows};

const CODE: &str = "91350100M000100Y43";
const SEAL: &str = "SEAL_20250601A1B2C3D4";

fn image(byte: char, source: SealImageSource) -> SealImage {
    SealImage {
        hash: Digest::parse(&byte.to_string().repeat(64)).unwrap(),
        width: 600,
        height: 580,
        byte_length: 41_234,
        source,
    }
}

fn seal_id() -> SealId {
    SealId::parse(SEAL).unwrap()
}

fn created() -> Recorded<SealAggregate> {
    let mut stream = Recorded::new();
    stream.run(
        SealCommand::Create(CreateSeal {
            seal_id: seal_id(),
            credit_code: CODE.into(),
            organization: Some(OrganizationFacts {
                credit_code: CreditCode::parse(CODE).unwrap(),
                name: OrganizationName::parse("天财商龙科技有限公司").unwrap(),
            }),
            kind: "OFFICIAL".into(),
            name: "公章".into(),
            image: image('a', SealImageSource::Drawn),
            operator: "ops_zhang".into(),
            now: at(0),
        }),
        at(1),
    );
    stream
}

fn version_row(rows: &[Row], version: i64) -> &Row {
    rows.iter()
        .find(|row| {
            row.table == Table::SealVersion
                && row.get("version") == Some(&SqlValue::Integer(version))
        })
        .unwrap_or_else(|| panic!("no version {version} in {rows:#?}"))
}

#[test]
fn a_new_seal_has_its_row_and_its_first_version() {
    let stream = created();
    let rows = seal_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 2);
    let seal = row(&rows, Table::Seal, &[SEAL]);
    assert_eq!(value(seal, "credit_code"), &text(CODE));
    assert_eq!(value(seal, "kind"), &text("OFFICIAL"));
    assert_eq!(value(seal, "version"), &SqlValue::Integer(1));
    assert_eq!(value(seal, "image_hash"), &text(&"a".repeat(64)));
    assert_eq!(value(seal, "height"), &SqlValue::Integer(580));
    assert_eq!(value(seal, "active"), &SqlValue::Bool(true));
    let first = version_row(&rows, 1);
    assert_eq!(value(first, "source"), &text("DRAWN"));
    assert_eq!(value(first, "byte_length"), &SqlValue::Integer(41_234));
}

#[test]
fn a_version_and_a_deactivation_move_the_seal_row_and_keep_the_old_version() {
    let mut stream = created();
    stream.run(
        SealCommand::AddVersion(AddSealVersion {
            seal_id: seal_id(),
            image: image('b', SealImageSource::Uploaded),
            operator: "ops_li".into(),
            now: at(5),
        }),
        at(6),
    );
    stream.run(
        SealCommand::Deactivate(SwitchSeal {
            seal_id: seal_id(),
            operator: "ops_li".into(),
            reason: "印章遗失".into(),
            now: at(7),
        }),
        at(8),
    );
    let rows = seal_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 3);
    let seal = row(&rows, Table::Seal, &[SEAL]);
    assert_eq!(value(seal, "version"), &SqlValue::Integer(2));
    assert_eq!(value(seal, "image_hash"), &text(&"b".repeat(64)));
    assert_eq!(value(seal, "active"), &SqlValue::Bool(false));
    assert_eq!(value(seal, "updated_at"), &stream.recorded_at(3));
    assert_eq!(value(seal, "stream_version"), &SqlValue::Integer(3));
    // Version 1 was never changed after its event.
    let first = version_row(&rows, 1);
    assert_eq!(value(first, "updated_at"), &stream.recorded_at(1));
    assert_eq!(value(version_row(&rows, 2), "operator"), &text("ops_li"));
}

#[test]
fn a_rebuild_gives_the_same_rows() {
    let stream = created();
    let live = seal_rows(&stream.projected()).unwrap();
    let rebuilt = seal_rows(&projected(&stream.reloaded())).unwrap();
    assert_eq!(live, rebuilt);
}
