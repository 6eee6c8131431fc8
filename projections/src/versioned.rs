//! The rows of a versioned template stream (`contract_template`, `sms_template`): one per published
//! version. The columns the shared life cycle sets (`active`, `activation_order`, `created_by`,
//! `updated_by`) are filled here; each kind shapes the columns of its own content.

use std::collections::BTreeMap;

use aggregates::values::{ClientId, TemplateVersion};
use aggregates::versioned::{Kind, PublishedVersion, State, Template};

use crate::ProjectionError;
use crate::row::{Row, SqlValue, Table};
use crate::stream::{Draft, ProjectedEvent, fold};

/// A kind's own columns of one version's row, which come before the shared ones.
pub(crate) type Columns = Vec<(&'static str, SqlValue)>;

/// Every row a template stream of kind `K` owns: one `table` row per published version, in version
/// order, starting with the columns `content_columns` shapes.
pub(crate) fn version_rows<K: Kind>(
    events: &[ProjectedEvent<'_, K::Event>],
    table: Table,
    content_columns: impl Fn(
        &Template<K::Content>,
        &PublishedVersion<K::Content>,
    ) -> Result<Columns, ProjectionError>,
) -> Result<Vec<Row>, ProjectionError> {
    let shape = |projection: &Projection<K::Content>| shape(projection, table, &content_columns);
    fold(events, Projection::default(), step::<K>, shape)
}

#[derive(Debug)]
struct Projection<C> {
    state: State<C>,
    /// Who published, activated or deactivated each version last (`updated_by`).
    updated_by: BTreeMap<TemplateVersion, ClientId>,
}

impl<C> Default for Projection<C> {
    fn default() -> Self {
        Self {
            state: State::default(),
            updated_by: BTreeMap::new(),
        }
    }
}

/// The aggregate's own evolve, with the actor of every change kept for `updated_by`.
fn step<K: Kind>(
    projection: &mut Projection<K::Content>,
    event: &ProjectedEvent<'_, K::Event>,
) -> Result<(), ProjectionError> {
    let change = K::change(event.event);
    projection
        .updated_by
        .insert(change.version.clone(), change.by.clone());
    projection.state.apply(change);
    Ok(())
}

fn shape<C>(
    projection: &Projection<C>,
    table: Table,
    content_columns: impl Fn(&Template<C>, &PublishedVersion<C>) -> Result<Columns, ProjectionError>,
) -> Result<Vec<Draft>, ProjectionError> {
    let template = projection
        .state
        .template()
        .ok_or(ProjectionError::NotInitiated)?;
    template
        .versions
        .values()
        .map(|published| {
            let order = match published.activation_order() {
                Some(order) => SqlValue::Integer(
                    i64::try_from(order)
                        .map_err(|_| ProjectionError::OutOfRange("activation_order"))?,
                ),
                None => SqlValue::Null,
            };
            let updated_by = projection
                .updated_by
                .get(&published.version)
                .unwrap_or(&published.published_by);
            let mut columns = content_columns(template, published)?;
            columns.extend([
                ("active", SqlValue::Bool(published.is_active())),
                ("activation_order", order),
                (
                    "created_by",
                    SqlValue::text(published.published_by.as_str()),
                ),
                ("updated_by", SqlValue::text(updated_by.as_str())),
            ]);
            Ok(Draft::new(table, columns))
        })
        .collect()
}
