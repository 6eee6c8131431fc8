//! The event-store contract: every test runs against SQLite and PostgreSQL alike.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use esign::store::chain::{self, BreakKind};
use esign::store::{
    ChainCursor, ChainReport, Checkpoint, EventStore, RecordedEvent, Store, StoreError,
};
use serde_json::json;
use tokio::sync::Barrier;

use crate::helpers::{Backend, TestStore, append, stream};

crate::backend_tests!(
    appended_events_read_back_in_version_order_with_metadata_and_a_valid_chain,
    an_append_at_the_wrong_version_is_refused_and_writes_nothing,
    a_batch_is_written_all_or_nothing,
    concurrent_appends_to_one_stream_have_exactly_one_winner_per_version,
    a_catch_up_reader_sees_every_event_exactly_once_in_order_while_many_writers_append,
    read_all_pages_through_the_whole_log,
    the_database_refuses_update_delete_and_truncate_of_events,
    a_tampered_event_is_reported_at_that_exact_event,
    a_rewritten_event_with_a_recomputed_hash_breaks_the_next_link,
    verifying_a_log_of_many_batches_reports_what_a_paged_walk_reports,
    personal_data_never_reaches_the_events_table_in_clear,
    reopening_a_migrated_store_applies_nothing_twice,
);

async fn appended_events_read_back_in_version_order_with_metadata_and_a_valid_chain(t: TestStore) {
    let s = stream("contract");
    let first = t
        .store
        .append(append(&s, 0, vec![t.event("A", "one")]))
        .await
        .unwrap();
    let more = t
        .store
        .append(append(
            &s,
            1,
            vec![t.event("B", "two"), t.event("C", "three")],
        ))
        .await
        .unwrap();
    assert_eq!(first[0].stream_version, 1);
    assert_eq!(first[0].prev_hash, chain::GENESIS_HASH);
    assert_eq!(
        more.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(more[0].prev_hash, first[0].hash);
    assert_eq!(more[1].prev_hash, more[0].hash);

    let read = t.store.read_stream(&s, 0).await.unwrap();
    let mut written = first.clone();
    written.extend(more);
    assert_eq!(read, written, "what was read equals what append reported");
    assert_eq!(read[0].metadata.actor, "client:test");
    assert_eq!(read[0].metadata.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(t.cipher.open(&read[1].payload).unwrap()["note"], "two");

    assert_eq!(t.store.read_stream(&s, 2).await.unwrap().len(), 1);
    let report = chain::verify_stream(&t.store, &s).await.unwrap();
    assert!(report.is_intact());
    assert_eq!(report.events, 3);
}

async fn an_append_at_the_wrong_version_is_refused_and_writes_nothing(t: TestStore) {
    let s = stream("contract");
    t.store
        .append(append(&s, 0, vec![t.event("A", "one")]))
        .await
        .unwrap();
    for expected in [0, 2, 7] {
        let refused = t
            .store
            .append(append(&s, expected, vec![t.event("B", "late")]))
            .await;
        match refused {
            Err(StoreError::WrongExpectedVersion {
                expected: e,
                actual,
                ..
            }) => {
                assert_eq!((e, actual), (expected, 1));
            }
            other => panic!("expected a version conflict, got {other:?}"),
        }
    }
    assert!(matches!(
        t.store.append(append(&s, 1, vec![])).await,
        Err(StoreError::EmptyAppend)
    ));
    assert_eq!(t.store.read_stream(&s, 0).await.unwrap().len(), 1);
}

async fn a_batch_is_written_all_or_nothing(t: TestStore) {
    let s = stream("contract");
    let existing = t.event("A", "one");
    let reused_id = existing.event_id;
    t.store.append(append(&s, 0, vec![existing])).await.unwrap();

    let other = stream("contract");
    let mut duplicate = t.event("C", "dup");
    duplicate.event_id = reused_id;
    let outcome = t
        .store
        .append(append(&other, 0, vec![t.event("B", "fine"), duplicate]))
        .await;
    assert!(
        matches!(outcome, Err(StoreError::DuplicateEventId(id)) if id == reused_id),
        "{outcome:?}"
    );
    assert!(
        t.store.read_stream(&other, 0).await.unwrap().is_empty(),
        "the first event of the batch must not stay"
    );
}

async fn concurrent_appends_to_one_stream_have_exactly_one_winner_per_version(t: TestStore) {
    const CONTENDERS: usize = 8;
    const ROUNDS: u64 = 10;
    let s = stream("contract");
    let barrier = Arc::new(Barrier::new(CONTENDERS));
    let mut tasks = Vec::new();
    for contender in 0..CONTENDERS {
        let (store, barrier, s) = (t.store.clone(), barrier.clone(), s.clone());
        let events: Vec<_> = (0..ROUNDS)
            .map(|r| t.event("Raced", &format!("{contender}/{r}")))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut wins = Vec::new();
            for (round, event) in events.into_iter().enumerate() {
                barrier.wait().await;
                match store.append(append(&s, round as u64, vec![event])).await {
                    Ok(_) => wins.push(round as u64),
                    Err(StoreError::WrongExpectedVersion { .. }) => {}
                    Err(other) => panic!("unexpected error: {other}"),
                }
                barrier.wait().await;
            }
            wins
        }));
    }
    let mut winners_per_round: HashMap<u64, usize> = HashMap::new();
    for task in tasks {
        for round in task.await.unwrap() {
            *winners_per_round.entry(round).or_default() += 1;
        }
    }
    for round in 0..ROUNDS {
        assert_eq!(
            winners_per_round.get(&round),
            Some(&1),
            "round {round} must have one winner"
        );
    }
    let events = t.store.read_stream(&s, 0).await.unwrap();
    assert_eq!(events.len() as u64, ROUNDS);
    assert!(
        chain::verify_stream(&t.store, &s)
            .await
            .unwrap()
            .is_intact()
    );
}

