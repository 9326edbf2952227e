-- Tokens are no longer indexed by family. Every issuance of a grant (authorization code,
-- refresh) inserted one entry into each of the two indexes by family, and since a family's
-- entries sit together, each entry landed on its own page in the middle of the index: two
-- random pages written per token, most of what a refresh batch wrote.
-- Nothing needs them any more: a family's refresh tokens and access tokens are read together
-- with the family (its `revoked_at` counts for them), so revoking a family updates only the
-- family's row. The refresh tokens' foreign key goes too: deleting a family would otherwise
-- scan the table for its tokens (there is no index to find them); a token whose family has
-- been deleted is never honoured, since every read joins the family.
DROP INDEX access_tokens_by_family;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_family_id_fkey;
DROP INDEX refresh_tokens_by_family;
