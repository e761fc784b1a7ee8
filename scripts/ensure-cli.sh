#!/usr/bin/env bash
# ensure-cli.sh [--current | --previous | --version V] [--from-path] [--print-version] NAME
#
# Print the path of a runnable agent CLI NAME (claude, codex) at the version pinned in the tested
# matrix, agent_orchestrator/data/cli-versions.toml (the one file the Python side reads too).
#
# Which version (first that is given wins):
#   --current | --previous | --version V      flags
#   AO_<NAME>_VERSION=V|current|previous      per CLI, e.g. AO_CLAUDE_VERSION=2.1.197
#   AO_CLI_PINS=current|previous              every CLI at once
#   current                                   the default
# A version outside the matrix is installed too, with a warning that it is untested.
#
# Where from:
#   1. NAME on PATH, when its `--version` is the selected version. Any other version on PATH is
#      passed over (with a note on stderr) unless --from-path or AO_CLI_FROM_PATH=1, which take
#      whatever PATH has.
#   2. else <cache>/<package basename>@<version>/ (npm --prefix, never a global install), where
#      <cache> is AO_CLI_CACHE or <repo>/.cache/cli: reused when it holds that version,
#      installed there otherwise (into a temp folder beside it, renamed into place when done).
# --print-version prints the selected version and exits (installs nothing).
# Exits 1 with a message on stderr if npm is missing or the install fails; 2 on bad usage.
set -euo pipefail

usage() { echo "usage: ensure-cli.sh [--current | --previous | --version V] [--from-path] [--print-version] NAME" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
matrix="$repo/agent_orchestrator/data/cli-versions.toml"

NAME=""
choice=""
from_path="${AO_CLI_FROM_PATH:-}"
print_version=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --current) choice=current ;;
        --previous) choice=previous ;;
        --version) [[ $# -ge 2 ]] || usage; choice="$2"; shift ;;
        --version=*) choice="${1#--version=}" ;;
        --from-path) from_path=1 ;;
        --print-version) print_version=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) echo "ensure-cli: unknown option $1" >&2; usage ;;
        *) [[ -z "$NAME" ]] || usage; NAME="$1" ;;
    esac
    shift
done
[[ -n "$NAME" ]] || usage

