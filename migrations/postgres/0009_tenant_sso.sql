-- Per-tenant single sign-on: a tenant's upstream OpenID provider, and which provider
-- identity (issuer, subject) is which Mandate user.
CREATE TABLE tenant_sso (
    tenant_id       TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    issuer_url      TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_sealed   BYTEA NOT NULL,                  -- the client secret, sealed (AES-256-GCM)
    scopes          TEXT NOT NULL DEFAULT '["openid","email","profile"]',
    email_domains   TEXT NOT NULL DEFAULT '[]',      -- JSON: domains this provider signs in
    enforce         INTEGER NOT NULL DEFAULT 0,      -- those people sign in only through it
    groups_claim    TEXT NOT NULL DEFAULT 'groups',
    role_mapping    TEXT NOT NULL DEFAULT '{}',      -- JSON: provider group -> Mandate roles
    updated_at      BIGINT NOT NULL
);

CREATE TABLE sso_identities (
    issuer          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sso_identities_by_user ON sso_identities (user_id);
