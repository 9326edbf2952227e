-- The end-user journey: second factors (TOTP, recovery codes, passkeys) and consent records.
-- Secrets: the TOTP secret is sealed under the master key; recovery codes are SHA-256 only.

CREATE TABLE totp_credentials (
    user_id         TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed   BYTEA NOT NULL,
    confirmed_at    BIGINT,                          -- NULL while enrolment awaits its first code
    last_step       BIGINT NOT NULL DEFAULT -1,      -- RFC 6238 §5.2: a step is accepted once
    created_at      BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash       TEXT NOT NULL,
    used_at         BIGINT,                          -- set once, by an atomic conditional UPDATE
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE passkeys (
    credential_id   TEXT PRIMARY KEY,                -- base64url, as the authenticator gave it
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    credential      TEXT NOT NULL,                   -- JSON of the stored passkey (public key, counter)
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- Every consent is recorded (the account page lists them); `remembered` ones let a later
-- request for the same or fewer scopes skip the consent screen.
ALTER TABLE grants ADD COLUMN remembered INTEGER NOT NULL DEFAULT 0;
CREATE INDEX grants_by_user ON grants (user_id);
