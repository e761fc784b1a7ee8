#!/usr/bin/env bash
# Print the path of a runnable `claude` at the pinned Claude Code version of the tested matrix
# (agent_orchestrator/data/cli-versions.toml; current by default, --previous or
# AO_CLI_PINS=previous for the previous one): PATH's when its version matches, else the copy
# ensure-cli.sh keeps in .cache/cli/claude-code@<version>/. Options: see ensure-cli.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/ensure-cli.sh" "$@" claude