async fn a_catch_up_reader_sees_every_event_exactly_once_in_order_while_many_writers_append(
    t: TestStore,
) {
    const WRITERS: usize = 12;
    const APPENDS_PER_WRITER: u64 = 40;
    let done = Arc::new(AtomicBool::new(false));

    // The reader follows the log the way projections and the outbox do: resume from the last checkpoint.
    // It stops once the writers are done and it holds as many events as they wrote, then reads once
    // more to show nothing further (no duplicate) arrives. On PostgreSQL the fence may hold events back
    // while any writing transaction in the cluster (other tests included) is still open, so it waits.
    let expected_total = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let reader = {
        let (store, done, expected_total) = (t.store.clone(), done.clone(), expected_total.clone());
        tokio::spawn(async move {
            let mut seen: Vec<RecordedEvent> = Vec::new();
            let mut checkpoint = Checkpoint::START;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let page = store.read_all(checkpoint, 37).await.unwrap();
                if let Some(last) = page.last() {
                    checkpoint = last.checkpoint();
                }
                let empty = page.is_empty();
                seen.extend(page);
                if done.load(Ordering::SeqCst)
                    && seen.len() >= expected_total.load(Ordering::SeqCst)
                {
                    let extra = store.read_all(checkpoint, 37).await.unwrap();
                    seen.extend(extra);
                    return seen;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the reader fell behind for 30 s"
                );
                if empty {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
    };

    // On PostgreSQL one writer holds its transaction open after inserting, so its position is drawn
    // early and committed late: the case a naive `position > last` reader would skip.
    let late = if let Store::Postgres(pg) = &t.store {
        let pool = pg.pool().clone();
        let request = append(&stream("late"), 0, vec![t.event("Late", "committed late")]);
        Some(tokio::spawn(async move {
            let mut client = pool.get().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let recorded = esign::store::postgres::append_with(&tx, &request)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
            tx.commit().await.unwrap();
            recorded
        }))
    } else {
        None
    };

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = t.store.clone();
        let s = stream("contract");
        let events: Vec<_> = (0..APPENDS_PER_WRITER)
            .map(|i| t.event("Written", &format!("{writer}/{i}")))
            .collect();
        writers.push(tokio::spawn(async move {
            let mut recorded = Vec::new();
            for (version, event) in events.into_iter().enumerate() {
                recorded.extend(
                    store
                        .append(append(&s, version as u64, vec![event]))
                        .await
                        .unwrap(),
                );
            }
            recorded
        }));
    }
    let mut written = Vec::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    if let Some(late) = late {
        written.extend(late.await.unwrap());
    }
    expected_total.store(written.len(), Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let seen_ids: Vec<_> = seen.iter().map(|e| e.event_id).collect();
    let unique: HashSet<_> = seen_ids.iter().collect();
    assert_eq!(unique.len(), seen_ids.len(), "no event may be seen twice");
    let written_ids: HashSet<_> = written.iter().map(|e| e.event_id).collect();
    assert_eq!(
        unique.into_iter().copied().collect::<HashSet<_>>(),
        written_ids,
        "every event seen"
    );
    assert!(
        seen.windows(2)
            .all(|pair| pair[0].checkpoint() < pair[1].checkpoint()),
        "checkpoints strictly increase"
    );
    let mut versions: HashMap<_, u64> = HashMap::new();
    for event in &seen {
        let last = versions.entry(event.stream_id.clone()).or_default();
        assert_eq!(
            event.stream_version,
            *last + 1,
            "each stream is seen in version order"
        );
        *last = event.stream_version;
    }
    if t.backend == Backend::Postgres {
        assert!(
            seen.iter().any(|e| e.event_type == "Late"),
            "the late commit is not skipped"
        );
    }
}

async fn read_all_pages_through_the_whole_log(t: TestStore) {
    let mut expected = Vec::new();
    for _ in 0..5 {
        let s = stream("verification");
        let events = (0..3).map(|i| t.event("Paged", &i.to_string())).collect();
        expected.extend(t.store.append(append(&s, 0, events)).await.unwrap());
    }
    let mut checkpoint = Checkpoint::START;
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // On PostgreSQL the commit fence may briefly hold back events while other transactions run.
    while read.len() < expected.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read {} of {} events",
            read.len(),
            expected.len()
        );
        let page = t.store.read_all(checkpoint, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        checkpoint = last.checkpoint();
        read.extend(page);
    }
    assert!(t.store.read_all(checkpoint, 4).await.unwrap().is_empty());
    assert_eq!(read, expected);
}

async fn the_database_refuses_update_delete_and_truncate_of_events(t: TestStore) {
    let s = stream("contract");
    t.store
        .append(append(&s, 0, vec![t.event("A", "one")]))
        .await
        .unwrap();
    match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            for sql in [
                "UPDATE events SET event_type = 'Forged'",
                "DELETE FROM events",
            ] {
                let error = connection.execute(sql, []).unwrap_err().to_string();
                assert!(error.contains("append-only"), "{sql}: {error}");
            }
        }
        Backend::Postgres => {
            // A superuser, so only the triggers stand in the way.
            let client = t.postgres_superuser().await;
            for sql in [
                "UPDATE events SET event_type = 'Forged'",
                "DELETE FROM events",
                "TRUNCATE events",
            ] {
                let error = client.batch_execute(sql).await.unwrap_err();
                let message = error
                    .as_db_error()
                    .map(|e| e.message().to_owned())
                    .unwrap_or_default();
                assert!(message.contains("append-only"), "{sql}: {message}");
            }
        }
    }
    let events = t.store.read_stream(&s, 0).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "A");
}

