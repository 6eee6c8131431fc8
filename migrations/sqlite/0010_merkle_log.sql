-- The local Merkle log behind the BLOCKCHAIN archive provider until a real chain adapter is
-- configured (src/archive/merkle_log.rs, docs/archive.md). RFC 6962 layout: leaves, the hash of every
-- completed perfect subtree (so appends and proofs read O(log n) hashes), and a signed tree head per
-- tree size. Not a projection: a rebuild never touches it, and like `events` it is append-only.
CREATE TABLE merkle_log_leaves (
    leaf_index    INTEGER PRIMARY KEY CHECK (leaf_index >= 0),
    leaf_hash     BLOB    NOT NULL CHECK (length(leaf_hash) = 32),
    archive_id    TEXT    NOT NULL UNIQUE,
    contract_id   TEXT    NOT NULL,
    document_hash BLOB    NOT NULL CHECK (length(document_hash) = 32),
    appended_at   TEXT    NOT NULL
) STRICT;
CREATE INDEX merkle_log_leaves_contract_id ON merkle_log_leaves (contract_id);

-- A perfect subtree: the 2^level leaves from node_index * 2^level (level 0 lives in the leaves).
CREATE TABLE merkle_log_nodes (
    level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
    node_index INTEGER NOT NULL CHECK (node_index >= 0),
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, node_index)
) STRICT;

-- timestamp_ms and the signature as signed: see tree_head_bytes in src/archive/merkle_log.rs.
CREATE TABLE merkle_log_tree_heads (
    tree_size     INTEGER PRIMARY KEY CHECK (tree_size >= 1),
    root_hash     BLOB    NOT NULL CHECK (length(root_hash) = 32),
    timestamp_ms  INTEGER NOT NULL CHECK (timestamp_ms >= 0),
    signature     BLOB    NOT NULL,
    signer_serial TEXT    NOT NULL
) STRICT;

CREATE TRIGGER merkle_log_leaves_refuse_update BEFORE UPDATE ON merkle_log_leaves
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: UPDATE refused');
END;
CREATE TRIGGER merkle_log_leaves_refuse_delete BEFORE DELETE ON merkle_log_leaves
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: DELETE refused');
END;
CREATE TRIGGER merkle_log_nodes_refuse_update BEFORE UPDATE ON merkle_log_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: UPDATE refused');
END;
CREATE TRIGGER merkle_log_nodes_refuse_delete BEFORE DELETE ON merkle_log_nodes
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: DELETE refused');
END;
CREATE TRIGGER merkle_log_tree_heads_refuse_update BEFORE UPDATE ON merkle_log_tree_heads
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: UPDATE refused');
END;
CREATE TRIGGER merkle_log_tree_heads_refuse_delete BEFORE DELETE ON merkle_log_tree_heads
BEGIN
    SELECT RAISE(ABORT, 'the Merkle log is append-only: DELETE refused');
END;
