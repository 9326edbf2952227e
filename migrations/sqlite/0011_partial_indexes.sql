-- Indexes on columns an event or token often lacks hold only the rows that have a value.
-- A token issued to an agent for itself (client_credentials) has no user, tenant or family,
-- and its audit event no user or tenant: each such row used to add an entry under NULL to
-- these indexes, a B-tree insert and a page written to the log per commit, for lookups that
-- never ask for NULL (`col = $1` implies `col IS NOT NULL`, so the planner still uses them).
DROP INDEX audit_events_by_user;
CREATE INDEX audit_events_by_user ON audit_events (user_id, seq) WHERE user_id IS NOT NULL;
DROP INDEX audit_events_by_tenant;
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, seq) WHERE tenant_id IS NOT NULL;
DROP INDEX audit_events_by_agent;
CREATE INDEX audit_events_by_agent ON audit_events (agent_id, seq) WHERE agent_id IS NOT NULL;
DROP INDEX audit_events_by_server;
CREATE INDEX audit_events_by_server ON audit_events (mcp_server_id, seq) WHERE mcp_server_id IS NOT NULL;
DROP INDEX access_tokens_by_family;
CREATE INDEX access_tokens_by_family ON access_tokens (family_id) WHERE family_id IS NOT NULL;
