#!/usr/bin/env python3
"""Multi-host tick benchmark: one watchdog, N demo agents on a `[[host]]` reached over SSH (not a test).

    .venv/bin/python bench/remote_bench.py [--agents 50] [--ticks 30] [--gap 1.0]

Host `b` is a private sshd on 127.0.0.1 (tests/support/sshd.py: its own host key, config and
authorized key in a temp dir), with its own tmux server and log_dir; everything is removed at the
end, also on Ctrl-C. Measured, in-process (`Watchdog.tick()`), per tick:

1. **remote, 10% active**: N `demo` agents on b (`watch = "heal+stall"`); before each tick ~10%
   of them get a line typed into their pane (one send-keys call to b, outside the measured
   window), then the bench waits `--gap` seconds and ticks;
2. **remote, idle**: nobody types (the steady state of a thinking team);
3. **local, 10% active**: the same N agents on this machine's tmux, the same way (the baseline);
4. **host down**: sshd stopped (connection refused): what a tick costs while b is unreachable;
5. **hook/transcript copies**: N claude-backend agents with hooks on, never started; before each
   round one hook line is appended to each agent's file on b and `Mirror.refresh` copies them
   (the file half of a remote tick with hooks or `log_tokens`);
6. **one ssh call**: `true` on b through the master connection — the floor of any remote call.

For each: wall time (median, p90, max), ssh processes per tick (counted by the transport, one per
call), tmux processes here. Then a Markdown table and the machine. The ssh master connection is
up for all rows but "host down".
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

import tomli_w

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.hosts import HostsRuntime
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime, target
from agent_orchestrator.watchdog.driver import Watchdog
from tests.support.sshd import Sshd, unavailable
from tests.support.tmux import kill_server


def write(folder: Path, sshd: Sshd, n: int, *, remote: bool, local_socket: str, remote_socket: str, hooks: bool = False) -> Path:
    """agents.toml: N agents on b (or here), demo backend (claude with hooks, never started, for the copies row)."""
    folder.mkdir(parents=True, exist_ok=True)
    agent = {"host": "b", "dir": str(folder)} if remote else {}
    raw = {
        "defaults": {"session_prefix": "rb-", "log_dir": "run", "backend": "cc" if hooks else "demo", "watch": "heal+stall",
                     "tmux_socket": local_socket, "width": 120, "height": 40},
        "watchdog": {"signal_interval": 5, "heavy_interval": 30},
        "backend": {"cc": {"extends": "claude", "bin": "true", "hooks": True}},
        "host": [sshd.host_table("b", log_dir=folder / "remote-log", tmux_socket=remote_socket)],
        "agent": [{"name": f"a{i:03d}", **agent} for i in range(n)],
    }
    path = folder / "agents.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def ssh_calls(proj: Project) -> int:
    hosts = proj.hosts
    return sum(r.transport.calls for r in hosts.remotes.values()) if hosts is not None else 0


def tmux_calls(proj: Project) -> int:
    hosts = proj.hosts
    inner = hosts.local if hosts is not None else proj.runtime.inner
    return int(inner.calls)


def type_into(proj: Project, sessions: list[str], serial: int) -> None:
    """One line + Enter into each session, in one tmux invocation on its machine."""
    args: list[str] = []
    for session in sessions:
        if args:
            args.append(";")
        args += ["send-keys", "-t", target(session), "-l", f"bench line {serial}", ";", "send-keys", "-t", target(session), "Enter"]
    hosts = proj.hosts
    runtime = hosts.remotes["b"] if hosts is not None and hosts.remotes else proj.runtime.inner
    runtime._tmux(*args)


def wait_ready(proj: Project, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        panes = proj.runtime.observe()
        screens = proj.runtime.capture_many(list(panes))
        if sum(1 for s in screens.values() if any("demo>" in row for row in s)) >= n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the {n} demo agents did not all show their prompt within {timeout:g}s")


def measure(label: str, ticks: int, one: Callable[[int], tuple[float, int, int]]) -> dict[str, object]:
    walls, sshs, tmuxes = [], [], []
    for i in range(ticks):
        wall, ssh, tmux = one(i)
        walls.append(wall * 1000)
        sshs.append(ssh)
        tmuxes.append(tmux)
    walls.sort()
    row = {"label": label, "median": statistics.median(walls), "p90": walls[int(0.9 * (len(walls) - 1))], "max": walls[-1],
           "ssh": f"{min(sshs)}–{max(sshs)}" if min(sshs) != max(sshs) else str(sshs[0]),
           "tmux": f"{min(tmuxes)}–{max(tmuxes)}" if min(tmuxes) != max(tmuxes) else str(tmuxes[0])}
    print(f"  {label}: median {row['median']:.1f} ms, p90 {row['p90']:.1f}, max {row['max']:.1f}; ssh/tick {row['ssh']}, "
          f"tmux here/tick {row['tmux']}", flush=True)
    return row


def tick_rows(path: Path, n: int, ticks: int, gap: float, *, remote: bool, sshd: Sshd) -> list[dict[str, object]]:
    wd = Watchdog(path)
    proj = wd.project
    rows = []
    try:
        proj.up(watchdog=False)
        wait_ready(proj, n)
        wd.tick()
        names = [a.session or "" for a in proj.config.agents]
        rng = random.Random(7)

        def active(i: int) -> tuple[float, int, int]:
            type_into(proj, rng.sample(names, max(1, n // 10)), i)
            time.sleep(gap)
            s0, t0 = ssh_calls(proj), tmux_calls(proj)
            start = time.perf_counter()
            wd.tick()
            return time.perf_counter() - start, ssh_calls(proj) - s0, tmux_calls(proj) - t0

        def idle(i: int) -> tuple[float, int, int]:
            time.sleep(min(gap, 0.5))
            s0, t0 = ssh_calls(proj), tmux_calls(proj)
            start = time.perf_counter()
            wd.tick()
            return time.perf_counter() - start, ssh_calls(proj) - s0, tmux_calls(proj) - t0

        where = "remote" if remote else "local"
        rows.append(measure(f"{n} agents {where}, 10% active", ticks, active))
        if remote:
            time.sleep(1.5)  # the last typed lines land in an earlier second than the idle ticks
            wd.tick()
            rows.append(measure(f"{n} agents remote, idle", ticks, idle))
            sshd.stop()
            try:
                rows.append(measure(f"{n} agents remote, host down (refused)", max(5, ticks // 3), idle))
            finally:
                sshd.start()
    finally:
        proj.down()
    return rows


def copy_rows(path: Path, n: int, ticks: int) -> list[dict[str, object]]:
    proj = Project(load_config(path))
    remote_log = Path(proj.config.hosts[0].log_dir)
    (remote_log / "hooks").mkdir(parents=True, exist_ok=True)
    mirror = proj.mirror
    assert mirror is not None

    def one(i: int) -> tuple[float, int, int]:
        for agent in proj.config.agents:
            with (remote_log / "hooks" / f"{agent.name}.jsonl").open("a") as fh:
                fh.write(f'{{"ts": {time.time()}, "event": "Stop", "data": {{"session_id": "s{i}", "pad": "{"x" * 200}"}}}}\n')
        s0 = ssh_calls(proj)
        start = time.perf_counter()
        failed = mirror.refresh(proj.config, tokens=False)
        if failed:
            raise RuntimeError(f"copy failed: {failed}")
        return time.perf_counter() - start, ssh_calls(proj) - s0, 0

    def bare(i: int) -> tuple[float, int, int]:
        transport = proj.hosts.remotes["b"].transport  # type: ignore[union-attr]
        start = time.perf_counter()
        transport.run(["true"])
        return time.perf_counter() - start, 1, 0

    try:
        return [measure(f"{n} hook logs copied (one line each)", ticks, one), measure("one ssh call (`true`) through the master", ticks, bare)]
    finally:
        hosts = proj.hosts
        if isinstance(hosts, HostsRuntime):
            hosts.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between typing and the tick")
    args = parser.parse_args()
    why = unavailable()
    if why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="ao-remote-bench-"))
    local_socket, remote_socket = f"ao-rb-{secrets.token_hex(3)}", f"ao-rb-b-{secrets.token_hex(3)}"
    sshd = Sshd(root / "sshd")
    rows: list[dict[str, object]] = []
    load = [os.getloadavg()[0]]
    try:
        sshd.start()
        n = args.agents
        print(f"{n} agents, {args.ticks} ticks per row, gap {args.gap:g}s", flush=True)
        rows += tick_rows(write(root / "remote", sshd, n, remote=True, local_socket=local_socket, remote_socket=remote_socket),
                          n, args.ticks, args.gap, remote=True, sshd=sshd)
        rows += tick_rows(write(root / "local", sshd, n, remote=False, local_socket=local_socket, remote_socket=remote_socket),
                          n, args.ticks, args.gap, remote=False, sshd=sshd)
        rows += copy_rows(write(root / "copies", sshd, n, remote=True, local_socket=local_socket, remote_socket=remote_socket,
                                hooks=True), n, args.ticks)
    finally:
        load.append(os.getloadavg()[0])
        sshd.stop()
        kill_server(local_socket)
        try:
            TmuxRuntime(remote_socket).kill_server()
        except Exception:  # noqa: BLE001 - a server that never started
            pass
        shutil.rmtree(root, ignore_errors=True)
    print("\n| what | median ms | p90 ms | max ms | ssh calls / tick | tmux processes here / tick |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['median']:.1f} | {r['p90']:.1f} | {r['max']:.1f} | {r['ssh']} | {r['tmux']} |")
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load[0]:.2f} → {load[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
