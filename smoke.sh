#!/usr/bin/env bash
# smoke.sh — the one "run it" command, offline, on a fresh machine:
#   1. bootstraps .venv and the Claude Code CLI at its current pin (agent_orchestrator/data/
#      cli-versions.toml: PATH's if it is that version, else installed into .cache/cli/;
#      AO_CLI_PINS=previous ./smoke.sh runs on the previous pin);
#   2. the demo team (agents.example.toml, no agent CLI needed): validate, up, status, send,
#      logs, down;
#   3. the main job, once: examples/builder-adversary — the real Claude Code CLI against the
#      scripted model, a Builder and an Adversary driven by the watchdog through two phases to
#      SEQUENCE-COMPLETE — then status, phase show and tokens, and everything torn down.
# Each part runs in its own sandbox (temp dir, private tmux socket, unique prefix). Teardown waits
# for every process of the sandbox (pane launchers included) to exit before it removes the
# folder, and checks that nothing is left — on success, failure and Ctrl-C.
#
# No `cmd | grep -q` here: under pipefail, grep -q exiting at the first match gives the writer a
# SIGPIPE and turns a found match into a failed check. Output is captured, then matched.
set -euo pipefail
cd "$(dirname "$0")"
repo="$PWD"

python="$(scripts/bootstrap.sh)"
claude="$(scripts/ensure-claude.sh)"
agents=("$python" -m agent_orchestrator)

sandbox="$(mktemp -d "${TMPDIR:-/tmp}/ao-smoke.XXXXXX")"
socket="ao-smoke-$$-$RANDOM"
prefix="smoke$$-"
proved=()

# Pids of processes started for the sandbox: their command line names it or they run in it.
sandbox_pids() {
    local proc cmdline cwd
    for proc in /proc/[0-9]*; do
        [[ "${proc#/proc/}" == "$$" || "${proc#/proc/}" == "$BASHPID" ]] && continue
        cmdline="$(tr '\0' ' ' 2>/dev/null < "$proc/cmdline")" || continue
        cwd="$(readlink "$proc/cwd" 2>/dev/null)" || cwd=""
        if [[ "$cmdline" == *"$sandbox"* || "$cwd" == "$sandbox" || "$cwd" == "$sandbox"/* ]]; then
            echo "${proc#/proc/}"
        fi
    done
}

# Wait (bounded) for the sandbox's processes to exit; SIGKILL what is still there at the end.
wait_sandbox_clear() {
    local left deadline=$((SECONDS + 15))
    while left="$(sandbox_pids)" && [[ -n "$left" ]]; do
        if (( SECONDS >= deadline )); then
            echo "smoke: killing processes still running in the sandbox: $(echo $left)" >&2
            kill -9 $left 2>/dev/null || true
            sleep 0.2
            return 1
        fi
        sleep 0.1
    done
    return 0
}

cleanup() {
    local status=$?
    trap - INT TERM
    cd "$repo"  # out of the sandbox, so this shell's own children do not count as left in it
    tmux -L "$socket" kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$socket"  # tmux 3.3a leaves the socket file behind
    if ! wait_sandbox_clear && [[ $status -eq 0 ]]; then
        echo "smoke: processes were left behind in the sandbox" >&2
        status=1
    fi
    rm -rf "$sandbox"
    if [[ -e "$sandbox" ]]; then
        echo "smoke: could not remove $sandbox" >&2
        [[ $status -eq 0 ]] && status=1
    fi
    if [[ $status -eq 0 ]]; then
        local summary="" item
        for item in "${proved[@]}"; do summary+="$item; "; done
        echo "smoke: ok — ${summary}nothing left behind"
    else
        echo "smoke: FAILED (exit $status)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

step "send alice a message"
message="hello from smoke.sh $$"
"${agents[@]}" send alice "$message"
echoed=""
for _ in $(seq 1 100); do
    screen="$("${agents[@]}" logs alice -n 20)" || screen=""
    if [[ "$screen" == *"echo: $message"* ]]; then echoed=yes; break; fi
    sleep 0.1
done
"${agents[@]}" logs alice -n 20
[[ -n "$echoed" ]] || { echo "smoke: alice did not echo the message" >&2; exit 1; }

step "down"
"${agents[@]}" down

step "verify nothing is left"
sessions="$(tmux -L "$socket" list-sessions -F '#{session_name}' 2>/dev/null)" || sessions=""
if [[ $'\n'"$sessions" == *$'\n'"$prefix"* ]]; then
    echo "smoke: sessions left behind:" >&2
    echo "$sessions" >&2
    exit 1
fi
"${agents[@]}" status
proved+=("demo team OK (up, status, send, logs, down)")

step "the main job: examples/builder-adversary with the real Claude Code CLI ($("$claude" --version 2>/dev/null || echo "$claude"))"
started=$SECONDS
"${agents[@]}" rehearse run "$repo/examples/builder-adversary" --claude "$claude" --timeout 270
proved+=("builder-adversary SEQUENCE-COMPLETE in $((SECONDS - started)) s")
