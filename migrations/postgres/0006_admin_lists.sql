-- The console's and admin API's agent list: newest first with keyset pagination, and the
-- filters it offers, stay index-backed at 100,000 agents.
CREATE INDEX agents_by_created ON agents (created_at, id);
CREATE INDEX agents_by_trust ON agents (trust_level, created_at);
CREATE INDEX agents_by_last_used ON agents (last_used_at);
CREATE INDEX agent_allowances_by_server ON agent_allowances (mcp_server_id);
CREATE INDEX grants_by_tenant ON grants (tenant_id, agent_id);
CREATE INDEX grants_by_server ON grants (mcp_server_id, agent_id);
