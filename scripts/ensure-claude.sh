#!/usr/bin/env bash
# Print the path of a runnable `claude`: the one on PATH, else the pinned Claude Code CLI that
# ensure-cli.sh installs into .cache/npm (2.1.197: the version the rehearsal server was checked
# against).
exec "$(dirname "${BASH_SOURCE[0]}")/ensure-cli.sh" claude "@anthropic-ai/claude-code" "2.1.197"
