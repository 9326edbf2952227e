#!/usr/bin/env bash
# Starts Mandate for the browser tests: a fresh data dir, the demo seeded with a known user
# password, then `serve`. Needs MANDATE_BIN (the built binary) and MANDATE_SITE_ROOT (the
# built front-end).
set -euo pipefail
: "${MANDATE_BIN:?set MANDATE_BIN to the mandate binary}"
: "${MANDATE_SITE_ROOT:?set MANDATE_SITE_ROOT to the built site folder}"
port="${E2E_PORT:-3100}"
data_dir="$(mktemp -d -t mandate-e2e-XXXXXX)"
export MANDATE_DATA_DIR="$data_dir"
export MANDATE_BIND="127.0.0.1:${port}"
export MANDATE_PUBLIC_URL="http://localhost:${port}"
unset MANDATE_DATABASE_URL MANDATE_MASTER_KEY MANDATE_MASTER_KEY_FILE MANDATE_CONFIG
MANDATE_DEMO_PASSWORD="${E2E_DEMO_PASSWORD:?}" "$MANDATE_BIN" seed demo \
  --resource-url "${E2E_MCP_RESOURCE:-http://localhost:4100/mcp}" >/dev/null
# One person per journey test, so a second factor enrolled by one test never meets another.
for who in totp stepup passkey revoke forged mcp; do
  tenants=(--tenant acme)
  [[ "$who" == totp || "$who" == mcp ]] && tenants+=(--tenant globex)
  MANDATE_USER_PASSWORD="$E2E_DEMO_PASSWORD" "$MANDATE_BIN" user add \
    --email "e2e-${who}@example.com" "${tenants[@]}" >/dev/null
done
exec "$MANDATE_BIN" serve
