#!/usr/bin/env python3
"""Push → ping latency benchmark, and what noticing a push costs (not a test; prints figures).

    .venv/bin/python bench/handoff_bench.py [--pushes 20] [--modes wake,poll] [--probe-reps 40]

Latency, per mode, in a temp dir on a private tmux socket (both removed at the end, also on
Ctrl-C): a local bare `origin`, the work clone `[loop].repo` points at, and a pusher's clone; a
demo-backend project with a `builder` loop agent and a `reviewer` persistent agent that
`claim_pings` names, `[watchdog] signal_interval = 5`; `Project.up(watchdog=False)`, then the
watchdog as its own process (`python -m agent_orchestrator watchdog`), as `up` runs it.

- `wake`: `[loop.handoff] wake = "post-receive"` and the hook installed by `install_post_receive`
  (what `up` does): a push wakes the watchdog through `<log_dir>/wake/`.
- `poll`: no hook: the push is seen at the next tick (every 5 s).

Each of `--pushes` rounds commits `claim: T<i>-<token>` in the pusher's clone and runs `git push`
(an argv list). The clock starts when `git push` returns and stops (a) when the text first shows
in the reviewer's pane (a `capture-pane` every 20 ms: the paste lands in the agent's input line)
and (b) when the `ping` event for that claim is in events.jsonl (polled every 5 ms; the event is
written after the delivery is verified, which includes the delivery's own settle waits: 0.5 s
after the paste and 0.5 s after the submit key). Between rounds the bench waits a random 0–5 s,
so pushes land at random moments of the watchdog's tick cycle.

Probe cost: `GitRepo.fetch()` on the watchdog's mirror while nothing was pushed, with `probe`
(ls-remote + rev-parse, no fetch) and without (fetch of nothing + rev-parse), for a plain-path
origin and a `file://` origin; wall ms (median, p95) and CPU ms of the git processes per call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

from agent_orchestrator.config import load_config
from agent_orchestrator.handoff.gitrepo import GitRepo
from agent_orchestrator.handoff.hook import install_post_receive, remove_post_receive
from agent_orchestrator.handoff.mirror import ensure_mirror
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxError, TmuxRuntime
from agent_orchestrator.watchdog.state import load_state
from tests.support.tmux import kill_server, write_config

SIGNAL_INTERVAL = 5
TARGET_P50_S = 0.5
PANE_POLL = 0.02
EVENT_POLL = 0.005


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


def git_env(home: Path) -> dict[str, str]:
    """A private HOME with an identity; the machine's system git config ignored."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    return {**os.environ, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Latency:
    mode: str
    pane: list[float] = field(default_factory=list)
    event: list[float] = field(default_factory=list)
    missed: int = 0


def body(work: Path, wake: bool) -> str:
    return f"""
[watchdog]
signal_interval = {SIGNAL_INTERVAL}

[[agent]]
name = "builder"
kind = "loop"
watch = "heal"

[[agent]]
name = "reviewer"
kind = "persistent"
watch = "heal"
prompt = "You review claims."

[loop]
kickoff = "kickoff.md"
repo = {json.dumps(str(work))}
phases = [{{ id = "p1", plan = "plan.md", status = "status.md" }}]

[loop.handoff]
claim_pings = "reviewer"
wake = "{'post-receive' if wake else ''}"
fetch_timeout = 10
"""


