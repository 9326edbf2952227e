#!/usr/bin/env bash
# Side-by-side load benchmark: Mandate (release build, SQLite, every issuance audited) against the
# reference node-oidc-provider setup in ../shared/bench, in one sitting, on loopback only, with
# each server pinned to one core and the load generator (wrk) to the other. Every run is bounded
# (WARMUP + DURATION seconds per scenario). Prints a summary table; compare ratios, not absolutes.
#
#   scripts/bench.sh                    # needs wrk (apt-get install wrk) and node
#   DURATION=10 scripts/bench.sh        # shorter runs
#
# Scenarios: coldstart, discovery, jwks, cc (client_credentials, ES256 JWT), introspect.
# (refresh and authcode are not comparable as the reference runs them: Mandate rotates refresh
# tokens, so a token cannot be replayed by wrk, and its sign-in is a different form flow.)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v wrk >/dev/null || apt_install wrk
BENCH_SRC="${MANDATE_BENCH_DIR:-$ROOT/../shared/bench}"
WORK="$(mktemp -d -t mandate-bench-XXXXXX)"
cp -R "$BENCH_SRC" "$WORK/bench"
(cd "$WORK/bench" && npm ci --no-audit --no-fund --loglevel=error)
export OUTDIR="$WORK/results"
mkdir -p "$OUTDIR"

say "building Mandate (release)"
cargo build -p server --release
BIN="$CARGO_TARGET_DIR/release/mandate"

say "preparing Mandate's database: demo seed and a confidential client"
export BENCH_DATA="$WORK/mandate-data"
RESOURCE_URL="https://api.example.test"
MANDATE_DATA_DIR="$BENCH_DATA" "$BIN" seed demo --resource-url "$RESOURCE_URL" >/dev/null
MANDATE_DATA_DIR="$BENCH_DATA" MANDATE_BIND=127.0.0.1:3099 MANDATE_PUBLIC_URL=http://127.0.0.1:3000 MANDATE_LOG=warn "$BIN" serve &
setup_pid=$!
for _ in $(seq 1 200); do curl -fsS -o /dev/null http://127.0.0.1:3099/readyz 2>/dev/null && break; sleep 0.05; done
creds=$(curl -fsS -H 'content-type: application/json' \
  -d '{"client_name":"bench","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}' \
  http://127.0.0.1:3099/s/demo-notes/register)
kill "$setup_pid"; wait "$setup_pid" 2>/dev/null || true
CC_ID=$(printf '%s' "$creds" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_id"])')
CC_SECRET=$(printf '%s' "$creds" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_secret"])')

say "reference: node-oidc-provider"
PHASE=node-oidc-provider SERVER_CMD="node $WORK/bench/server.mjs" SERVER_ENV="AT_FORMAT=jwt AT_ALG=ES256" \
  SCENARIOS="coldstart discovery jwks cc" "$WORK/bench/bench.sh"
PHASE=node-oidc-provider-opaque SERVER_CMD="node $WORK/bench/server.mjs" SERVER_ENV="AT_FORMAT=opaque AT_ALG=ES256" \
  SCENARIOS="introspect" "$WORK/bench/bench.sh"

say "Mandate"
cat > "$WORK/serve.sh" <<SERVE
#!/usr/bin/env bash
export MANDATE_BIND="127.0.0.1:\${PORT:-3000}" MANDATE_PUBLIC_URL="http://127.0.0.1:\${PORT:-3000}" MANDATE_DATA_DIR="$BENCH_DATA" MANDATE_LOG=warn
exec "$BIN" serve
SERVE
PHASE=mandate SERVER_CMD="bash $WORK/serve.sh" \
  DISCOVERY_PATH=/.well-known/oauth-authorization-server/s/demo-notes JWKS_PATH=/s/demo-notes/jwks.json \
  TOKEN_PATH=/s/demo-notes/token INTROSPECT_PATH=/s/demo-notes/introspect \
  CC_ID="$CC_ID" CC_SECRET="$CC_SECRET" CC_SCOPE=notes.read RS_ID="$CC_ID" RS_SECRET="$CC_SECRET" \
  SCENARIOS="coldstart discovery jwks cc introspect" "$WORK/bench/bench.sh"

say "summary ($OUTDIR/results.jsonl)"
python3 "$WORK/bench/summarize.py" "$OUTDIR/results.jsonl" | tee "$OUTDIR/summary.md"
