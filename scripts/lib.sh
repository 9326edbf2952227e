# Shared by ./run and ./test: where builds go, and idempotent installs of what they need.
# Every install step checks first, so a warm machine pays nothing.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Cargo's output lives outside the clone so that repeated runs (and fresh clones) are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mandate/target}"
SITE_ROOT="$CARGO_TARGET_DIR/site"
# The wasm-bindgen CLI must equal the wasm-bindgen library in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock")"

say() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root for: $*" >&2; return 1; fi
}

apt_install() {
  say "installing $* (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2-3 minutes, once)"
    # Not --locked: its lock pins a webpki-roots release the registry does not serve.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

ensure_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
}

ensure_chromium() {
  if ! [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    apt_install chromium
  fi
  # The browser tests make a self-signed certificate for a Client ID Metadata Document.
  if ! command -v openssl >/dev/null; then
    apt_install openssl
  fi
  export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
}

# build_site: the hydration bundle (wasm + JS glue), the stylesheet and public assets,
# in the layout the server expects under MANDATE_SITE_ROOT.
build_site() {
  say "building the front-end (wasm)"
  (cd "$ROOT" && cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release)
  rm -rf "$SITE_ROOT.new" && mkdir -p "$SITE_ROOT.new/pkg"
  wasm-bindgen --target web --no-typescript --out-name mandate --out-dir "$SITE_ROOT.new/pkg" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
  cp "$ROOT/style/main.css" "$SITE_ROOT.new/pkg/mandate.css"
  cp -R "$ROOT/public/." "$SITE_ROOT.new/"
  rm -rf "$SITE_ROOT" && mv "$SITE_ROOT.new" "$SITE_ROOT"
  export MANDATE_SITE_ROOT="$SITE_ROOT"
}
