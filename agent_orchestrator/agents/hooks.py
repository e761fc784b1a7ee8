"""Wiring the agent CLIs' own hooks to an append-only event file per agent.

Every hook runs one packaged script (`data/hooks/append-event.sh EVENT`) that appends
`{"ts", "event", "data"}` as one JSON line to `$AO_HOOK_LOG` (`<log_dir>/hooks/<agent>.jsonl`).
No config text ever lands in a shell command string: Claude runs the script in exec form (no
shell), Codex runs the constant text `"$AO_HOOK" EVENT`; the script's path and the log's path
travel in the agent's environment (`AO_HOOK`, `AO_HOOK_LOG`).

- Claude Code (checked on 2.1.197 and 2.1.332): a generated settings layer,
  `claude --settings <log_dir>/hooks/<agent>.claude-settings.json`, added to — never replacing —
  the user's own settings. Events: SessionStart, UserPromptSubmit, PreToolUse, PostToolUse,
  Stop, StopFailure (a turn ended by an API error), Notification, PermissionRequest, PreCompact,
  SessionEnd.
- Codex (checked on 0.169.0 and 0.171.0): `-c hooks.<Event>=[…]` per event (the session-flags
  layer; nothing in the user's hooks.json). Codex runs only trusted hooks; without trust it opens
  a "Hooks need review" dialog. The trust of exactly these commands — a sha256 of each handler,
  as Codex computes it — is appended to `$CODEX_HOME/config.toml` under
  `[hooks.state."/<session-flags>/config.toml:<event>:0:0"]` (only the tables that are missing;
  the file is never rewritten). Events: SessionStart (at the first prompt, not at start-up),
  UserPromptSubmit, PreToolUse, PostToolUse, PermissionRequest, Stop, Interrupt, SessionEnd.
  Codex has no StopFailure: a turn that dies on an API error fires no hook (the screen and the
  rollout tell).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir

if TYPE_CHECKING:
    from agent_orchestrator.runtime.files import Files

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "hooks" / "append-event.sh"

CLAUDE_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "StopFailure",
                 "Notification", "PermissionRequest", "PreCompact", "SessionEnd")
CODEX_EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Stop",
                "Interrupt", "SessionEnd")
HOOK_TIMEOUT = 5  # seconds a CLI gives one hook before it gives up on it (ours takes a few ms)
# Codex 0.171.0 clamps the SessionEnd and Interrupt hook timeouts to 3 s (and hashes the clamped
# value into its trust): those get 1 s, their default; Claude gives SessionEnd ~1.5 s anyway.
SHORT_EVENTS = frozenset({"SessionEnd", "Interrupt"})


def timeout_of(event: str) -> int:
    """The hook timeout (seconds) we configure for `event`."""
    return 1 if event in SHORT_EVENTS else HOOK_TIMEOUT
CODEX_SESSION_FLAGS = "/<session-flags>/config.toml"  # how Codex names the `-c` layer in hook trust keys


def hook_log(log_dir: Path, agent: str) -> Path:
    """`<log_dir>/hooks/<agent>.jsonl`: the agent's hook events, one JSON line each."""
    return Path(log_dir) / "hooks" / f"{agent}.jsonl"


def command(event: str) -> str:
    """The hook command Codex runs (through `bash -c`) for `event`: constant text."""
    return f'"$AO_HOOK" {event}'


def hook_env(log_dir: Path, agent: str) -> dict[str, str]:
    """The environment an agent's hooks need: the script and the agent's event file."""
    return {"AO_HOOK": str(SCRIPT), "AO_HOOK_LOG": str(hook_log(log_dir, agent))}


