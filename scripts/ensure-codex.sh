#!/usr/bin/env bash
# Print the path of a runnable `codex`: the one on PATH, else the pinned Codex CLI that
# ensure-cli.sh installs into .cache/npm (0.169.0: the version the rehearsal server was checked
# against).
exec "$(dirname "${BASH_SOURCE[0]}")/ensure-cli.sh" codex "@openai/codex" "0.169.0"