/// Rewrites one stored payload the way an attacker with superuser rights could: triggers off.
async fn tamper(
    t: &TestStore,
    event: &RecordedEvent,
    payload: serde_json::Value,
    hash: Option<[u8; 32]>,
) {
    match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            connection
                .execute_batch("DROP TRIGGER events_refuse_update")
                .unwrap();
            connection
                .execute(
                    "UPDATE events SET payload = ?1, hash = COALESCE(?2, hash) WHERE global_position = ?3",
                    rusqlite::params![payload.to_string(), hash.map(|h| h.to_vec()), event.global_position],
                )
                .unwrap();
            connection
                .execute_batch(
                    "CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events BEGIN \
                     SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;",
                )
                .unwrap();
        }
        Backend::Postgres => {
            let client = t.postgres_superuser().await;
            client
                .batch_execute("ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete")
                .await
                .unwrap();
            client
                .execute(
                    "UPDATE events SET payload = $1, hash = COALESCE($2, hash) WHERE global_position = $3",
                    &[&payload, &hash.map(|h| h.to_vec()), &event.global_position],
                )
                .await
                .unwrap();
            client
                .batch_execute("ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete")
                .await
                .unwrap();
        }
    }
}

async fn a_tampered_event_is_reported_at_that_exact_event(t: TestStore) {
    let mut streams = Vec::new();
    for _ in 0..3 {
        let s = stream("contract");
        let events = (0..3).map(|i| t.event("Step", &i.to_string())).collect();
        streams.push(t.store.append(append(&s, 0, events)).await.unwrap());
    }
    assert!(chain::verify_all(&t.store, 2).await.unwrap().is_intact());

    let victim = &streams[1][1];
    let mut forged = victim.payload.as_value().clone();
    forged["note"] = json!("forged");
    tamper(&t, victim, forged, None).await;

    let report = chain::verify_all(&t.store, 2).await.unwrap();
    let broken = report.first_break.expect("the tampering is found");
    assert_eq!(broken.stream_id, victim.stream_id);
    assert_eq!(broken.stream_version, 2);
    assert_eq!(broken.event_id, victim.event_id);
    assert!(
        matches!(broken.kind, BreakKind::HashMismatch { .. }),
        "{:?}",
        broken.kind
    );

    let by_stream = chain::verify_stream(&t.store, &victim.stream_id)
        .await
        .unwrap();
    assert_eq!(by_stream.first_break.map(|b| b.stream_version), Some(2));
    assert!(
        chain::verify_stream(&t.store, &streams[0][0].stream_id)
            .await
            .unwrap()
            .is_intact()
    );
}