def claude_settings(log_dir: Path, agent: str) -> Path:
    """Write the agent's Claude Code settings layer (hooks only) and return its path.

    Each hook is in exec form (`command` + `args`: spawned directly, no shell; both 2.1.197 and
    2.1.332 take it), so even a script path with spaces needs no quoting.
    """
    hooks = {event: [{"hooks": [{"type": "command", "command": str(SCRIPT), "args": [event], "timeout": timeout_of(event)}]}]
             for event in CLAUDE_EVENTS}
    path = Path(log_dir) / "hooks" / f"{agent}.claude-settings.json"
    ensure_dir(path.parent, PRIVATE)
    text = json.dumps({"hooks": hooks}, indent=1)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _snake(event: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


def codex_trust_hash(event: str) -> str:
    """The `trusted_hash` Codex 0.169/0.171 records for our handler of `event`: sha256 of the
    compact, key-sorted JSON of `{"event_name", "hooks": [handler]}`."""
    handler = {"type": "command", "command": command(event), "timeout": timeout_of(event), "async": False}
    ident = {"event_name": _snake(event), "hooks": [handler]}
    text = json.dumps(ident, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _with_hash(want: str) -> Callable[[re.Match[str]], str]:
    def replace(m: re.Match[str]) -> str:
        return f'{m.group(1)}"{want}"'
    return replace


def codex_args() -> list[str]:
    """`-c hooks.<Event>=[…]` arguments for every Codex event we record."""
    args: list[str] = []
    for event in CODEX_EVENTS:
        value = f"[{{hooks=[{{type=\"command\",command={json.dumps(command(event))},timeout={timeout_of(event)}}}]}}]"
        args += ["-c", f"hooks.{event}={value}"]
    return args


def trust_codex_hooks(codex_home: Path) -> list[str]:
    """Append the trust of our `-c` hooks to `<codex_home>/config.toml`; return the events added.

    Only missing tables are appended (the user's text, comments and order stay as they are). A
    file that is not valid TOML is left alone (returns []): Codex will then show its review
    dialog, which the watchdog reports as a person being needed.
    """
    path = Path(codex_home) / "config.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    updated, added = codex_trusted_text(text)
    if updated is None or updated == text:
        return added
    if updated.startswith(text):  # only tables appended: append them (Codex may be writing the file too)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(updated[len(text):])
    else:
        path.write_text(updated, encoding="utf-8")
    return added


def codex_trusted_text(text: str) -> tuple[str | None, list[str]]:
    """(Codex config.toml text trusting our `-c` hooks, the events whose trust was added or
    fixed) for a config whose text is `text`; (None, []) when it is not valid TOML or the change
    would break it (e.g. `hooks` is an inline table there)."""
    try:
        state = tomllib.loads(text).get("hooks", {}).get("state", {})
    except tomllib.TOMLDecodeError:
        return None, []
    added: list[str] = []
    block = ""
    updated = text
    for event in CODEX_EVENTS:
        key = f"{CODEX_SESSION_FLAGS}:{_snake(event)}:0:0"
        want = codex_trust_hash(event)
        if isinstance(state, dict) and isinstance(state.get(key), dict) and state[key].get("trusted_hash") == want:
            continue
        if isinstance(state, dict) and key in state:
            # Our own table, with the hash of an earlier handler: fix that one line in place.
            header = re.escape(f'[hooks.state."{key}"]')
            line = re.compile("(" + header + r'\s*\ntrusted_hash\s*=\s*)"[^"\n]*"')
            updated, n = line.subn(_with_hash(want), updated, count=1)
            if n:
                added.append(event)
            continue
        block += f'\n[hooks.state."{key}"]\ntrusted_hash = "{want}"\n'
        added.append(event)
    if updated != text:
        try:
            tomllib.loads(updated)
        except tomllib.TOMLDecodeError:
            return None, []
    if not block:
        return updated, added
    addition = ("" if not updated or updated.endswith("\n") else "\n") + "# agent-orchestrator: trust for its hook recorder" + block
    try:
        tomllib.loads(updated + addition)
    except tomllib.TOMLDecodeError:
        return None, []  # e.g. `hooks` is an inline table there: appending would break the file
    return updated + addition, added


def remote_hook_launch(screen: str, log_dir: PurePath, agent: str, env: dict[str, str], *, files: Files,
                       script: str) -> tuple[list[str], dict[str, str]]:
    """`hook_launch` for an agent on a `[[host]]`: `log_dir` is that host's, `script` the hook
    recorder copied there (runtime/remote.py), `files` writes the settings layer / Codex trust
    there (one call to read, one to write). Raises OSError (HostUnreachable)."""
    extra_env = {"AO_HOOK": script, "AO_HOOK_LOG": str(PurePath(log_dir) / "hooks" / f"{agent}.jsonl")}
    if screen == "claude":
        hooks = {event: [{"hooks": [{"type": "command", "command": script, "args": [event], "timeout": timeout_of(event)}]}]
                 for event in CLAUDE_EVENTS}
        path = str(PurePath(log_dir) / "hooks" / f"{agent}.claude-settings.json")
        files.write_texts({path: json.dumps({"hooks": hooks}, indent=1)})
        return ["--settings", path], extra_env
    if screen == "codex":
        home = env.get("CODEX_HOME") or str(PurePath(env.get("HOME") or "~") / ".codex")
        config = str(PurePath(home) / "config.toml")
        text = files.read_texts([config]).get(config) or ""
        updated, _ = codex_trusted_text(text)
        if updated is not None and updated != text:
            files.write_texts({config: updated})
        return codex_args(), extra_env
    return [], {}


def wired(screen: str, enabled: bool) -> bool:
    """Whether hooks are wired for a backend: `hooks = true` on a claude or codex screen set."""
    return enabled and screen in ("claude", "codex")


def hook_launch(screen: str, log_dir: Path, agent: str, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """(arguments to put right after the CLI's executable, environment to add) that wire the
    agent's hooks, writing the Claude settings layer / the Codex hook trust on the way.

    `env` is the agent's launch environment (it may set HOME or CODEX_HOME); Codex's home is
    `CODEX_HOME`, else `$HOME/.codex`. Raises OSError when a file cannot be written.
    """
    extra_env = hook_env(log_dir, agent)
    ensure_dir(hook_log(log_dir, agent).parent, PRIVATE)
    if screen == "claude":
        return ["--settings", str(claude_settings(log_dir, agent))], extra_env
    if screen == "codex":
        home = env.get("CODEX_HOME") or str(Path(env.get("HOME") or Path.home()) / ".codex")
        trust_codex_hooks(Path(home))
        return codex_args(), extra_env
    return [], {}
