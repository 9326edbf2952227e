-- Admins manage people: sessions signed in before this instant no longer count (disable,
-- reset of second factors); links that let a person choose their password; users listed
-- newest first with keyset pages.
ALTER TABLE users ADD COLUMN sessions_valid_after BIGINT NOT NULL DEFAULT 0;
CREATE INDEX users_by_created ON users (created_at, id);
CREATE INDEX memberships_by_tenant ON memberships (tenant_id, user_id);

CREATE TABLE password_links (
    token_hash      TEXT PRIMARY KEY,                -- SHA-256 of the link's token
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT                           -- set once, by an atomic conditional UPDATE
);
CREATE INDEX password_links_by_user ON password_links (user_id);

-- Tenant-level consent: per MCP server, whether a tenant admin's approval of an agent is not
-- used, required before people may consent, or replaces their consent.
ALTER TABLE mcp_servers ADD COLUMN tenant_consent TEXT NOT NULL DEFAULT 'off';  -- off | required | replaces
CREATE TABLE tenant_approvals (
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    mcp_server_id   TEXT NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
    decision        TEXT NOT NULL,                   -- approved | blocked
    scopes          TEXT NOT NULL DEFAULT '[]',      -- JSON: what an approval covers
    decided_by      TEXT,
    decided_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, agent_id, mcp_server_id)
);
