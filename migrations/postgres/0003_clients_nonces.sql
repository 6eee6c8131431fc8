-- API clients added with `esign clients add` (clients from the configuration file are not stored).
-- The secret is needed in clear to verify HMAC signatures, so it is encrypted (AES-256-GCM, the
-- personal-data key, JSON of the sealed value), never hashed.
CREATE TABLE api_clients (
    client_id     text        PRIMARY KEY,
    secret_sealed text        NOT NULL,
    -- JSON array of CIDR ranges; empty = any address.
    allowed_ips   text        NOT NULL DEFAULT '[]',
    admin         boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Nonces seen inside the timestamp window, one row per (client, nonce) until the window has passed.
-- UNLOGGED: no WAL, so a crash (or a failover to a replica) empties it. That forgets at most the last
-- five minutes of nonces; see docs/request-signing.md for what that means.
CREATE UNLOGGED TABLE api_nonces (
    client_id  text        NOT NULL,
    nonce      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, nonce)
);

CREATE INDEX api_nonces_expires_at ON api_nonces (expires_at);
