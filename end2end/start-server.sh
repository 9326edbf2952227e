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
# E2E_TLS_DIR holds what the tests need from here. Client ID Metadata Documents must be https: the MCP SDK test serves one on localhost with this
# self-signed certificate, which Mandate trusts through its test-only settings (logged loudly).
tls_dir="${E2E_TLS_DIR:?}"
mkdir -p "$tls_dir"
# A test CA, and a localhost certificate it signs (TLS libraries refuse a CA certificate as
# the server's own).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$tls_dir/ca-key.pem" -out "$tls_dir/ca.pem" -subj "/CN=Mandate e2e test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tls_dir/key.pem" -out "$tls_dir/cert.csr" -subj "/CN=localhost" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
  > "$tls_dir/leaf.ext"
openssl x509 -req -in "$tls_dir/cert.csr" -CA "$tls_dir/ca.pem" -CAkey "$tls_dir/ca-key.pem" \
  -CAcreateserial -days 1 -extfile "$tls_dir/leaf.ext" -out "$tls_dir/cert.pem" 2>/dev/null
export MANDATE_CIMD_ALLOW_LOOPBACK=true
export MANDATE_CIMD_EXTRA_CA_FILE="$tls_dir/ca.pem"
# The hooks test answers from a plain HTTP server on loopback.
export MANDATE_INTEGRATIONS_NETWORK=loopback
MANDATE_DEMO_PASSWORD="${E2E_DEMO_PASSWORD:?}" "$MANDATE_BIN" seed demo \
  --resource-url "${E2E_MCP_RESOURCE:-http://localhost:4100/mcp}" >/dev/null
# One person per journey test, so a second factor enrolled by one test never meets another.
for who in totp stepup passkey revoke forged mcp cimd tail policy hook vault; do
  tenants=(--tenant acme)
  [[ "$who" == totp || "$who" == mcp || "$who" == cimd ]] && tenants+=(--tenant globex)
  MANDATE_USER_PASSWORD="$E2E_DEMO_PASSWORD" "$MANDATE_BIN" user add \
    --email "e2e-${who}@example.com" "${tenants[@]}" >/dev/null
done
# Someone with a one-time password (as `admin create` gives): the new-password page test reads it.
# Admins made the same way, one per console test.
for who in owner auditor1 auditor2 auditor3 registrar keeper hooker ssoadmin vaulter; do
  "$MANDATE_BIN" admin create --email "e2e-${who}@example.com" |
    awk '/password:/ { print $2 }' > "$tls_dir/${who}-password"
done
exec "$MANDATE_BIN" serve
