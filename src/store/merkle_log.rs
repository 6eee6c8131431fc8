//! The Merkle log's tables (`merkle_log_leaves`, `merkle_log_nodes`, `merkle_log_tree_heads`), all
//! append-only. The log's rules (leaf encoding, which subtrees an append completes, the signed tree
//! head) live with the archive provider; the store runs them under its lock.
//!
//! Appends are serialised so leaf indexes are dense: PostgreSQL takes `LOCK TABLE merkle_log_leaves
//! IN EXCLUSIVE MODE` in the append transaction (readers are not blocked); SQLite has one writer.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::sql::{PostgresSession, Session, SqlRow, SqliteSession, Statement, Value};
use super::{Store, StoreError, postgres};

/// A SHA-256 hash as the log stores it.
pub type Hash = [u8; 32];

/// A perfect subtree: `level` 0 is a leaf, `index` counts from the left at that level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    pub level: u32,
    pub index: u64,
}

/// A leaf as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRow {
    pub leaf_index: u64,
    pub leaf_hash: Hash,
    pub archive_id: String,
    pub contract_id: String,
    pub document_hash: Hash,
    /// Whole milliseconds.
    pub appended_at: DateTime<Utc>,
}

/// A signed tree head as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHeadRow {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    pub root_hash: Hash,
    pub signature: Vec<u8>,
    pub signer_serial: String,
}

/// Everything one append writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogEntry {
    pub leaf: LeafRow,
    /// The subtrees the new leaf completes.
    pub completed: Vec<(NodeKey, Hash)>,
    pub head: TreeHeadRow,
    /// Not stored: the new leaf's audit path up to `head`, handed back to the caller.
    pub inclusion_proof: Vec<Hash>,
}

/// How an append is decided, handed to the store, which runs it under the log's lock.
pub trait AppendRule: Send + 'static {
    type Error: From<StoreError> + Send + 'static;

    /// The archive id is in the log already (a retry): the nodes the leaf's proof needs, or why the
    /// retry is refused.
    fn retry(&self, existing: &LeafRow) -> Result<BTreeSet<NodeKey>, Self::Error>;

    /// The stored nodes an append to a tree of `size` leaves reads.
    fn nodes_for_append(&self, size: u64) -> Result<BTreeSet<NodeKey>, Self::Error>;

    /// The new entry, from the newest tree head and the nodes read.
    fn decide(
        &self,
        latest: Option<&TreeHeadRow>,
        stored: &BTreeMap<NodeKey, Hash>,
    ) -> Result<NewLogEntry, Self::Error>;
}

/// What an append found or wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogAppend {
    /// The archive id was in the log: its leaf, the head right after it and the nodes its proof needs.
    Existing {
        leaf: LeafRow,
        head: Option<TreeHeadRow>,
        stored: BTreeMap<NodeKey, Hash>,
    },
    Appended(NewLogEntry),
}

/// The Merkle log's tables: [`Store::merkle_log`].
#[derive(Debug, Clone, Copy)]
pub struct MerkleLogTables<'a>(&'a Store);

impl Store {
    pub fn merkle_log(&self) -> MerkleLogTables<'_> {
        MerkleLogTables(self)
    }
}

