"""Pane launcher: `python -m agent_orchestrator.spawn SPEC` execs the command a spec file names.

The spec is JSON `{"argv": [...], "cwd": "...", "env": {...}}` written by `tmux.write_spec`.
Going through a file keeps config and prompt text away from any shell and from tmux's command
parser, and lifts tmux's message-size limit on long kickoffs. On exec the launcher is replaced by
the agent, which keeps the pane's pid. A missing program is reported on the pane and exits 127,
so the pane shows as dead with a reason instead of vanishing.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    """Exec the spec at argv[0]; returns an exit status only when exec is impossible."""
    if len(argv) != 1:
        print("usage: python -m agent_orchestrator.spawn SPEC.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as fh:
            spec = json.load(fh)
        command = [str(a) for a in spec["argv"]]
        cwd = spec.get("cwd") or os.getcwd()
        env = {**os.environ, **{str(k): str(v) for k, v in spec.get("env", {}).items()}}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"agent-orchestrator: cannot read launch spec {argv[0]}: {exc}", file=sys.stderr)
        return 2
    try:
        os.chdir(cwd)
    except OSError as exc:
        print(f"agent-orchestrator: cannot enter {cwd}: {exc.strerror}", file=sys.stderr)
        return 126
    try:
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        print(f"agent-orchestrator: cannot start {command[0]!r}: not found on PATH", file=sys.stderr)
        return 127
    except OSError as exc:
        print(f"agent-orchestrator: cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 126
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
