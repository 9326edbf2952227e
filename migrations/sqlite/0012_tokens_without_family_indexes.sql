-- Tokens are no longer indexed by family. Every issuance of a grant (authorization code,
-- refresh) inserted one entry into each of the two indexes by family, and since a family's
-- entries sit together, each entry landed on its own page in the middle of the index: two
-- random pages written to the log per token, most of what a refresh batch wrote.
-- Nothing needs them any more: a family's refresh tokens and access tokens are read together
-- with the family (its `revoked_at` counts for them), so revoking a family updates only the
-- family's row. The refresh tokens' foreign key goes too: deleting a family would otherwise
-- scan the table for its tokens (there is no index to find them); a token whose family has
-- been deleted is never honoured, since every read joins the family.
DROP INDEX access_tokens_by_family;
CREATE TABLE refresh_tokens_new (
    token_hash      TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL,                   -- token_families(id); read with it
    scopes          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,                 -- sliding lifetime of this token
    rotated_at      BIGINT                           -- set once when exchanged for a new one
);
INSERT INTO refresh_tokens_new (token_hash, family_id, scopes, created_at, expires_at, rotated_at)
    SELECT token_hash, family_id, scopes, created_at, expires_at, rotated_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
