#!/usr/bin/env bash
# The one test command: set up .venv from pyproject.toml (if missing or stale), run the gates
# (ruff, mypy — zero findings), then pytest (doctests included) on every core.
#   ./tests/run.sh                 # everything
#   ./tests/run.sh -m "not e2e"    # skip the real-CLI end-to-end tests
# Extra arguments go to pytest. The real Claude Code / Codex CLIs are installed on demand into
# .cache/cli by the tests that need them (scripts/ensure-claude.sh, scripts/ensure-codex.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiled bytecode is kept, in .cache/pycache (out of the tree), even where the environment
# says not to write it (PYTHONDONTWRITEBYTECODE): otherwise every pytest worker rewrites and
# compiles every test module again (~3.5 s of CPU each) and every CLI, watchdog and server the
# tests start compiles the package and its libraries again (~0.15 s each).
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$PWD/.cache/pycache}"
# Host `b` of the multi-host tests is a private sshd on 127.0.0.1 (tests/support/sshd.py; nothing of
# the system's ssh config is used or touched): install the Debian package when sshd is missing —
# as root, or through passwordless sudo. Without it those tests skip and say why.
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ] && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then as_root=(); elif sudo -n true 2>/dev/null; then as_root=(sudo -n); else as_root=(false); fi
    install=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-server)
    echo "== apt-get install openssh-server (host b of the multi-host tests)" >&2
    "${install[@]}" >&2 || { "${as_root[@]}" apt-get update -q >&2 && "${install[@]}" >&2; } \
        || echo "openssh-server could not be installed (not root, no sudo?): the multi-host tests will skip" >&2
fi
python="$(scripts/bootstrap.sh)"
venv="$(dirname "$python")"
echo "== ruff check" >&2
"$venv/ruff" check .
echo "== mypy (strict on the core: model, state, decide, settle, policies, screen)" >&2
"$python" -m mypy
# Workers: 1.5 per core when the real-CLI tests run (they wait on the scripted model and the
# watchdog's ticks — load ~1.8 with 2 workers on 2 cores — but start Node CLIs that want a core;
# 2 per core made them flaky); 2 per core for `-m "not e2e"`, whose tests mostly wait on tmux,
# git and child processes (on 2 cores: ~115 s with 2 workers, ~60 s with 4). AO_TEST_WORKERS
# overrides.
# With the end-to-end tests, --maxschedchunk=1 hands tests out one at a time: by default
# pytest-xdist gives each worker a contiguous quarter of its share up front, and all of them
# (collected first, tests/conftest.py) landed on one worker, which ran them in a row while the
# others idled. Without them, `--dist worksteal` (an idle worker takes half of a busy one's
# queue) evens out the uneven real-tmux tests at the end (66 s → 62 s on 2 cores).
workers="${AO_TEST_WORKERS:-$(( (3 * $(nproc) + 1) / 2 ))}"
schedule=(--maxschedchunk=1)
prev=""
for arg in "$@"; do
    if [ "$prev" = "-m" ] && [ "$arg" = "not e2e" ]; then
        workers="${AO_TEST_WORKERS:-$(( 2 * $(nproc) ))}"
        schedule=(--dist worksteal)
    fi
    prev="$arg"
done
echo "== pytest ($workers workers)" >&2
exec "$python" -m pytest -n "$workers" "${schedule[@]}" "$@"
