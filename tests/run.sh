#!/usr/bin/env bash
# The one test command: set up .venv from pyproject.toml (if missing or stale), then run pytest.
#   ./tests/run.sh                 # everything
#   ./tests/run.sh -m "not e2e"    # skip the real-CLI end-to-end tests
# Extra arguments go to pytest. The real Claude Code / Codex CLIs are installed on demand into
# .cache/cli/<package>@<version>/ by the tests that need them (scripts/ensure-claude.sh,
# scripts/ensure-codex.sh), at the current pins of agent_orchestrator/data/cli-versions.toml;
#   AO_CLI_PINS=previous ./tests/run.sh    # the same tests on the previous pair
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(scripts/bootstrap.sh)"
exec "$python" -m pytest "$@"
