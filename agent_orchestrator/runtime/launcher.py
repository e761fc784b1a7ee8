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

from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir


def write_spec(spec_dir: Path, session: str, argv: list[str], cwd: Path, env: dict[str, str],
               supervise: dict[str, float] | None = None) -> Path:
    """Write the launch spec (argv, cwd, env; a `supervise` restart policy for a session whose
    process must come back when it dies) atomically to `spec_dir/<session>.json` (mode 0600)."""
    ensure_dir(spec_dir, PRIVATE)
    path = spec_dir / f"{session}.json"
    for stale in (path.with_name(path.name + ".exit"), path.with_name(path.name + ".pid"), path.with_name(path.name + ".supervise")):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=spec_dir, prefix=".spec-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"argv": argv, "cwd": str(cwd), "env": env, **({"supervise": supervise} if supervise else {})}, fh)
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
        try:
            os.chdir(cwd)
        except OSError as exc:  # told apart from a missing executable: both raise FileNotFoundError
            why = "does not exist" if isinstance(exc, FileNotFoundError) else f"cannot be entered: {exc.strerror}"
            os.write(2, f"agent-orchestrator: cannot start {command[0]!r}: working directory {cwd} {why}\n".encode())
            os._exit(126)
        os.execvpe(command[0], command, env)
    except FileNotFoundError:
        msg = f"agent-orchestrator: cannot start {command[0]!r}: not found on PATH\n"
        code = 127
    except OSError as exc:
        msg = f"agent-orchestrator: cannot start {command[0]!r} in {cwd}: {exc.strerror}\n"
        code = 126
    os.write(2, msg.encode())
    os._exit(code)


class _Stop:
    """Set by a termination signal to the launcher itself: the pane is being stopped, on purpose."""

    requested = False


def _run_once(spec_path: Path, command: list[str], cwd: str, env: dict[str, str], child: list[int]) -> tuple[int, dict[str, object]]:
    """Start the child, record its pid, wait for it; (exit code, exit record)."""
    started = time.time()
    pid = os.fork()
    if pid == 0:
        _child(command, cwd, env)
    child[0] = pid
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first, or has already exited
    _write(spec_path.with_name(spec_path.name + ".pid"), {"pid": pid, "started": started})
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
    return code, record


def supervision(spec_dir: Path, session: str) -> dict[str, object] | None:
    """The launcher's supervision record of a supervised session (`<spec>.supervise`): `restarts`
    (count), `last_exit` (code), `last_restart` (epoch), `state` ("running" or "crash-loop"), or None."""
    return _read_record(spec_dir, session, ".supervise")


def _supervise(spec_path: Path, policy: dict[str, object], command: list[str], cwd: str, env: dict[str, str], child: list[int]) -> int:
    """Run the child again whenever it dies, until it exits cleanly or the launcher is stopped.

    A death by SIGKILL (a kill from outside, the OOM killer) is restarted after `kill_delay`
    seconds; a crash (a non-zero exit) backs off `backoff` seconds, doubling to `max_backoff`, and
    more than `burst` crashes within `window` seconds end it in a visible "crash-loop" record (the
    pane then shows the last exit). Exit 0, or a SIGTERM/SIGHUP/SIGINT to the launcher (`agents
    down` kills the session), ends supervision.
    """
    backoff = float(policy.get("backoff", 1.0))  # type: ignore[arg-type]
    cap = float(policy.get("max_backoff", 30.0))  # type: ignore[arg-type]
    burst = int(policy.get("burst", 5))  # type: ignore[call-overload]
    window = float(policy.get("window", 300.0))  # type: ignore[arg-type]
    kill_delay = float(policy.get("kill_delay", 0.5))  # type: ignore[arg-type]
    record_path = spec_path.with_name(spec_path.name + ".supervise")
    crashes: list[float] = []
    restarts = 0
    while True:
        code, _ = _run_once(spec_path, command, cwd, env, child)
        if _Stop.requested or code == 0:
            return code
        now = time.time()
        killed = code == 128 + signal.SIGKILL
        if not killed:
            crashes = [t for t in crashes if now - t < window] + [now]
        if len(crashes) > burst:
            _write(record_path, {"restarts": restarts, "last_exit": code, "last_restart": now, "state": "crash-loop",
                                 "detail": f"{len(crashes)} crashes within {window:g}s"})
            return code
        delay = kill_delay if killed else min(backoff * 2 ** max(0, len(crashes) - 1), cap)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not _Stop.requested:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        if _Stop.requested:
            return code
        restarts += 1
        _write(record_path, {"restarts": restarts, "last_exit": code, "last_restart": time.time(), "state": "running"})


def main(argv: list[str]) -> int:
    """Run the spec at argv[0] as a child; return its exit status (128 + signal if killed).

    A spec with a `supervise` policy (the watchdog's own session) restarts its child when it
    dies (`_supervise`).
    """
    if len(argv) != 1:
        print("usage: python -m agent_orchestrator.runtime.launcher SPEC.json", file=sys.stderr)
        return 2
    spec_path = Path(argv[0])
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        command = [str(a) for a in spec["argv"]]
        cwd = str(spec.get("cwd") or os.getcwd())
        env = {**os.environ, **{str(k): str(v) for k, v in spec.get("env", {}).items()}}
        policy = spec.get("supervise")
        if not command:
            raise ValueError("empty argv")
        if policy is not None and not isinstance(policy, dict):
            raise ValueError("supervise must be an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"agent-orchestrator: cannot read launch spec {spec_path}: {exc}", file=sys.stderr)
        return 2
    child = [0]

    def forward(signum: int, _frame: object) -> None:
        _Stop.requested = True
        try:
            if child[0]:
                os.killpg(child[0], signum)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, forward)
    if policy is not None:
        code = _supervise(spec_path, policy, command, cwd, env, child)
    else:
        code, _ = _run_once(spec_path, command, cwd, env, child)
    # Linux drops output still unread in the pty once the last process holding it exits; a
    # short pause lets tmux drain the agent's last words (e.g. why it failed) onto the screen.
    time.sleep(0.3)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