async fn a_rewritten_event_with_a_recomputed_hash_breaks_the_next_link(t: TestStore) {
    let s = stream("contract");
    let events = (0..3).map(|i| t.event("Step", &i.to_string())).collect();
    let written = t.store.append(append(&s, 0, events)).await.unwrap();
    let victim = &written[1];
    let mut forged = victim.payload.as_value().clone();
    forged["note"] = json!("forged");
    let metadata = serde_json::to_value(&victim.metadata).unwrap();
    let fields = chain::ChainedFields {
        payload: &forged,
        ..chain::ChainedFields::of(victim, &metadata)
    };
    let recomputed = chain::event_hash(&victim.prev_hash, &fields);
    tamper(&t, victim, forged, Some(recomputed)).await;

    let broken = chain::verify_all(&t.store, 100)
        .await
        .unwrap()
        .first_break
        .expect("found");
    assert_eq!(
        broken.stream_version, 3,
        "the forged event hashes fine; its successor no longer chains"
    );
    assert!(
        matches!(broken.kind, BreakKind::PrevHashMismatch { .. }),
        "{:?}",
        broken.kind
    );
}

/// Chain verification as a plain walk over `read_chain` pages, one event at a time: what
/// `chain::verify_all` must report, however it reads and hashes.
async fn paged_walk(store: &Store, page_size: usize) -> Result<ChainReport, StoreError> {
    let mut report = ChainReport {
        streams: 0,
        events: 0,
        first_break: None,
    };
    let mut cursor: Option<ChainCursor> = None;
    let mut current: Option<(String, u64, [u8; 32])> = None;
    loop {
        let page = store.read_chain(cursor.clone(), page_size).await?;
        let Some(last) = page.last() else {
            return Ok(report);
        };
        cursor = Some(ChainCursor {
            stream_id: last.stream_id.clone(),
            stream_version: last.stream_version,
        });
        for event in &page {
            let (version, prev) = match &current {
                Some((stream, version, hash)) if stream == event.stream_id.as_str() => {
                    (version + 1, *hash)
                }
                _ => {
                    report.streams += 1;
                    (1, chain::GENESIS_HASH)
                }
            };
            report.events += 1;
            if let Some(first_break) = chain::check_link(event, version, &prev) {
                report.first_break = Some(first_break);
                return Ok(report);
            }
            current = Some((
                event.stream_id.to_string(),
                event.stream_version,
                event.hash,
            ));
        }
    }
}

