#!/usr/bin/env bash
# The one test command: set up .venv from pyproject.toml (if missing or stale), run the gates
# (ruff, mypy — zero findings), then pytest (doctests included) on every core.
#   ./tests/run.sh                 # everything
#   ./tests/run.sh -m "not e2e"    # skip the real-CLI end-to-end tests
# Extra arguments go to pytest. The real Claude Code / Codex CLIs are installed on demand into
# .cache/cli by the tests that need them (scripts/ensure-claude.sh, scripts/ensure-codex.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/bootstrap.sh)"
venv="$(dirname "$python")"
echo "== ruff check" >&2
"$venv/ruff" check .
echo "== mypy (strict on the core: model, state, decide, settle, policies, screen)" >&2
"$python" -m mypy
echo "== pytest" >&2
exec "$python" -m pytest -n auto "$@"
