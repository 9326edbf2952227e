#!/usr/bin/env bash
# Side-by-side load benchmark: Mandate (release build, SQLite, every issuance audited) against the
# reference node-oidc-provider setup in ../shared/bench, in one sitting, on loopback only, with
# each server pinned to one core and the load generator (wrk) to the other. Every run is bounded
# (WARMUP + DURATION seconds per scenario). Prints a summary table; compare ratios, not absolutes.
#
#   scripts/bench.sh                    # needs wrk (apt-get install wrk) and node
#   DURATION=10 scripts/bench.sh        # shorter runs
#
# Scenarios: coldstart, discovery, jwks, cc (client_credentials, ES256 JWT), introspect, refresh.
# Introspection runs twice for Mandate: with its default audit window (repeats of one answer
# counted, not each recorded) and with every answer recorded (phase mandate-every-introspection).
# The "ceiling" phase runs cc against examples/bench_ceiling.rs, a server that only signs the
# same ES256 token: Mandate's cc rate over it is the share of what signing alone allows.
# Refresh: the reference replays one refresh token (node-oidc-provider does not rotate a
# confidential client's until 70 % of its life); Mandate rotates every one and a replay ends the
# family, so Mandate's run chains them (scripts/bench/refresh_chain.lua: each answer's new token
# is presented next), measured the same way. The authorization-code flow is not compared: its
# sign-in is a different form flow.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v wrk >/dev/null || apt_install wrk
BENCH_SRC="${MANDATE_BENCH_DIR:-$ROOT/../shared/bench}"
WORK="$(mktemp -d -t mandate-bench-XXXXXX)"
cp -R "$BENCH_SRC" "$WORK/bench"
(cd "$WORK/bench" && npm ci --no-audit --no-fund --loglevel=error)
export OUTDIR="$WORK/results"
mkdir -p "$OUTDIR"

say "building Mandate (release) and the signing-only ceiling (examples/bench_ceiling.rs)"
cargo build -p server --release --bin mandate --example bench_ceiling
BIN="$CARGO_TARGET_DIR/release/mandate"
CEILING_BIN="$CARGO_TARGET_DIR/release/examples/bench_ceiling"

