#!/bin/bash
# append-event.sh EVENT — one JSON line per agent-CLI hook event into $AO_HOOK_LOG:
#   {"ts": <epoch seconds>, "event": "EVENT", "data": <the JSON the CLI gave on stdin>}
# agent-orchestrator wires it into Claude Code (--settings) and Codex (-c hooks.*) for its agents.
# Cheap: bash builtins only, no fork for a line up to 4000 bytes (one write(2), which O_APPEND
# keeps whole against concurrent writers); a longer line (a prompt, a tool's input or output) goes
# through dd, which writes it in one write(2) too — bash would split it into several, and another
# hook's line could land between them. (Without GNU dd, bash's write: whole unless two hooks
# of the agent write at once.) Linear in the payload: ~0.1 ms per KB. Harmless: it always exits
# 0 and prints nothing (a hook's stdout and exit status 2 mean something to both CLIs), and it
# never waits on the watchdog, which may be down.
log="${AO_HOOK_LOG:-}"
data=""
IFS= read -r -d '' data || true
[ -n "$log" ] || exit 0
# One trailing newline goes (the line ends with our own). Not `${data%$'\n'}`: without a trailing
# newline — how both CLIs send it — bash tries every suffix, quadratic in the payload (400 KB: 3 s).
case "$data" in *[![:space:]]*) [ "${data: -1}" != $'\n' ] || data="${data:0:${#data}-1}" ;; *) data=null ;; esac
ts="${EPOCHREALTIME:-$(date +%s)}"
printf -v line '{"ts":%s,"event":"%s","data":%s}\n' "${ts/,/.}" "${1:-unknown}" "$data"
exec 9>>"$log" 2>/dev/null || exit 0
LC_ALL=C  # ${#line} counts bytes from here on
if (( ${#line} > 4000 )); then
    printf '%s' "$line" 2>/dev/null | dd bs=64M iflag=fullblock status=none >&9 2>/dev/null && exit 0
fi
printf '%s' "$line" >&9 2>/dev/null || true
exit 0
