//! Appending to the log: the events of one stream at the version it must be at, or the first events
//! of many new streams at once (bulk loading), each as one insert of column arrays.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{constraint_of, db_error, describe, to_i64};
use crate::store::chain::GENESIS_HASH;
use crate::store::{
    AppendRequest, PreparedEvent, RecordedEvent, StoreError, hash_from_bytes, prepare, validate,
};

/// Appends on a given client or transaction, so other writes can share the append's transaction. The
/// append must be the transaction's first write (checked; see the module docs).
pub async fn append_with<C: GenericClient + Sync>(
    client: &C,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, StoreError> {
    validate(request)?;
    let stream = request.stream_id.as_str();
    let head_hash = if request.expected_version == 0 {
        GENESIS_HASH
    } else {
        let statement = client
            .prepare_cached(
                "SELECT hash, pg_current_xact_id_if_assigned() IS NULL \
                 FROM events WHERE stream_id = $1 AND stream_version = $2",
            )
            .await
            .map_err(db_error)?;
        let row = client
            .query_opt(&statement, &[&stream, &to_i64(request.expected_version)])
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Err(wrong_version(client, request).await);
        };
        let read_before_first_write: bool = row.get(1);
        if !read_before_first_write {
            return Err(StoreError::Database(
                "an append must be the first write of its transaction, so that its transaction \
                 id orders it after the event it chains from"
                    .to_owned(),
            ));
        }
        hash_from_bytes(0, row.get::<_, &[u8]>(0))?
    };
    let prepared = [(request, prepare(request, head_hash))];
    match insert_events(client, &prepared).await {
        Ok(mut appended) => appended
            .pop()
            .filter(|events| events.len() == request.events.len())
            .ok_or_else(|| StoreError::Database("the insert returned no row for an event".into())),
        Err(error) => Err(match constraint_of(&error) {
            Some("events_stream_version_key") => wrong_version(client, request).await,
            Some("events_event_id_key") => duplicate_id(&error, request),
            _ => db_error(error),
        }),
    }
}

/// Inserts the prepared events of one or more streams in one statement (every column as an array)
/// and answers each request's events as recorded, in request order.
async fn insert_events<C: GenericClient + Sync>(
    client: &C,
    prepared: &[(&AppendRequest, Vec<PreparedEvent<'_>>)],
) -> Result<Vec<Vec<RecordedEvent>>, tokio_postgres::Error> {
    let total: usize = prepared.iter().map(|(_, events)| events.len()).sum();
    let mut streams: Vec<&str> = Vec::with_capacity(total);
    let mut versions: Vec<i64> = Vec::with_capacity(total);
    let mut ids: Vec<Uuid> = Vec::with_capacity(total);
    let mut types: Vec<&str> = Vec::with_capacity(total);
    let mut schema_versions: Vec<i32> = Vec::with_capacity(total);
    let mut payloads: Vec<&serde_json::Value> = Vec::with_capacity(total);
    let mut metadata: Vec<&serde_json::Value> = Vec::with_capacity(total);
    let mut recorded: Vec<chrono::DateTime<chrono::Utc>> = Vec::with_capacity(total);
    let mut prev_hashes: Vec<&[u8]> = Vec::with_capacity(total);
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(total);
    for (request, events) in prepared {
        for item in events {
            streams.push(request.stream_id.as_str());
            versions.push(to_i64(item.stream_version));
            ids.push(item.event.event_id);
            types.push(item.event.event_type.as_str());
            schema_versions.push(i32::try_from(item.event.schema_version).unwrap_or(i32::MAX));
            payloads.push(item.event.payload.as_value());
            metadata.push(&item.metadata_json);
            recorded.push(item.recorded_at);
            prev_hashes.push(&item.prev_hash[..]);
            hashes.push(&item.hash[..]);
        }
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, \
                                 payload, metadata, recorded_at, prev_hash, hash) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], \
                                  $6::json[], $7::json[], $8::timestamptz[], $9::bytea[], $10::bytea[]) \
             RETURNING stream_id, stream_version, global_position, transaction_id",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 10] = [
        &streams,
        &versions,
        &ids,
        &types,
        &schema_versions,
        &payloads,
        &metadata,
        &recorded,
        &prev_hashes,
        &hashes,
    ];
    let rows = client.query(&statement, &params).await?;
    // (stream, version) -> (global position, transaction id)
    let mut positions: std::collections::HashMap<(&str, i64), (i64, i64)> =
        std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        positions.insert(
            (row.try_get(0)?, row.try_get(1)?),
            (row.try_get(2)?, row.try_get(3)?),
        );
    }
    let mut appended = Vec::with_capacity(prepared.len());
    for (request, events) in prepared {
        let mut stream_events = Vec::with_capacity(events.len());
        for item in events {
            // A missing row would be a server bug; the callers count what came back.
            let Some(&(global_position, transaction_id)) =
                positions.get(&(request.stream_id.as_str(), to_i64(item.stream_version)))
            else {
                continue;
            };
            stream_events.push(item.recorded(&request.stream_id, global_position, transaction_id));
        }
        appended.push(stream_events);
    }
    Ok(appended)
}

async fn wrong_version<C: GenericClient + Sync>(client: &C, request: &AppendRequest) -> StoreError {
    let actual = client
        .query_one(
            "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1",
            &[&request.stream_id.as_str()],
        )
        .await
        .map(|row| row.get::<_, i64>(0))
        .unwrap_or(-1);
    StoreError::WrongExpectedVersion {
        stream: request.stream_id.clone(),
        expected: request.expected_version,
        actual: u64::try_from(actual).unwrap_or(u64::MAX),
    }
}

fn duplicate_id(error: &tokio_postgres::Error, request: &AppendRequest) -> StoreError {
    let detail = error.as_db_error().and_then(|db| db.detail()).unwrap_or("");
    request
        .events
        .iter()
        .find(|event| detail.contains(&event.event_id.to_string()))
        .map(|event| StoreError::DuplicateEventId(event.event_id))
        .unwrap_or_else(|| StoreError::Database(describe(error)))
}

/// Appends the first events of many new streams in one statement, for bulk loading (`esign-bench
/// seed`). Every request must expect version 0; a stream that already exists fails the whole call with
/// [`StoreError::WrongExpectedVersion`]. The chains are computed by the same `prepare` as
/// [`append_with`]. Like it, this must be the first write of its transaction. Returns each request's
/// recorded events, in request order.
pub async fn append_new_streams_with<C: GenericClient + Sync>(
    client: &C,
    requests: &[AppendRequest],
) -> Result<Vec<Vec<RecordedEvent>>, StoreError> {
    let mut prepared = Vec::with_capacity(requests.len());
    for request in requests {
        validate(request)?;
        if request.expected_version != 0 {
            return Err(StoreError::Database(format!(
                "a bulk append only starts new streams; {} expects version {}",
                request.stream_id, request.expected_version
            )));
        }
        prepared.push((request, prepare(request, GENESIS_HASH)));
    }
    let appended =
        insert_events(client, &prepared)
            .await
            .map_err(|error| match constraint_of(&error) {
                Some("events_stream_version_key") => StoreError::WrongExpectedVersion {
                    stream: requests[0].stream_id.clone(),
                    expected: 0,
                    actual: 0,
                },
                _ => db_error(error),
            })?;
    let total: usize = prepared.iter().map(|(_, events)| events.len()).sum();
    let returned: usize = appended.iter().map(Vec::len).sum();
    if returned != total {
        return Err(StoreError::Database(format!(
            "the bulk insert returned {returned} rows for {total} events"
        )));
    }
    Ok(appended)
}
