-- The OAuth authorization server: per-server protocol settings, agent allowances, codes,
-- token families, refresh tokens and issued access tokens. Secrets are stored as SHA-256 only.

ALTER TABLE mcp_servers ADD COLUMN refresh_token_ttl_secs BIGINT NOT NULL DEFAULT 1209600;   -- sliding: 14 days
ALTER TABLE mcp_servers ADD COLUMN refresh_token_max_secs BIGINT NOT NULL DEFAULT 7776000;   -- absolute: 90 days
ALTER TABLE mcp_servers ADD COLUMN dcr_redirect_hosts TEXT NOT NULL DEFAULT '[]';            -- JSON host patterns; [] = any
ALTER TABLE mcp_servers ADD COLUMN dcr_unused_expiry_secs BIGINT NOT NULL DEFAULT 2592000;   -- DCR agents unused this long expire
ALTER TABLE mcp_servers ADD COLUMN cimd_domains TEXT NOT NULL DEFAULT '[]';                  -- JSON approved CIMD host patterns
ALTER TABLE mcp_servers ADD COLUMN cimd_allow_unknown INTEGER NOT NULL DEFAULT 1;            -- may unlisted CIMD hosts register?

ALTER TABLE agents ADD COLUMN application_type TEXT NOT NULL DEFAULT 'web';                  -- web | native (RFC 7591)
ALTER TABLE agents ADD COLUMN registration_token_hash TEXT;                                  -- RFC 7592 access token, SHA-256
ALTER TABLE agents ADD COLUMN registered_at_server TEXT;                                     -- the MCP server whose /register created it
ALTER TABLE agents ADD COLUMN scope TEXT NOT NULL DEFAULT '';                                -- registered `scope` (informational, not a cap)
ALTER TABLE agents ADD COLUMN metadata_expires_at BIGINT;                                    -- CIMD: refetch after this

-- Which scopes an agent may ever get on a server. No row: every scope of the server.
CREATE TABLE agent_allowances (
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (agent_id, mcp_server_id)
);

-- One authorization and every token that descends from it; revoking it revokes them all.
CREATE TABLE token_families (
    id              TEXT PRIMARY KEY,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    user_id         TEXT REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT,
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    auth_time       BIGINT,                          -- when the user authenticated (unix ms)
    acr             TEXT,
    amr             TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,                 -- absolute refresh lifetime
    revoked_at      BIGINT,
    revoked_reason  TEXT
);
CREATE INDEX token_families_by_user ON token_families (user_id, agent_id);

CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    tenant_id       TEXT,
    mcp_server_id   TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    resource        TEXT NOT NULL,
    scopes          TEXT NOT NULL,                   -- space-separated
    auth_time       BIGINT NOT NULL,
    acr             TEXT,
    amr             TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT                           -- set once, by an atomic conditional UPDATE
);

CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,                 -- sliding lifetime of this token
    rotated_at      BIGINT                           -- set once when exchanged for a new one
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);

-- Issued access tokens by jti, so revocation and introspection can see them.
CREATE TABLE access_tokens (
    jti             TEXT PRIMARY KEY,
    family_id       TEXT,                            -- NULL for client_credentials
    agent_id        TEXT NOT NULL,
    mcp_server_id   TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);