async fn verifying_a_log_of_many_batches_reports_what_a_paged_walk_reports(t: TestStore) {
    // Streams of 50 events, so the hashing batches end inside a stream.
    for _ in 0..60 {
        let s = stream("contract");
        let events = (0..50).map(|i| t.event("Step", &i.to_string())).collect();
        t.store.append(append(&s, 0, events)).await.unwrap();
    }
    let log = t.store.read_chain(None, 10_000).await.unwrap();
    assert!(log.len() > chain::HASH_BATCH + 50);
    let intact = chain::verify_all(&t.store, 5_000).await.unwrap();
    assert!(intact.is_intact());
    assert_eq!((intact.streams, intact.events), (60, 3_000));
    assert_eq!(intact, paged_walk(&t.store, 5_000).await.unwrap());

    // Altered: the last event of the stream the first batch ends in, read in the second batch.
    let altered = &log[chain::HASH_BATCH + 1];
    assert_eq!(altered.stream_id, log[chain::HASH_BATCH - 1].stream_id);
    let mut forged = altered.payload.as_value().clone();
    forged["note"] = json!("forged");
    tamper(&t, altered, forged, None).await;
    for page_size in [1, 7, 2_048, 5_000] {
        let report = chain::verify_all(&t.store, page_size).await.unwrap();
        assert_eq!(report, paged_walk(&t.store, page_size).await.unwrap());
        let broken = report.first_break.expect("the altered event");
        assert_eq!(broken.event_id, altered.event_id);
        assert!(matches!(broken.kind, BreakKind::HashMismatch { .. }));
        assert_eq!(report.events, chain::HASH_BATCH as u64 + 2);
    }

    // Rewritten with a valid hash at the first batch's end: the link into the second batch breaks.
    let rewritten = &log[chain::HASH_BATCH - 1];
    let mut forged = rewritten.payload.as_value().clone();
    forged["note"] = json!("forged");
    let metadata = serde_json::to_value(&rewritten.metadata).unwrap();
    let fields = chain::ChainedFields {
        payload: &forged,
        ..chain::ChainedFields::of(rewritten, &metadata)
    };
    let recomputed = chain::event_hash(&rewritten.prev_hash, &fields);
    tamper(&t, rewritten, forged, Some(recomputed)).await;
    let report = chain::verify_all(&t.store, 5_000).await.unwrap();
    assert_eq!(report, paged_walk(&t.store, 5_000).await.unwrap());
    let broken = report
        .first_break
        .expect("the link after the rewritten event");
    assert_eq!(broken.event_id, log[chain::HASH_BATCH].event_id);
    assert!(matches!(broken.kind, BreakKind::PrevHashMismatch { .. }));
}

