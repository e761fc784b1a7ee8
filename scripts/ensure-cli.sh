#!/usr/bin/env bash
# ensure-cli.sh NAME PACKAGE VERSION — print the path of a runnable agent CLI `NAME`.
#
# Uses the one on PATH if there is one; otherwise installs the pinned version into
# <repo>/.cache/npm (npm --prefix, never a global install) and reuses it on later runs.
# Pinned because the rehearsal server's wire format was checked against this version.
# Exits 1 with a message on stderr if npm is missing or the install fails.
set -euo pipefail
if [[ $# -ne 3 ]]; then echo "usage: ensure-cli.sh NAME PACKAGE VERSION" >&2; exit 2; fi

NAME="$1"
PACKAGE="$2"
VERSION="$3"

if command -v "$NAME" >/dev/null 2>&1; then
    command -v "$NAME"
    exit 0
fi

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo/.cache/npm"
bin="$prefix/node_modules/.bin/$NAME"

installed_version() {
    local manifest="$prefix/node_modules/$PACKAGE/package.json"
    [[ -f "$manifest" ]] || return 1
    node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null
}

if [[ -x "$bin" ]] && [[ "$(installed_version || true)" == "$VERSION" ]]; then
    echo "$bin"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "ensure-cli($NAME): npm not found; install Node.js (>= 18) with npm, or put $NAME on PATH" >&2
    exit 1
fi

mkdir -p "$prefix"
# Quiet on success; on failure show what npm said.
if ! log="$(npm install --prefix "$prefix" --save-exact --no-audit --no-fund --loglevel=error \
        "$PACKAGE@$VERSION" 2>&1)"; then
    echo "$log" >&2
    echo "ensure-cli($NAME): npm install of $PACKAGE@$VERSION into $prefix failed" >&2
    exit 1
fi

if [[ ! -x "$bin" ]]; then
    echo "ensure-cli($NAME): installed $PACKAGE@$VERSION but $bin is missing" >&2
    exit 1
fi
echo "$bin"
