-- API clients added with `esign clients add` (clients from the configuration file are not stored).
-- The secret is needed in clear to verify HMAC signatures, so it is encrypted (AES-256-GCM, the
-- personal-data key, JSON of the sealed value), never hashed.
CREATE TABLE api_clients (
    client_id     TEXT    PRIMARY KEY,
    secret_sealed TEXT    NOT NULL,
    -- JSON array of CIDR ranges; empty = any address.
    allowed_ips   TEXT    NOT NULL DEFAULT '[]',
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    TEXT    NOT NULL
) STRICT;

-- Nonces seen inside the timestamp window, one row per (client, nonce) until the window has passed.
-- expires_at is Unix seconds.
CREATE TABLE api_nonces (
    client_id  TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, nonce)
) STRICT, WITHOUT ROWID;

CREATE INDEX api_nonces_expires_at ON api_nonces (expires_at);