async fn personal_data_never_reaches_the_events_table_in_clear(t: TestStore) {
    let s = stream("verification");
    t.store
        .append(append(&s, 0, vec![t.event("Initiated", "pii")]))
        .await
        .unwrap();
    let raw_rows: Vec<String> = match t.backend {
        Backend::Sqlite => {
            let connection = rusqlite::Connection::open(t.sqlite_path().unwrap()).unwrap();
            let mut statement = connection
                .prepare("SELECT payload || metadata || event_type || stream_id FROM events")
                .unwrap();
            statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
        Backend::Postgres => {
            let client = t.postgres_superuser().await;
            client
                .query(
                    "SELECT payload::text || metadata::text || event_type || stream_id FROM events",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect()
        }
    };
    assert!(!raw_rows.is_empty());
    for row in &raw_rows {
        assert!(
            !row.contains("11010519491231002X"),
            "ID number in clear: {row}"
        );
        assert!(
            !row.contains("13800138000"),
            "mobile number in clear: {row}"
        );
        assert!(!row.contains("张三"), "name in clear: {row}");
    }
    let stored = t.store.read_stream(&s, 0).await.unwrap();
    let opened = t.cipher.open(&stored[0].payload).unwrap();
    assert_eq!(opened["name"]["$pii"], "张三");
    assert_eq!(opened["idCardNo"]["$pii"], "11010519491231002X");
    assert_eq!(opened["mobile"]["$pii"], "13800138000");
}

async fn reopening_a_migrated_store_applies_nothing_twice(t: TestStore) {
    let s = stream("template");
    t.store
        .append(append(&s, 0, vec![t.event("A", "kept")]))
        .await
        .unwrap();
    let reopened = Store::open(&t.url, 2).await.unwrap();
    assert_eq!(reopened.read_stream(&s, 0).await.unwrap().len(), 1);
    let applied: i64 = match t.backend {
        Backend::Sqlite => rusqlite::Connection::open(t.sqlite_path().unwrap())
            .unwrap()
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |row| {
                row.get(0)
            })
            .unwrap(),
        Backend::Postgres => t
            .postgres_superuser()
            .await
            .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
            .await
            .unwrap()
            .get(0),
    };
    let migrations = match t.backend {
        Backend::Sqlite => esign::store::migrations::SQLITE,
        Backend::Postgres => esign::store::migrations::POSTGRES,
    };
    assert_eq!(applied as usize, migrations.len());
}

/// The commit-order fence needs an append to take its transaction id after reading the head it
/// chains from; an append that is not its transaction's first write is refused, not silently misordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_an_append_that_is_not_its_transactions_first_write() {
    let Some(t) = TestStore::new(Backend::Postgres).await else {
        return;
    };
    let Store::Postgres(pg) = &t.store else {
        unreachable!()
    };
    let s = stream("contract");
    t.store
        .append(append(&s, 0, vec![t.event("A", "one")]))
        .await
        .unwrap();

    let mut client = pg.pool().get().await.unwrap();
    let tx = client.transaction().await.unwrap();
    esign::store::postgres::append_with(
        &tx,
        &append(&stream("other"), 0, vec![t.event("B", "first write")]),
    )
    .await
    .unwrap();
    let refused =
        esign::store::postgres::append_with(&tx, &append(&s, 1, vec![t.event("C", "second")]))
            .await;
    assert!(
        matches!(&refused, Err(StoreError::Database(message)) if message.contains("first write")),
        "{refused:?}"
    );
    drop(tx);
    assert_eq!(t.store.read_stream(&s, 0).await.unwrap().len(), 1);
}

/// A large log is read for verification as ranges of streams by two connections in turn, all in one
/// exported snapshot: every event arrives once, in `(stream, version)` order, and events appended
/// after the read began are not in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_a_log_in_ranges_whole_in_chain_order_and_from_one_snapshot() {
    let Some(t) = TestStore::new(Backend::Postgres).await else {
        return;
    };
    let Store::Postgres(pg) = &t.store else {
        unreachable!("a PostgreSQL test store");
    };
    for _ in 0..60 {
        let s = stream("contract");
        let events = (0..50).map(|i| t.event("Step", &i.to_string())).collect();
        t.store.append(append(&s, 0, events)).await.unwrap();
    }
    // The ranges come from the planner's row estimate.
    t.postgres_superuser()
        .await
        .batch_execute("ANALYZE events")
        .await
        .unwrap();
    let expected: Vec<(String, u64)> = t
        .store
        .read_chain(None, 10_000)
        .await
        .unwrap()
        .iter()
        .map(|event| (event.stream_id.to_string(), event.stream_version))
        .collect();

    let mut batches = pg.read_chain_rows_in_ranges(64, 200).await.unwrap();
    let mut read = Vec::new();
    let mut appended_meanwhile = false;
    while let Some(batch) = batches.recv().await {
        let esign::store::ChainBatch::Postgres(rows) = batch.unwrap() else {
            unreachable!("PostgreSQL rows");
        };
        for row in rows {
            let event = esign::store::chain::StoredRow::decode(row).unwrap();
            read.push((event.stream_id.to_string(), event.stream_version));
        }
        if !appended_meanwhile {
            // Sorts last ("zz-..." > "contract-..."): in the last range, read after this.
            let late = esign::store::StreamId::new("zz", "late");
            t.store
                .append(append(
                    &late,
                    0,
                    vec![t.event("Late", "after the snapshot")],
                ))
                .await
                .unwrap();
            appended_meanwhile = true;
        }
    }
    assert_eq!(read.len(), 3_000);
    assert!(
        read == expected,
        "the ranged read differs from the paged one"
    );
    assert_eq!(
        chain::verify_all(&t.store, 5_000).await.unwrap().events,
        3_001
    );
}
