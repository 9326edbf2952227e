-- Connections (the token vault): providers admins define, each owner's sealed tokens for one
-- provider, the connections policies that decide what an MCP server may get by token exchange,
-- and agents' own allowances for their machine tokens.
CREATE TABLE connection_providers (
    id                      TEXT PRIMARY KEY,
    slug                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL,                -- oauth2 | api_key
    authorization_endpoint  TEXT NOT NULL DEFAULT '',
    token_endpoint          TEXT NOT NULL DEFAULT '',
    client_id               TEXT NOT NULL DEFAULT '',
    secret_sealed           BLOB NOT NULL,               -- client secret, sealed (empty: none)
    scopes                  TEXT NOT NULL DEFAULT '[]',
    mcp_server_ids          TEXT NOT NULL DEFAULT '[]',   -- JSON: consent screens offering it
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE connections (
    id              TEXT PRIMARY KEY,
    provider_id     TEXT NOT NULL REFERENCES connection_providers(id) ON DELETE CASCADE,
    owner_kind      TEXT NOT NULL,                        -- user | tenant | agent
    owner_id        TEXT NOT NULL,
    tokens_sealed   BLOB NOT NULL,                       -- envelope-sealed VaultTokens JSON
    scopes          TEXT NOT NULL DEFAULT '[]',
    expires_at      BIGINT,
    refreshable     INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    UNIQUE (provider_id, owner_kind, owner_id)
);
CREATE INDEX connections_by_owner ON connections (owner_kind, owner_id);

CREATE TABLE connection_policies (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    conditions      TEXT NOT NULL DEFAULT '[]',
    allows          TEXT NOT NULL DEFAULT '[]',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE agent_connection_allowances (
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    provider_id     TEXT NOT NULL REFERENCES connection_providers(id) ON DELETE CASCADE,
    scopes          TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (agent_id, provider_id)
);
