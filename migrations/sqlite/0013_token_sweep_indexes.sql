-- The token sweep (core/src/store/token_sweep.rs) deletes what can no longer be presented,
-- oldest first, from each table's index by expiry; access_tokens_by_expiry exists already.
-- Refresh tokens get none (every refresh would add an entry): the sweep pages through their
-- primary key instead.
CREATE INDEX token_families_by_expiry ON token_families (expires_at);
CREATE INDEX password_links_by_expiry ON password_links (expires_at);
-- Deleting a family deletes its authorization code (foreign key, cascade): without this index
-- each deleted family would read the whole codes table to find it.
CREATE INDEX authorization_codes_by_family ON authorization_codes (family_id);