def run_mode(mode: str, pushes: int, rng: random.Random, log, processes: list[subprocess.Popen]) -> Latency:
    result = Latency(mode)
    socket = f"ao-hbench-{os.getpid()}-{secrets.token_hex(4)}"
    tmp = Path(tempfile.mkdtemp(prefix=f"ao-hbench-{mode}-"))
    env = git_env(tmp / "home")
    saved = {k: os.environ.get(k) for k in ("HOME", "GIT_CONFIG_NOSYSTEM")}
    os.environ.update(HOME=env["HOME"], GIT_CONFIG_NOSYSTEM="1")  # the watchdog process and the hook see the same
    config = None
    try:
        origin, work, pusher = tmp / "origin.git", tmp / "work", tmp / "pusher"
        git(tmp, "init", "-q", "--bare", str(origin), env=env)
        git(tmp, "clone", "-q", str(origin), str(work), env=env)
        git(work, "commit", "-q", "--allow-empty", "-m", "init", env=env)
        git(work, "push", "-q", "origin", "HEAD:main", env=env)
        git(tmp, "clone", "-q", str(origin), str(pusher), env=env)
        (tmp / "kickoff.md").write_text("Build phase {phase_id}.")
        (tmp / "plan.md").write_text("the plan")
        path = write_config(tmp, socket, body(work, mode == "wake"), prefix="hb-")
        config = load_config(path)
        project = Project(config)
        log_dir = project.log_dir
        if mode == "wake":
            log(f"  {install_post_receive(config).line()}")
        if [o for o in project.up(watchdog=False) if o.failed]:
            raise RuntimeError("the agents did not start")
        reviewer = config.agent("reviewer").session or ""  # type: ignore[union-attr]
        runtime = TmuxRuntime(socket)
        deadline = time.monotonic() + 60
        while not any(r.startswith("demo>") for r in safe_capture(runtime, reviewer)):
            if time.monotonic() > deadline:
                raise RuntimeError("the reviewer never showed demo>")
            time.sleep(0.1)
        with open(tmp / "watchdog.out", "wb") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(path)],
                                    cwd=tmp, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(proc)
        head = git(origin, "rev-parse", "main", env=env)
        deadline = time.monotonic() + 60
        while not state_seen(log_dir, head):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the watchdog did not tick: {(tmp / 'watchdog.out').read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        events = log_dir / "events.jsonl"
        for i in range(pushes):
            time.sleep(rng.uniform(0, SIGNAL_INTERVAL))  # a random moment of the tick cycle
            subject = f"claim: T{i}-{secrets.token_hex(3)}"
            marker = subject.split(" ", 1)[1]
            git(pusher, "commit", "-q", "--allow-empty", "-m", subject, env=env)
            offset = events.stat().st_size if events.exists() else 0
            subprocess.run(["git", "-C", str(pusher), "push", "-q", "origin", "HEAD:main"], check=True, env=env,
                           capture_output=True)
            t0 = time.perf_counter()
            pane_at = event_at = None
            next_pane = t0
            limit = t0 + 4 * SIGNAL_INTERVAL
            while (pane_at is None or event_at is None) and time.perf_counter() < limit:
                now = time.perf_counter()
                if event_at is None:
                    offset, found = scan_events(events, offset, marker)
                    if found:
                        event_at = now - t0
                if pane_at is None and now >= next_pane:
                    next_pane = now + PANE_POLL
                    if any(marker in row for row in safe_capture(runtime, reviewer)):
                        pane_at = time.perf_counter() - t0
                time.sleep(EVENT_POLL)
            if pane_at is None or event_at is None:
                result.missed += 1
                log(f"  push {i}: not seen in time (pane {pane_at}, event {event_at})")
                continue
            result.pane.append(pane_at)
            result.event.append(event_at)
            log(f"  push {i}: text in the pane after {pane_at * 1000:.0f} ms, ping event after {event_at * 1000:.0f} ms")
        return result
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
        processes.clear()
        if config is not None:
            remove_post_receive(config)
        try:
            kill_server(socket)
        except TmuxError:
            pass
        restore(saved)
        shutil.rmtree(tmp, ignore_errors=True)


def restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def safe_capture(runtime: TmuxRuntime, session: str) -> list[str]:
    try:
        return runtime.capture(session)
    except TmuxError:
        return []


def state_seen(log_dir: Path, head: str) -> bool:
    try:
        return load_state(log_dir).handoff.last_seen == head
    except Exception:  # noqa: BLE001 - not written yet, or mid-write
        return False


def scan_events(path: Path, offset: int, marker: str) -> tuple[int, bool]:
    """New complete lines of events.jsonl from `offset`: (new offset, a ping naming `marker` among them)."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return offset, False
    end = data.rfind(b"\n") + 1
    found = False
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("action") == "ping" and event.get("agent") == "reviewer" and marker in json.dumps(event):
            found = True
    return offset + end, found


# -- probe cost ----------------------------------------------------------------------------------
def probe_cost(reps: int, log) -> list[tuple[str, str, float, float, float]]:
    """(origin kind, way, median ms, p95 ms, git CPU ms) per `GitRepo.fetch()` with nothing new."""
    rows: list[tuple[str, str, float, float, float]] = []
    tmp = Path(tempfile.mkdtemp(prefix="ao-hbench-probe-"))
    env = git_env(tmp / "home")
    saved = {k: os.environ.get(k) for k in ("HOME", "GIT_CONFIG_NOSYSTEM")}
    os.environ.update(HOME=env["HOME"], GIT_CONFIG_NOSYSTEM="1")
    try:
        origin = tmp / "origin.git"
        git(tmp, "init", "-q", "--bare", str(origin), env=env)
        seed = tmp / "seed"
        git(tmp, "clone", "-q", str(origin), str(seed), env=env)
        for i in range(200):  # some history and 200 refs' worth of objects
            (seed / f"f{i}.txt").write_text(f"{i}\n")
            git(seed, "add", f"f{i}.txt", env=env)
            git(seed, "commit", "-q", "-m", f"c{i}", env=env)
        git(seed, "push", "-q", "origin", "HEAD:main", env=env)
        for kind, url in (("local path", str(origin)), ("file:// URL", f"file://{origin}")):
            work = tmp / f"work-{len(rows)}"
            git(tmp, "init", "-q", str(work), env=env)
            git(work, "remote", "add", "origin", url, env=env)
            mirror = ensure_mirror(work, tmp / f"log-{len(rows)}")
            for way, probe in (("fetch of nothing + rev-parse", False), ("ls-remote + rev-parse (probe)", True)):
                repo = GitRepo(mirror, probe=probe)
                assert repo.fetch().ok
                times = []
                cpu0 = os.times()
                for _ in range(reps):
                    start = time.perf_counter()
                    assert repo.fetch().ok
                    times.append((time.perf_counter() - start) * 1000)
                cpu1 = os.times()
                cpu = ((cpu1.children_user + cpu1.children_system) - (cpu0.children_user + cpu0.children_system)) / reps * 1000
                rows.append((kind, way, statistics.median(times), pct(times, 0.95), cpu))
                log(f"  {kind}: {way}: median {statistics.median(times):.1f} ms, git CPU {cpu:.1f} ms; "
                    f"fetches {repo.fetches}, skipped {repo.skipped}")
    finally:
        restore(saved)
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


WAKE_CPU_CHILD = """
import os, sys, tempfile, time
from pathlib import Path
step = int(sys.argv[1])
seconds = float(sys.argv[2])
if step:
    import watchfiles
    original = watchfiles.watch
    def watch(*args, **kwargs):
        kwargs["step"] = step
        return original(*args, **kwargs)
    watchfiles.watch = watch
from agent_orchestrator.watchdog.wake import WakeChannel
folder = Path(tempfile.mkdtemp())
channel = WakeChannel([folder / "hooks", folder / "requests", folder / "wake"]).start()
t0, w0 = os.times(), time.monotonic()
channel.wait(seconds)
t1 = os.times()
print(100 * ((t1.user + t1.system) - (t0.user + t0.system)) / (time.monotonic() - w0))
channel.close()
"""


def wake_channel_cpu(seconds: float, log) -> list[tuple[str, float]]:
    """Idle CPU % of one core of a bare WakeChannel (three watched folders, nothing changing), as
    watchdog/wake.py sets watchfiles up, and with its poll step at 50 ms (patched in the child)."""
    rows = []
    for label, step in (("as shipped (watchfiles step 10 ms)", 0), ("what-if: step 50 ms", 50)):
        out = subprocess.run([sys.executable, "-c", WAKE_CPU_CHILD, str(step), str(seconds)], capture_output=True, text=True,
                             check=True, timeout=seconds + 60).stdout
        rows.append((label, float(out.strip().splitlines()[-1])))
        log(f"  wake channel idle, {label}: {rows[-1][1]:.2f}% of one core")
    return rows


def machine() -> list[str]:
    model = "unknown"
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), model)
    except OSError:
        pass
    tmux_v = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False).stdout.strip()
    git_v = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return [f"- nproc: {len(os.sched_getaffinity(0))}, CPU: {model}", f"- {tmux_v}, {git_v}, Python {sys.version.split()[0]}",
            f"- load average at the end: {load} (a shared machine: other work shows up in the figures)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pushes", type=int, default=20, help="pushes per mode (default 20)")
    parser.add_argument("--modes", default="wake,poll", help="wake, poll or both (default wake,poll)")
    parser.add_argument("--probe-reps", type=int, default=40, help="fetch() calls per way for the probe cost (0 skips it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--wake-cpu", type=float, default=30.0,
                        help="seconds to measure a bare wake channel's idle CPU (default 30; 0 skips it)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if any(m not in ("wake", "poll") for m in modes) or args.pushes < 1:
        parser.error("--modes takes wake and/or poll; --pushes >= 1")

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rng = random.Random(args.seed)
    processes: list[subprocess.Popen] = []
    results = []
    probes = []
    wake_cpu: list[tuple[str, float]] = []
    try:
        for mode in modes:
            log(f"mode {mode}: {args.pushes} pushes at signal_interval {SIGNAL_INTERVAL}")
            results.append(run_mode(mode, args.pushes, rng, log, processes))
        if args.probe_reps > 0:
            log("probe cost")
            probes = probe_cost(args.probe_reps, log)
        wake_cpu = wake_channel_cpu(args.wake_cpu, log) if args.wake_cpu > 0 else []
    except KeyboardInterrupt:
        log("interrupted; cleaned up")
        return 130
    lines = ["", "## Push → ping latency", "", *machine(), "",
             f"{args.pushes} pushes per mode, signal_interval {SIGNAL_INTERVAL}, a random 0–{SIGNAL_INTERVAL} s pause before each; "
             "seconds from `git push` returning.", "",
             "| mode | text in the reviewer's pane p50 / p95 s | `ping` event p50 / p95 s | pushes seen |",
             "|---|---:|---:|---:|"]
    for r in results:
        if r.pane:
            lines.append(f"| {r.mode} | {statistics.median(r.pane):.3f} / {pct(r.pane, 0.95):.3f} "
                         f"| {statistics.median(r.event):.3f} / {pct(r.event, 0.95):.3f} | {len(r.pane)}/{len(r.pane) + r.missed} |")
        else:
            lines.append(f"| {r.mode} | n/a | n/a | 0/{r.missed} |")
    wake = next((r for r in results if r.mode == "wake" and r.pane), None)
    if wake is not None:
        p50 = statistics.median(wake.pane)
        lines += ["", f"- **push → text in the pane p50 < {TARGET_P50_S} s with the wake: {'MET' if p50 < TARGET_P50_S else 'MISSED'}** "
                      f"— p50 {p50:.3f} s, p95 {pct(wake.pane, 0.95):.3f} s."]
    if probes:
        lines += ["", f"Noticing that nothing was pushed: one `GitRepo.fetch()` on the watchdog's mirror ({args.probe_reps} calls each):", "",
                  "| origin | way | median ms | p95 ms | git CPU ms per call |", "|---|---|---:|---:|---:|"]
        lines += [f"| {k} | {w} | {m:.1f} | {p:.1f} | {c:.1f} |" for k, w, m, p, c in probes]
    if wake_cpu:
        lines += ["", f"A bare wake channel (watchdog/wake.py, three folders, nothing changing) for {args.wake_cpu:g} s: "
                  + "; ".join(f"{label} {value:.2f}% of one core" for label, value in wake_cpu) + "."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
