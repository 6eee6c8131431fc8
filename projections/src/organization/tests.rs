//! The organisation projection, on a stream made by the real aggregate.

use aggregates::organization::*;
use aggregates::values::ClientId;

use crate::testing::*;
use crate::{SqlValue, Table, organization_rows};

const CODE: &str = "91350100M000100Y43";

fn registered() -> Recorded<OrganizationAggregate> {
    let mut stream = Recorded::new();
    stream.run(
        OrganizationCommand::Register(RegisterOrganization {
            credit_code: CODE.to_ascii_lowercase(),
            name: "天财商龙科技有限公司".into(),
            client_id: ClientId::parse("admin").unwrap(),
            operator: "ops_zhang".into(),
            now: at(0),
        }),
        at(1),
    );
    stream
}

#[test]
fn an_organisation_is_one_row_keyed_by_its_credit_code() {
    let stream = registered();
    let rows = organization_rows(&stream.projected()).unwrap();
    assert_eq!(rows.len(), 1);
    let row = row(&rows, Table::Organization, &[CODE]);
    assert_eq!(value(row, "name"), &text("天财商龙科技有限公司"));
    assert_eq!(value(row, "client_id"), &text("admin"));
    assert_eq!(value(row, "registered_at"), &time(at(0)));
    assert_eq!(value(row, "created_at"), &stream.recorded_at(1));
    assert_eq!(value(row, "stream_version"), &SqlValue::Integer(1));
}

#[test]
fn a_rebuild_gives_the_same_row() {
    let stream = registered();
    let live = organization_rows(&stream.projected()).unwrap();
    let rebuilt = organization_rows(&projected(&stream.reloaded())).unwrap();
    assert_eq!(live, rebuilt);
}