impl MerkleLogTables<'_> {
    /// Appends the leaf of `archive_id` as `rule` decides, or finds it when it is there already.
    pub async fn append<R: AppendRule>(
        self,
        archive_id: &str,
        rule: R,
    ) -> Result<LogAppend, R::Error> {
        let archive_id = archive_id.to_owned();
        match self.0 {
            Store::Sqlite(sqlite) => {
                // Every failure of the rule happens before the first write, so an inner error
                // never commits half an append.
                sqlite
                    .write(move |connection| {
                        let appended = futures::executor::block_on(append_in(
                            &SqliteSession(connection),
                            &archive_id,
                            &rule,
                        ));
                        Ok(appended)
                    })
                    .await?
            }
            Store::Postgres(pg) => {
                let mut client = pg.pool().get().await.map_err(postgres::pool_error)?;
                let transaction = client.transaction().await.map_err(postgres::db_error)?;
                transaction
                    .batch_execute("LOCK TABLE merkle_log_leaves IN EXCLUSIVE MODE")
                    .await
                    .map_err(postgres::db_error)?;
                let appended =
                    append_in(&PostgresSession(&transaction), &archive_id, &rule).await?;
                transaction.commit().await.map_err(postgres::db_error)?;
                Ok(appended)
            }
        }
    }

    /// The leaf of `archive_id`, if it is in the log.
    pub async fn leaf(self, archive_id: &str) -> Result<Option<LeafRow>, StoreError> {
        self.0
            .query_opt(LEAF_BY_ARCHIVE, vec![archive_id.into()])
            .await?
            .as_ref()
            .map(leaf)
            .transpose()
    }

    /// The newest signed tree head (`None` while the log is empty).
    pub async fn latest_head(self) -> Result<Option<TreeHeadRow>, StoreError> {
        self.0
            .query_opt(LATEST_HEAD, Vec::new())
            .await?
            .as_ref()
            .map(head)
            .transpose()
    }

    /// The signed tree head of the tree of `tree_size` leaves.
    pub async fn head(self, tree_size: u64) -> Result<Option<TreeHeadRow>, StoreError> {
        self.0
            .query_opt(HEAD_BY_SIZE, vec![int(tree_size)?])
            .await?
            .as_ref()
            .map(head)
            .transpose()
    }

    /// The stored hashes of `nodes` (those that exist).
    pub async fn nodes(
        self,
        nodes: &BTreeSet<NodeKey>,
    ) -> Result<BTreeMap<NodeKey, Hash>, StoreError> {
        let mut found = BTreeMap::new();
        for (statement, params) in node_queries(nodes)? {
            for row in self.0.query(statement, params).await? {
                let (node, hash) = node_hash(&row)?;
                found.insert(node, hash);
            }
        }
        Ok(found)
    }
}

const LEAF_COLUMNS: &str =
    "leaf_index, leaf_hash, archive_id, contract_id, document_hash, appended_at";
const LEAF_BY_ARCHIVE: &str = "SELECT leaf_index, leaf_hash, archive_id, contract_id, \
     document_hash, appended_at FROM merkle_log_leaves WHERE archive_id = {1}";
const LATEST_HEAD: &str = "SELECT tree_size, root_hash, timestamp_ms, signature, signer_serial \
     FROM merkle_log_tree_heads ORDER BY tree_size DESC LIMIT 1";
const HEAD_BY_SIZE: &str = "SELECT tree_size, root_hash, timestamp_ms, signature, signer_serial \
     FROM merkle_log_tree_heads WHERE tree_size = {1}";

async fn append_in<S: Session, R: AppendRule>(
    session: &S,
    archive_id: &str,
    rule: &R,
) -> Result<LogAppend, R::Error> {
    if let Some(existing) = session
        .row(LEAF_BY_ARCHIVE.into(), vec![archive_id.into()])
        .await?
        .as_ref()
        .map(leaf)
        .transpose()?
    {
        let needed = rule.retry(&existing)?;
        let head = session
            .row(HEAD_BY_SIZE.into(), vec![int(existing.leaf_index + 1)?])
            .await?
            .as_ref()
            .map(head)
            .transpose()?;
        let stored = nodes_in(session, &needed).await?;
        return Ok(LogAppend::Existing {
            leaf: existing,
            head,
            stored,
        });
    }
    let latest = session
        .row(LATEST_HEAD.into(), Vec::new())
        .await?
        .as_ref()
        .map(head)
        .transpose()?;
    let size = latest.as_ref().map_or(0, |head| head.tree_size);
    let stored = nodes_in(session, &rule.nodes_for_append(size)?).await?;
    let entry = rule.decide(latest.as_ref(), &stored)?;
    insert(session, &entry).await?;
    Ok(LogAppend::Appended(entry))
}

async fn nodes_in<S: Session>(
    session: &S,
    nodes: &BTreeSet<NodeKey>,
) -> Result<BTreeMap<NodeKey, Hash>, StoreError> {
    let mut found = BTreeMap::new();
    for (statement, params) in node_queries(nodes)? {
        for row in session.rows(statement, params).await? {
            let (node, hash) = node_hash(&row)?;
            found.insert(node, hash);
        }
    }
    Ok(found)
}

