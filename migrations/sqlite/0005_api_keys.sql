-- Admin API keys: shown once at creation, stored as SHA-256 (base64url), looked up by hash.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    -- the first characters of the key, to tell keys apart in the console
    hint            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    scope           TEXT NOT NULL,                   -- read | full
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
