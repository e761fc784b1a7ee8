#!/bin/bash
# append-event.sh EVENT — one JSON line per agent-CLI hook event into $AO_HOOK_LOG:
#   {"ts": <epoch seconds>, "event": "EVENT", "data": <the JSON the CLI gave on stdin>}
# agent-orchestrator wires it into Claude Code (--settings) and Codex (-c hooks.*) for its agents.
# Cheap: bash builtins only, no fork for a line under 4 KiB (one write(2), which O_APPEND keeps
# whole against concurrent writers); a longer line (a prompt, a tool's input) is written under
# flock(1) when it exists, because bash splits it into several writes. Harmless: it always exits
# 0 and prints nothing (a hook's stdout and exit status 2 mean something to both CLIs), and it
# never waits on the watchdog, which may be down.
log="${AO_HOOK_LOG:-}"
data=""
IFS= read -r -d '' data || true
[ -n "$log" ] || exit 0
case "$data" in *[![:space:]]*) data="${data%$'\n'}" ;; *) data=null ;; esac
ts="${EPOCHREALTIME:-$(date +%s)}"
printf -v line '{"ts":%s,"event":"%s","data":%s}\n' "${ts/,/.}" "${1:-unknown}" "$data"
exec 9>>"$log" 2>/dev/null || exit 0
if (( ${#line} > 4000 )) && command -v flock >/dev/null 2>&1; then
    flock -w 2 9 2>/dev/null || true
fi
printf '%s' "$line" >&9 2>/dev/null || true
exit 0
