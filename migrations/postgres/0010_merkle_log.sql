-- The local Merkle log behind the BLOCKCHAIN archive provider until a real chain adapter is
-- configured (src/archive/merkle_log.rs, docs/archive.md). RFC 6962 layout: leaves, the hash of every
-- completed perfect subtree (so appends and proofs read O(log n) hashes), and a signed tree head per
-- tree size. Not a projection: a rebuild never touches it, and like `events` it is append-only.
CREATE TABLE merkle_log_leaves (
    leaf_index    bigint      PRIMARY KEY CHECK (leaf_index >= 0),
    leaf_hash     bytea       NOT NULL CHECK (octet_length(leaf_hash) = 32),
    archive_id    text        NOT NULL UNIQUE,
    contract_id   text        NOT NULL,
    document_hash bytea       NOT NULL CHECK (octet_length(document_hash) = 32),
    appended_at   timestamptz NOT NULL
);
CREATE INDEX merkle_log_leaves_contract_id ON merkle_log_leaves (contract_id);

-- A perfect subtree: the 2^level leaves from node_index * 2^level (level 0 lives in the leaves).
CREATE TABLE merkle_log_nodes (
    level      integer NOT NULL CHECK (level BETWEEN 1 AND 63),
    node_index bigint  NOT NULL CHECK (node_index >= 0),
    hash       bytea   NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, node_index)
);

-- timestamp_ms and the signature as signed: see tree_head_bytes in src/archive/merkle_log.rs.
CREATE TABLE merkle_log_tree_heads (
    tree_size     bigint PRIMARY KEY CHECK (tree_size >= 1),
    root_hash     bytea  NOT NULL CHECK (octet_length(root_hash) = 32),
    timestamp_ms  bigint NOT NULL CHECK (timestamp_ms >= 0),
    signature     bytea  NOT NULL,
    signer_serial text   NOT NULL
);

CREATE FUNCTION merkle_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the Merkle log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'E5001';
END
$$;

CREATE TRIGGER merkle_log_leaves_refuse_change BEFORE UPDATE OR DELETE ON merkle_log_leaves
    FOR EACH ROW EXECUTE FUNCTION merkle_log_refuse_change();
CREATE TRIGGER merkle_log_leaves_refuse_truncate BEFORE TRUNCATE ON merkle_log_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION merkle_log_refuse_change();
CREATE TRIGGER merkle_log_nodes_refuse_change BEFORE UPDATE OR DELETE ON merkle_log_nodes
    FOR EACH ROW EXECUTE FUNCTION merkle_log_refuse_change();
CREATE TRIGGER merkle_log_nodes_refuse_truncate BEFORE TRUNCATE ON merkle_log_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION merkle_log_refuse_change();
CREATE TRIGGER merkle_log_tree_heads_refuse_change BEFORE UPDATE OR DELETE ON merkle_log_tree_heads
    FOR EACH ROW EXECUTE FUNCTION merkle_log_refuse_change();
CREATE TRIGGER merkle_log_tree_heads_refuse_truncate BEFORE TRUNCATE ON merkle_log_tree_heads
    FOR EACH STATEMENT EXECUTE FUNCTION merkle_log_refuse_change();
