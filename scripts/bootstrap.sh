#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) from pyproject.toml; print its python.
#
# The venv is rebuilt when pyproject.toml changes (a stamp holds its hash), so a stale venv never
# hides a missing dependency. Needs python3 >= 3.11 with venv and pip (PyPI reachable).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
stamp="$venv/.ao-stamp"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: $python is missing or older than 3.11" >&2
    exit 1
fi

want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv" >&2
fi
if [[ ! -f "$stamp" ]] || [[ "$(cat "$stamp")" != "$want" ]]; then
    echo "bootstrap: installing agent-orchestrator and its test dependencies into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$repo[test]" >&2
    echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
