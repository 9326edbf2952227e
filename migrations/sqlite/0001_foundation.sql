-- Mandate's first schema. Portable rules (ARCHITECTURE.md §2 store/): ids, JSON and URLs as TEXT,
-- times as BIGINT unix milliseconds, booleans as INTEGER 0/1. The PostgreSQL twin of this file
-- has the same name and the same tables; change both together, never edit an applied migration.

-- Facts about this deployment (e.g. the master-key check value), one row per key.
CREATE TABLE deployment (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE TABLE tenants (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    email_domains   TEXT NOT NULL DEFAULT '[]',      -- JSON array of lower-case domains
    logo_url        TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE users (
    id                      TEXT PRIMARY KEY,
    email                   TEXT NOT NULL UNIQUE,    -- lower-cased
    display_name            TEXT NOT NULL,
    password_hash           TEXT,                    -- argon2id PHC string; NULL: no password
    must_change_password    INTEGER NOT NULL DEFAULT 0,
    is_project_admin        INTEGER NOT NULL DEFAULT 0,
    disabled                INTEGER NOT NULL DEFAULT 0,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE memberships (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    roles           TEXT NOT NULL DEFAULT '[]',      -- JSON array
    permissions     TEXT NOT NULL DEFAULT '[]',      -- JSON array
    is_tenant_admin INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE mcp_servers (
    id                      TEXT PRIMARY KEY,
    slug                    TEXT NOT NULL UNIQUE,    -- issuer = {base}/s/{slug}
    name                    TEXT NOT NULL,
    description             TEXT NOT NULL DEFAULT '',
    resource_url            TEXT NOT NULL UNIQUE,    -- RFC 8707 resource; token aud
    access_token_ttl_secs   BIGINT NOT NULL DEFAULT 600,
    step_up_window_secs     BIGINT NOT NULL DEFAULT 300,
    dcr_enabled             INTEGER NOT NULL DEFAULT 1,
    cimd_enabled            INTEGER NOT NULL DEFAULT 1,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE scopes (
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    sensitive       INTEGER NOT NULL DEFAULT 0,
    mandatory       INTEGER NOT NULL DEFAULT 0,
    default_on      INTEGER NOT NULL DEFAULT 1,
    position        INTEGER NOT NULL DEFAULT 0,      -- display order
    PRIMARY KEY (mcp_server_id, name)
);

CREATE TABLE agents (
    id                          TEXT PRIMARY KEY,    -- the OAuth client_id
    name                        TEXT NOT NULL,
    kind                        TEXT NOT NULL,       -- manual | dcr | cimd
    trust_level                 TEXT NOT NULL,       -- verified | admin | dcr | cimd
    client_type                 TEXT NOT NULL,       -- public | confidential
    token_endpoint_auth_method  TEXT NOT NULL,
    client_secret_hash          TEXT,                -- SHA-256 hex of the secret, confidential only
    redirect_uris               TEXT NOT NULL DEFAULT '[]',
    grant_types                 TEXT NOT NULL DEFAULT '[]',
    tags                        TEXT NOT NULL DEFAULT '[]',
    logo_uri                    TEXT,
    metadata                    TEXT NOT NULL DEFAULT '{}',  -- the full registration metadata
    disabled                    INTEGER NOT NULL DEFAULT 0,
    created_at                  BIGINT NOT NULL,
    updated_at                  BIGINT NOT NULL,
    last_used_at                BIGINT
);
CREATE INDEX agents_by_kind ON agents (kind, created_at);

CREATE TABLE policies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    conditions      TEXT NOT NULL DEFAULT '[]',      -- JSON: AND-ed conditions
    allows          TEXT NOT NULL DEFAULT '[]',      -- JSON: [{mcp_server_id, scopes}]
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Remembered consent: granted AND rejected scopes per (user, agent, tenant, MCP server).
CREATE TABLE grants (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    granted_scopes  TEXT NOT NULL DEFAULT '[]',
    rejected_scopes TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT,
    UNIQUE (user_id, agent_id, tenant_id, mcp_server_id)
);
CREATE INDEX grants_by_agent ON grants (agent_id);

-- Token signing keys; the private key is sealed under the master key.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    alg             TEXT NOT NULL,
    public_jwk      TEXT NOT NULL,                   -- JSON
    private_sealed  BLOB NOT NULL,
    status          TEXT NOT NULL,                   -- active | retired
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT
);

-- The audit trail: append-only, hash-chained by seq.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY,             -- assigned by the single chain writer
    id              TEXT NOT NULL UNIQUE,
    occurred_at     BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    actor_kind      TEXT NOT NULL,
    actor_id        TEXT,
    agent_id        TEXT,
    user_id         TEXT,
    tenant_id       TEXT,
    mcp_server_id   TEXT,
    scopes_requested TEXT,
    scopes_granted  TEXT,
    policies        TEXT,
    client_ip       TEXT,
    user_agent      TEXT,
    request_id      TEXT,
    detail          TEXT NOT NULL DEFAULT '{}',
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (occurred_at);
