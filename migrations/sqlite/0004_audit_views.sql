-- The audit viewer, live tail and exports filter on these columns and page by seq (keyset):
-- each index ends in seq so "this agent's events before seq N, newest first" is one range scan.
CREATE INDEX audit_events_by_agent ON audit_events (agent_id, seq);
CREATE INDEX audit_events_by_user ON audit_events (user_id, seq);
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, seq);
CREATE INDEX audit_events_by_server ON audit_events (mcp_server_id, seq);
CREATE INDEX audit_events_by_type ON audit_events (event_type, seq);
CREATE INDEX audit_events_by_request ON audit_events (request_id);
CREATE INDEX audit_events_by_ip ON audit_events (client_ip);
