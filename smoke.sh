#!/usr/bin/env bash
# smoke.sh — the one "run it" command, offline, on a fresh machine:
#   1. bootstraps .venv and (if `claude` is not on PATH) a pinned Claude Code CLI in .cache/npm;
#   2. the demo team (agents.example.toml, no agent CLI needed): up, status, send, logs, down;
#   3. the main job: examples/builder-adversary — the real Claude Code CLI against the scripted
#      model, a Builder and an Adversary driven by the watchdog through two phases to
#      SEQUENCE-COMPLETE — then status, phase show and tokens, and everything torn down.
# Each part runs in its own sandbox (temp dir, private tmux socket, unique prefix) and verifies
# that nothing is left behind — on success, failure and Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")"
repo="$PWD"

python="$(scripts/bootstrap.sh)"
claude="$(scripts/ensure-claude.sh)"
agents=("$python" -m agent_orchestrator)

sandbox="$(mktemp -d "${TMPDIR:-/tmp}/ao-smoke.XXXXXX")"
socket="ao-smoke-$$-$RANDOM"
prefix="smoke$$-"

cleanup() {
    local status=$?
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$socket"  # tmux 3.3a leaves the socket file behind
    rm -rf "$sandbox"
    if [[ $status -eq 0 ]]; then echo "smoke: ok"; else echo "smoke: FAILED (exit $status)" >&2; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sandbox $sandbox (tmux socket $socket, prefix $prefix)"
# The example, pointed at the private socket, a unique prefix and a log folder in the sandbox.
"$python" - "$repo/agents.example.toml" "$sandbox/agents.toml" "$socket" "$prefix" <<'PY'
import sys, tomllib, tomli_w
src, dst, socket, prefix = sys.argv[1:]
with open(src, "rb") as fh:
    config = tomllib.load(fh)
config["defaults"].update(tmux_socket=socket, session_prefix=prefix, log_dir="run")
with open(dst, "wb") as fh:
    tomli_w.dump(config, fh)
PY
cd "$sandbox"

step "validate"
"${agents[@]}" validate

step "up"
"${agents[@]}" up

step "status"
"${agents[@]}" status

step "the main job: examples/builder-adversary with the real Claude Code CLI ($("$claude" --version 2>/dev/null || echo "$claude"))"
"${agents[@]}" rehearse run "$repo/examples/builder-adversary" --claude "$claude" --timeout 270

step "send alice a message"
message="hello from smoke.sh $$"
"${agents[@]}" send alice "$message"
for _ in $(seq 1 50); do
    if "${agents[@]}" logs alice -n 20 | grep -qF "echo: $message"; then break; fi
    sleep 0.1
done
"${agents[@]}" logs alice -n 20
"${agents[@]}" logs alice -n 20 | grep -qF "echo: $message" || { echo "smoke: alice did not echo the message" >&2; exit 1; }

step "down"
"${agents[@]}" down

step "verify nothing is left"
if tmux -L "$socket" list-sessions 2>/dev/null | grep -q "^$prefix"; then
    echo "smoke: sessions left behind:" >&2
    tmux -L "$socket" list-sessions >&2
    exit 1
fi
"${agents[@]}" status

step "the main job: examples/builder-adversary with the real Claude Code CLI ($("$claude" --version 2>/dev/null || echo "$claude"))"
"${agents[@]}" rehearse run "$repo/examples/builder-adversary" --claude "$claude" --timeout 270