say "preparing Mandate's database: demo seed and a confidential client"
export BENCH_DATA="$WORK/mandate-data"
RESOURCE_URL="https://api.example.test"
USER_PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"
MANDATE_DATA_DIR="$BENCH_DATA" "$BIN" seed demo --resource-url "$RESOURCE_URL" --user-password "$USER_PASSWORD" >/dev/null
MANDATE_DATA_DIR="$BENCH_DATA" MANDATE_BIND=127.0.0.1:3099 MANDATE_PUBLIC_URL=http://127.0.0.1:3000 MANDATE_LOG=warn "$BIN" serve &
setup_pid=$!
for _ in $(seq 1 200); do curl -fsS -o /dev/null http://127.0.0.1:3099/readyz 2>/dev/null && break; sleep 0.05; done
creds=$(curl -fsS -H 'content-type: application/json' \
  -d '{"client_name":"bench","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}' \
  http://127.0.0.1:3099/s/demo-notes/register)
# Refresh tokens from real authorization-code journeys (sign-in, organization, consent), more
# than the connections so that a warm-up run's losses (tokens in flight at its end) leave enough.
python3 "$ROOT/scripts/bench/refresh_tokens.py" http://127.0.0.1:3099 "$USER_PASSWORD" 160 "$RESOURCE_URL" >"$WORK/refresh.txt"
kill "$setup_pid"; wait "$setup_pid" 2>/dev/null || true
WEB_CREDS=$(head -1 "$WORK/refresh.txt")
tail -n +2 "$WORK/refresh.txt" >"$WORK/refresh-tokens.txt"
CC_ID=$(printf '%s' "$creds" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_id"])')
CC_SECRET=$(printf '%s' "$creds" | python3 -c 'import sys,json;print(json.load(sys.stdin)["client_secret"])')

say "reference: node-oidc-provider"
PHASE=node-oidc-provider SERVER_CMD="node $WORK/bench/server.mjs" SERVER_ENV="AT_FORMAT=jwt AT_ALG=ES256" \
  SCENARIOS="coldstart discovery jwks cc refresh" "$WORK/bench/bench.sh"
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

say "Mandate: introspection with every answer recorded"
# The harness introspects one token over and over; by default Mandate records the first answer per
# caller and token each minute and counts the rest (MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS). This
# phase records every one, as a resource server asking about many tokens would make it do.
PHASE=mandate-every-introspection SERVER_CMD="bash $WORK/serve.sh" \
  SERVER_ENV="MANDATE_AUDIT_INTROSPECTION_WINDOW_SECS=0" \
  DISCOVERY_PATH=/.well-known/oauth-authorization-server/s/demo-notes \
  TOKEN_PATH=/s/demo-notes/token INTROSPECT_PATH=/s/demo-notes/introspect \
  CC_ID="$CC_ID" CC_SECRET="$CC_SECRET" CC_SCOPE=notes.read RS_ID="$CC_ID" RS_SECRET="$CC_SECRET" \
  SCENARIOS="introspect" "$WORK/bench/bench.sh"

say "ceiling: an axum handler that only signs the ES256 token (client_credentials' upper bound)"
PHASE=ceiling SERVER_CMD="$CEILING_BIN" DISCOVERY_PATH=/ready TOKEN_PATH=/token \
  CC_ID="$CC_ID" CC_SECRET="$CC_SECRET" CC_SCOPE=notes.read SCENARIOS="cc" "$WORK/bench/bench.sh"

say "Mandate: chained refresh"
# As bench.sh's run_load: server pinned, a warm-up run, then the measured run with the server's
# CPU time and peak RSS.
BASIC_AUTH=$(printf '%s' "$WEB_CREDS" | python3 -c 'import sys,json,base64;c=json.load(sys.stdin);print(base64.b64encode((c["client_id"]+":"+c["client_secret"]).encode()).decode())')
export BASIC_AUTH REFRESH_TOKENS="$WORK/refresh-tokens.txt" WRK_DIR="$WORK/bench/wrk"
SERVER_CPUS=${SERVER_CPUS:-1} LOAD_CPUS=${LOAD_CPUS:-0} CONNS=${CONNS:-32} WARMUP=${WARMUP:-5} DURATION=${DURATION:-20}
PORT=3000 taskset -c "$SERVER_CPUS" bash "$WORK/serve.sh" >>"$OUTDIR/server-mandate-refresh.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 400); do curl -fsS -o /dev/null http://127.0.0.1:3000/readyz 2>/dev/null && break; sleep 0.05; done
refresh_load() {
  taskset -c "$LOAD_CPUS" wrk -t1 -c"$CONNS" -d"$1s" --timeout 10s -s "$ROOT/scripts/bench/refresh_chain.lua" \
    http://127.0.0.1:3000/s/demo-notes/token
}
refresh_load "$WARMUP" >/dev/null 2>&1 || true
ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
c0=$(ticks)
( while kill -0 "$server_pid" 2>/dev/null; do awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; sleep 0.2; done ) >"$OUTDIR/rss-mandate-refresh.txt" 2>/dev/null &
sampler=$!
refresh_load "$DURATION" >"$OUTDIR/mandate-refresh.txt" 2>&1
c1=$(ticks)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
python3 - "$(grep '^WRKJSON ' "$OUTDIR/mandate-refresh.txt" | sed 's/^WRKJSON //')" "$(( c1 - c0 ))" \
  "$(sort -n "$OUTDIR/rss-mandate-refresh.txt" | tail -1)" "$CONNS" "$SERVER_CPUS" "$LOAD_CPUS" "$(getconf CLK_TCK)" <<'PY' | tee -a "$OUTDIR/results.jsonl"
import json, sys
r = json.loads(sys.argv[1]); cpu = int(sys.argv[2]) / int(sys.argv[7]); n = r["requests"]
print(json.dumps({"phase": "mandate", "scenario": "refresh (chained)", "conns": int(sys.argv[4]),
  "server_cpus": sys.argv[5], "load_cpus": sys.argv[6], **r, "server_cpu_s": round(cpu, 2),
  "server_cpu_util": round(cpu / r["duration_s"], 2), "ops_per_server_cpu_s": round(n / cpu, 1) if cpu else None,
  "rss_max_kb": int(sys.argv[3] or 0)}))
PY

say "summary ($OUTDIR/results.jsonl)"
python3 "$WORK/bench/summarize.py" "$OUTDIR/results.jsonl" | tee "$OUTDIR/summary.md"
