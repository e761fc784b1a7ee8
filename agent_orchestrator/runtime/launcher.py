"""Pane launcher: `python -m agent_orchestrator.runtime.launcher SPEC` runs the command a spec file names.

The spec is JSON `{"argv": [...], "cwd": "...", "env": {...}}` written by `tmux.write_spec`.
Going through a file keeps config and prompt text away from any shell and from tmux's command
parser, and lifts tmux's message-size limit on long kickoffs.

The launcher stays as the pane's process and runs the agent as a child in its own process group,
made the terminal's foreground group — so tmux's `pane_current_command` names the agent, and
keys typed into the pane (Ctrl-C) reach the agent, not the launcher. When the child ends, the
launcher records its exit in `<spec>.exit` (JSON: `pid`, `status` or `signal`, `started`,
`ended`, epoch seconds) and exits with the same status. That record exists because tmux 3.3a
loses `#{pane_dead_status}` for a good share of commands that exit quickly (seen here in a loop
of `python3 -c 'sys.exit(3)'`: most runs report no status). The child's pid is in `<spec>.pid`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path


def write_spec(spec_dir: Path, session: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Path:
    """Write the launch spec (argv, cwd, env) atomically to `spec_dir/<session>.json` (mode 0600)."""
    spec_dir.mkdir(parents=True, exist_ok=True)
    path = spec_dir / f"{session}.json"
    for stale in (path.with_name(path.name + ".exit"), path.with_name(path.name + ".pid")):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=spec_dir, prefix=".spec-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"argv": argv, "cwd": str(cwd), "env": env}, fh)
    os.replace(tmp, path)
    return path


def _read_record(spec_dir: Path, session: str, suffix: str) -> dict | None:
    try:
        data = json.loads((spec_dir / f"{session}.json{suffix}").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def exit_record(spec_dir: Path, session: str) -> dict | None:
    """The launcher's record of the session's last run: `pid`, `started`, `ended` (epoch seconds),
    `status` or `signal`; None while it runs or when there is none."""
    return _read_record(spec_dir, session, ".exit")


def exit_status(spec_dir: Path, session: str) -> int | None:
    """Exit status the launcher recorded for the session's last run (128 + signal if killed), or None."""
    record = exit_record(spec_dir, session)
    if record is None:
        return None
    if "signal" in record:
        return 128 + int(record["signal"])
    return int(record["status"]) if "status" in record else None


def agent_pid(spec_dir: Path, session: str) -> int | None:
    """Pid of the agent process the launcher started in the session (the pane's child), or None."""
    record = _read_record(spec_dir, session, ".pid")
    return int(record["pid"]) if record and "pid" in record else None


def spawn_argv(spec: Path) -> list[str]:
    """The pane command that reads `spec` and execs it (always several args: tmux runs it without a shell)."""
    return [sys.executable, "-m", "agent_orchestrator.runtime.launcher", str(spec)]


def _write(path: Path, payload: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, path)


def _child(command: list[str], cwd: str, env: dict[str, str]) -> None:
    """In the forked child: own process group in the foreground, then exec (never returns)."""
    try:
        os.setpgid(0, 0)
        if os.isatty(0):
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            os.tcsetpgrp(0, os.getpgrp())
            signal.signal(signal.SIGTTOU, old)
        os.chdir(cwd)
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        msg = f"agent-orchestrator: cannot start {command[0]!r}: not found on PATH\n"
        code = 127
    except OSError as exc:
        msg = f"agent-orchestrator: cannot start {command[0]!r} in {cwd}: {exc.strerror}\n"
        code = 126
    os.write(2, msg.encode())
    os._exit(code)


def main(argv: list[str]) -> int:
    """Run the spec at argv[0] as a child; return its exit status (128 + signal if killed)."""
    if len(argv) != 1:
        print("usage: python -m agent_orchestrator.runtime.launcher SPEC.json", file=sys.stderr)
        return 2
    spec_path = Path(argv[0])
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        command = [str(a) for a in spec["argv"]]
        cwd = str(spec.get("cwd") or os.getcwd())
        env = {**os.environ, **{str(k): str(v) for k, v in spec.get("env", {}).items()}}
        if not command:
            raise ValueError("empty argv")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"agent-orchestrator: cannot read launch spec {spec_path}: {exc}", file=sys.stderr)
        return 2
    started = time.time()
    pid = os.fork()
    if pid == 0:
        _child(command, cwd, env)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first, or has already exited
    _write(spec_path.with_name(spec_path.name + ".pid"), {"pid": pid, "started": started})

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(pid, signum)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
    record: dict[str, object] = {"pid": pid, "started": started, "ended": time.time()}
    if os.WIFSIGNALED(status):
        record["signal"] = os.WTERMSIG(status)
        code = 128 + os.WTERMSIG(status)
    else:
        record["status"] = os.WEXITSTATUS(status)
        code = os.WEXITSTATUS(status)
    try:
        _write(spec_path.with_name(spec_path.name + ".exit"), record)
    except OSError:
        pass
    # Linux drops output still unread in the pty once the last process holding it exits; a
    # short pause lets tmux drain the agent's last words (e.g. why it failed) onto the screen.
    time.sleep(0.3)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
