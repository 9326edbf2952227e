-- Issuance hooks: per MCP server, an ordered list of HTTP endpoints called after consent and
-- before the authorization code is issued. Each may add claims to the access token, remove
-- scopes or deny. The HMAC key that signs the calls is sealed under the master key.
CREATE TABLE issuance_hooks (
    id              TEXT PRIMARY KEY,
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,                 -- called in ascending order
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    secret_sealed   BYTEA NOT NULL,                  -- the HMAC-SHA256 key, sealed (AES-256-GCM)
    secret_hint     TEXT NOT NULL,                   -- the key's last characters, to tell keys apart
    timeout_ms      BIGINT NOT NULL DEFAULT 2000,
    on_failure      TEXT NOT NULL DEFAULT 'deny',    -- deny | continue
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL
);
CREATE INDEX issuance_hooks_by_server ON issuance_hooks (mcp_server_id, position);

-- Claims the hooks added when the authorization was made; every access token of the family
-- (from the code and from each refresh) carries them.
ALTER TABLE token_families ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';