# `key = "value"` of table [cli] in the matrix (flat TOML: see the file's header).
matrix_get() {
    awk -v section="[$1]" -v key="$2" '
        /^[[:space:]]*(#|$)/ { next }
        /^[[:space:]]*\[/ { gsub(/[[:space:]]/, ""); in_section = ($0 == section); next }
        in_section {
            line = $0
            sub(/^[[:space:]]*/, "", line)
            if (index(line, key) != 1) next
            rest = substr(line, length(key) + 1)
            if (rest !~ /^[[:space:]]*=[[:space:]]*"/) next
            sub(/^[[:space:]]*=[[:space:]]*"/, "", rest)
            sub(/".*$/, "", rest)
            print rest
            exit
        }' "$matrix"
}

PACKAGE="$(matrix_get "$NAME" package)"
CURRENT="$(matrix_get "$NAME" current)"
PREVIOUS="$(matrix_get "$NAME" previous)"
if [[ -z "$PACKAGE" || -z "$CURRENT" ]]; then
    echo "ensure-cli: $NAME is not in the tested matrix $matrix" >&2
    exit 2
fi

per_cli="AO_$(echo "$NAME" | tr '[:lower:]-' '[:upper:]_')_VERSION"
if [[ -z "$choice" && -n "${!per_cli:-}" ]]; then
    choice="${!per_cli}"
elif [[ -z "$choice" ]]; then
    choice="${AO_CLI_PINS:-current}"
    [[ "$choice" == current || "$choice" == previous ]] || {
        echo "ensure-cli($NAME): AO_CLI_PINS='$choice': expected current or previous" >&2; exit 2; }
fi
case "$choice" in
    current) VERSION="$CURRENT" ;;
    previous) VERSION="$PREVIOUS"
        [[ -n "$VERSION" ]] || { echo "ensure-cli($NAME): no previous version in $matrix" >&2; exit 2; } ;;
    [0-9]*) VERSION="$choice" ;;
    *) echo "ensure-cli($NAME): '$choice' is not current, previous or a version" >&2; exit 2 ;;
esac
if [[ "$VERSION" != "$CURRENT" && "$VERSION" != "$PREVIOUS" ]]; then
    echo "ensure-cli($NAME): $VERSION is not in the tested matrix ($CURRENT, $PREVIOUS); installing it anyway" >&2
fi
if [[ -n "$print_version" ]]; then
    echo "$VERSION"
    exit 0
fi

# The version a CLI reports (first x.y.z in its --version output), run in a throwaway HOME:
# Codex writes helper files under $CODEX_HOME (default ~/.codex) even for --version.
reported_version() {
    local scratch out limit=()
    command -v timeout >/dev/null 2>&1 && limit=(timeout 60)
    scratch="$(mktemp -d)"
    out="$(env -u CODEX_HOME -u CLAUDE_CONFIG_DIR HOME="$scratch" ${limit[@]+"${limit[@]}"} "$1" --version 2>/dev/null </dev/null || true)"
    rm -rf "$scratch"
    # the first x.y.z of the output; no `| head`: under pipefail a writer cut off early fails
    [[ "$out" =~ [0-9]+\.[0-9]+\.[0-9]+ ]] && printf '%s\n' "${BASH_REMATCH[0]}"
    return 0
}

if on_path="$(command -v "$NAME" 2>/dev/null)"; then
    if [[ -n "$from_path" && "$from_path" != 0 ]]; then
        echo "$on_path"
        exit 0
    fi
    found="$(reported_version "$on_path")"
    if [[ "$found" == "$VERSION" ]]; then
        echo "$on_path"
        exit 0
    fi
    echo "ensure-cli($NAME): $on_path is ${found:-of unknown version}, not the selected $VERSION; using the pinned copy (AO_CLI_FROM_PATH=1 or --from-path takes PATH's)" >&2
fi

cache="${AO_CLI_CACHE:-$repo/.cache/cli}"
prefix="$cache/${PACKAGE##*/}@$VERSION"
bin="$prefix/node_modules/.bin/$NAME"

# The version of PACKAGE installed under a prefix (its package.json), or nothing.
installed_version() {
    local manifest="$1/node_modules/$PACKAGE/package.json"
    [[ -f "$manifest" ]] || return 0
    if command -v node >/dev/null 2>&1; then
        node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || true
    else  # the native Claude Code binary runs without node: read the field plainly
        sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p;T;q' "$manifest"  # the first one, then stop
    fi
}

if [[ -x "$bin" ]] && [[ "$(installed_version "$prefix")" == "$VERSION" ]]; then
    echo "$bin"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "ensure-cli($NAME): npm not found; install Node.js (>= 18) with npm, or put $NAME $VERSION on PATH" >&2
    exit 1
fi

mkdir -p "$cache"
partial="$(mktemp -d "$cache/.${PACKAGE##*/}@$VERSION.partial.XXXXXX")"
chmod 755 "$partial"  # mktemp's 0700 would hide the copy from other users of the checkout
trap 'rm -rf "$partial"' EXIT
# Quiet on success; on failure show what npm said. --engine-strict=false: Claude Code 2.1.332
# declares node >= 22 but installs and runs on node 20 (see the matrix file).
if ! log="$(npm install --prefix "$partial" --save-exact --no-audit --no-fund --loglevel=error \
        --engine-strict=false "$PACKAGE@$VERSION" 2>&1)"; then
    echo "$log" >&2
    echo "ensure-cli($NAME): npm install of $PACKAGE@$VERSION failed" >&2
    exit 1
fi
if [[ ! -x "$partial/node_modules/.bin/$NAME" ]] || [[ "$(installed_version "$partial")" != "$VERSION" ]]; then
    echo "ensure-cli($NAME): installed $PACKAGE@$VERSION but node_modules/.bin/$NAME is missing" >&2
    exit 1
fi
# Into place: a stale or broken copy goes; a good one another run finished meanwhile stays.
if [[ -x "$bin" ]] && [[ "$(installed_version "$prefix")" == "$VERSION" ]]; then
    echo "$bin"
    exit 0
fi
rm -rf "$prefix"
mv "$partial" "$prefix"
rm -rf "$prefix/${partial##*/}"  # another run renamed its copy in first: ours landed inside it
echo "$bin"
