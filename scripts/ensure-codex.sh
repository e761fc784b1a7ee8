#!/usr/bin/env bash
# Print the path of a runnable `codex` at the pinned Codex CLI version of the tested matrix
# (agent_orchestrator/data/cli-versions.toml; current by default, --previous or
# AO_CLI_PINS=previous for the previous one): PATH's when its version matches, else the copy
# ensure-cli.sh keeps in .cache/cli/codex@<version>/. Options: see ensure-cli.sh --help.
exec "$(dirname "${BASH_SOURCE[0]}")/ensure-cli.sh" "$@" codex