/// One query for the leaves among `nodes` and one for the inner nodes, each with every key as a
/// parameter; both answer `(level, index, hash)`.
fn node_queries(nodes: &BTreeSet<NodeKey>) -> Result<Vec<(Statement, Vec<Value>)>, StoreError> {
    let (leaves, inner): (Vec<&NodeKey>, Vec<&NodeKey>) =
        nodes.iter().partition(|node| node.level == 0);
    let mut queries = Vec::new();
    if !leaves.is_empty() {
        let mut params = Vec::with_capacity(leaves.len());
        let mut marks = Vec::with_capacity(leaves.len());
        for node in leaves {
            params.push(int(node.index)?);
            marks.push(format!("{{{}}}", params.len()));
        }
        queries.push((
            Statement::from(format!(
                "SELECT 0, leaf_index, leaf_hash FROM merkle_log_leaves WHERE leaf_index IN ({})",
                marks.join(", ")
            )),
            params,
        ));
    }
    if !inner.is_empty() {
        let mut params = Vec::with_capacity(inner.len() * 2);
        let mut pairs = Vec::with_capacity(inner.len());
        for node in inner {
            params.push(Value::Int(i64::from(node.level)));
            params.push(int(node.index)?);
            pairs.push(format!(
                "(level = {{{}}} AND node_index = {{{}}})",
                params.len() - 1,
                params.len()
            ));
        }
        queries.push((
            Statement::from(format!(
                "SELECT level, node_index, hash FROM merkle_log_nodes WHERE {}",
                pairs.join(" OR ")
            )),
            params,
        ));
    }
    Ok(queries)
}

async fn insert<S: Session>(session: &S, entry: &NewLogEntry) -> Result<(), StoreError> {
    let leaf = &entry.leaf;
    session
        .run(
            Statement::from(format!(
                "INSERT INTO merkle_log_leaves ({LEAF_COLUMNS}) VALUES ({{1}}, {{2}}, {{3}}, {{4}}, {{5}}, {{6}})"
            )),
            vec![
                int(leaf.leaf_index)?,
                leaf.leaf_hash.to_vec().into(),
                leaf.archive_id.as_str().into(),
                leaf.contract_id.as_str().into(),
                leaf.document_hash.to_vec().into(),
                Value::TimeMillis(leaf.appended_at),
            ],
        )
        .await?;
    if !entry.completed.is_empty() {
        let mut params = Vec::with_capacity(entry.completed.len() * 3);
        let mut rows = Vec::with_capacity(entry.completed.len());
        for (node, hash) in &entry.completed {
            params.push(Value::Int(i64::from(node.level)));
            params.push(int(node.index)?);
            params.push(hash.to_vec().into());
            let last = params.len();
            rows.push(format!(
                "({{{}}}, {{{}}}, {{{}}})",
                last - 2,
                last - 1,
                last
            ));
        }
        session
            .run(
                Statement::from(format!(
                    "INSERT INTO merkle_log_nodes (level, node_index, hash) VALUES {}",
                    rows.join(", ")
                )),
                params,
            )
            .await?;
    }
    let head = &entry.head;
    session
        .run(
            Statement::from(
                "INSERT INTO merkle_log_tree_heads (tree_size, root_hash, timestamp_ms, \
                 signature, signer_serial) VALUES ({1}, {2}, {3}, {4}, {5})",
            ),
            vec![
                int(head.tree_size)?,
                head.root_hash.to_vec().into(),
                int(head.timestamp_ms)?,
                head.signature.clone().into(),
                head.signer_serial.as_str().into(),
            ],
        )
        .await?;
    Ok(())
}

fn leaf(row: &SqlRow) -> Result<LeafRow, StoreError> {
    Ok(LeafRow {
        leaf_index: unsigned(row.int(0)?)?,
        leaf_hash: hash(&row.bytes(1)?, "leaf hash")?,
        archive_id: row.text(2)?,
        contract_id: row.text(3)?,
        document_hash: hash(&row.bytes(4)?, "document hash")?,
        appended_at: row.time(5)?,
    })
}

fn head(row: &SqlRow) -> Result<TreeHeadRow, StoreError> {
    Ok(TreeHeadRow {
        tree_size: unsigned(row.int(0)?)?,
        root_hash: hash(&row.bytes(1)?, "root hash")?,
        timestamp_ms: unsigned(row.int(2)?)?,
        signature: row.bytes(3)?,
        signer_serial: row.text(4)?,
    })
}

fn node_hash(row: &SqlRow) -> Result<(NodeKey, Hash), StoreError> {
    let level = row.int(0)?;
    let node = NodeKey {
        level: u32::try_from(level)
            .map_err(|_| StoreError::Database(format!("stored level {level}")))?,
        index: unsigned(row.int(1)?)?,
    };
    Ok((node, hash(&row.bytes(2)?, "subtree hash")?))
}

fn int(value: u64) -> Result<Value, StoreError> {
    i64::try_from(value)
        .map(Value::Int)
        .map_err(|_| StoreError::Database(format!("{value} does not fit the database")))
}

fn unsigned(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Database(format!("negative value {value} stored")))
}

fn hash(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes)
        .map_err(|_| StoreError::Database(format!("a stored {what} is not 32 bytes")))
}
