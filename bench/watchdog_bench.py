#!/usr/bin/env python3
"""Watchdog tick benchmark: prints figures for N demo agents under one watchdog (not a test).

    .venv/bin/python bench/watchdog_bench.py [--agents 10,50,100] [--ticks 30] [--cpu-seconds 60]

For each N, in a temp dir and on a private tmux socket (both removed at the end, also on Ctrl-C):

1. write an agents.toml with N `demo` agents (`watch = "heal+stall"`, `signal_interval = 5`) and
   start them with `Project.up(watchdog=False)`; wait until every pane shows `demo>`;
2. in-process: build `Watchdog(config)`, one warm-up `tick()`, then `--ticks` measured ticks.
   Before each tick ~10% of the agents (random) get a short line + Enter typed into their pane
   (one `send-keys` command list, outside the measured window), so their screens change; then
   the bench waits `--gap` seconds (default 1 s, so the output is in an earlier second than
   the tick — see BENCHMARKS.md for why that matters) and runs the tick; `--tick-every 5`
   instead spaces the ticks like the real loop, the output at a random moment in between.
   Per tick it records wall time, tmux processes spawned (every `subprocess.Popen` whose
   argv[0] ends in "tmux", cross-checked against `TmuxRuntime.calls`), captures, bytes
   captured, how many panes' `#{window_activity}` actually changed, and the wall time of the
   tick's parts (config reload, list-panes, captures, read_facts, policies, save_state);
3. the CPU figure: `python -m agent_orchestrator watchdog --config …` as a real background
   process at signal_interval 5 for `--cpu-seconds`, with the same 10% activity every 5 s;
   CPU = utime+stime from /proc/<pid>/stat over the wall time (measured after its first tick,
   so interpreter start-up is not in it). The tmux client processes it spawns are reported
   separately (cutime+cstime).

Then a Markdown table, the machine, and a verdict on the targets: at most 2 tmux invocations
per tick plus one capture per pane whose activity changed; a 100-agent tick under 150 ms median.
With `--profile`, one extra 100-agent (or largest-N) tick runs under cProfile and its top
functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import platform
import pstats
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # this checkout's package and tests.support.tmux
# The watchdog process and the panes (spawn, demo agent) run this checkout's package too.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

import libtmux

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxError, TmuxRuntime, target
from agent_orchestrator.watchdog import driver
from agent_orchestrator.watchdog.driver import Watchdog
from tests.support.tmux import kill_server, write_config

SIGNAL_INTERVAL = 5
ACTIVE_SHARE = 0.10
TARGET_FIXED_CALLS = 2
TARGET_MEDIAN_MS = 150.0
TARGET_AGENTS = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- counting tmux processes ----------------------------------------------------------------
class SpawnCounter:
    """Counts every subprocess.Popen while installed: tmux ones (by subcommand) and others."""

    def __init__(self) -> None:
        self.tmux = 0
        self.other = 0
        self.subcommands: Counter[str] = Counter()
        self._original: type | None = None

    def record(self, args: object) -> None:
        argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)  # type: ignore[arg-type]
        first = os.fsdecode(argv[0]).split()[0] if argv else ""
        if first.endswith("tmux"):
            self.tmux += 1
            sub = next((os.fsdecode(a) for a in argv[1:] if not os.fsdecode(a).startswith("-")), "?")
            self.subcommands[sub] += 1
        else:
            self.other += 1

    def install(self) -> None:
        original = self._original = subprocess.Popen
        counter = self

        class CountingPopen(original):  # type: ignore[misc, valid-type]
            def __init__(self, args, *rest, **kwargs):
                counter.record(args)
                super().__init__(args, *rest, **kwargs)

        subprocess.Popen = CountingPopen  # type: ignore[misc]

    def uninstall(self) -> None:
        if self._original is not None:
            subprocess.Popen = self._original  # type: ignore[misc]
            self._original = None

    def snapshot(self) -> tuple[int, int, Counter[str]]:
        return self.tmux, self.other, Counter(self.subcommands)


class CaptureMeter:
    """Wraps one TmuxRuntime's `capture` to sum the bytes of captured screen text."""

    def __init__(self) -> None:
        self.bytes = 0
        self.sessions: list[str] = []
        self.runtime: TmuxRuntime | None = None

    def attach(self, runtime: TmuxRuntime) -> None:
        if runtime is self.runtime:
            return
        self.runtime = runtime
        inner = runtime.capture

        def capture(session: str, lines: int | None = None) -> list[str]:
            screen = inner(session, lines)
            self.bytes += sum(len(row.encode("utf-8", "replace")) + 1 for row in screen)
            self.sessions.append(session)
            return screen

        runtime.capture = capture  # type: ignore[method-assign]


class PhaseClock:
    """Wall time spent in the tick's parts, by wrapping the functions the driver calls."""

    PARTS = ("reload (load_config)", "list-panes", "capture-pane", "read_facts", "policies", "save_state")

    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self._restore: list[tuple[object, str, object, bool]] = []

    def wrap(self, owner: object, attr: str, label: str) -> None:
        inner = getattr(owner, attr, None)
        if inner is None:
            return
        spent = self.spent

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - start

        self._restore.append((owner, attr, inner, attr in vars(owner)))
        setattr(owner, attr, timed)

    def install(self, runtime: TmuxRuntime) -> None:
        self.wrap(driver, "load_config", "reload (load_config)")
        self.wrap(runtime, "observe", "list-panes")
        self.wrap(runtime, "capture", "capture-pane")
        self.wrap(driver, "read_facts", "read_facts")
        self.wrap(driver, "run_policies", "policies")
        self.wrap(driver, "save_state", "save_state")

    def uninstall(self) -> None:
        for owner, attr, inner, own in reversed(self._restore):
            if own:
                setattr(owner, attr, inner)
            else:
                delattr(owner, attr)
        self._restore.clear()


# -- figures ---------------------------------------------------------------------------------
@dataclass
class TickRecord:
    ms: float
    tmux: int
    runtime_calls: int
    other_procs: int
    captures: int
    bytes: int
    changed: int
    subcommands: Counter[str]
    parts: Counter[str]


@dataclass
class Result:
    agents: int
    ticks: list[TickRecord] = field(default_factory=list)
    cpu_pct: float | None = None
    cpu_children_pct: float | None = None
    cpu_wall: float = 0.0
    cpu_ticks: int = 0
    cpu_events: Counter[str] = field(default_factory=Counter)
    startup_s: float = 0.0

    def median_ms(self) -> float:
        return statistics.median(t.ms for t in self.ticks)

    def p95_ms(self) -> float:
        values = sorted(t.ms for t in self.ticks)
        return values[max(0, math.ceil(0.95 * len(values)) - 1)]

    def mean(self, attr: str) -> float:
        return statistics.fmean(getattr(t, attr) for t in self.ticks)


def machine() -> list[str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        tmux_version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        tmux_version = "tmux not found"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return [
        f"- nproc: {usable} (os.cpu_count {os.cpu_count()})",
        f"- CPU: {model}",
        f"- Python {platform.python_version()} ({sys.executable}), libtmux {libtmux.__version__}",
        f"- {tmux_version}, Linux {platform.release()}",
        f"- load average at the end: {loadavg()} (other work on the machine shows up in the figures)",
    ]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# -- the project under test -------------------------------------------------------------------
def agents_body(n: int) -> str:
    blocks = [f"""
    watch = "heal+stall"

    [watchdog]
    signal_interval = {SIGNAL_INTERVAL}
    """]
    for i in range(n):
        blocks.append(f"""
    [[agent]]
    name = "a{i:03d}"
    kind = "persistent"
    prompt = "You are bench agent {i}."
    """)
    return "".join(blocks)


def wait_all_ready(runtime: TmuxRuntime, sessions: list[str], timeout: float) -> None:
    """Until every session's screen shows `demo>`; raises RuntimeError on timeout."""
    pending = set(sessions)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for session in sorted(pending):
            try:
                screen = runtime.capture(session)
            except TmuxError:
                continue
            if any(row.startswith("demo>") for row in screen):
                pending.discard(session)
        if pending:
            time.sleep(0.2)
    if pending:
        raise RuntimeError(f"{len(pending)} agents never showed 'demo>': {sorted(pending)[:5]}…")


class Activity:
    """Types a short line + Enter into a random ~10% of the panes: one tmux command list."""

    def __init__(self, runtime: TmuxRuntime, sessions: list[str], rng: random.Random) -> None:
        self.server = runtime.server  # direct libtmux: not counted in TmuxRuntime.calls
        self.sessions = sessions
        self.rng = rng
        self.count = max(1, round(ACTIVE_SHARE * len(sessions)))
        self.serial = 0

    def poke(self) -> list[str]:
        chosen = self.rng.sample(self.sessions, self.count)
        args: list[str] = []
        for session in chosen:
            self.serial += 1
            if args:
                args.append(";")
            args += ["send-keys", "-t", target(session), "-l", f"bench line {self.serial}", ";",
                     "send-keys", "-t", target(session), "Enter"]
        result = self.server.cmd(*args)
        if result.returncode != 0:
            raise RuntimeError(f"send-keys failed: {result.stderr}")
        return chosen


def measure_ticks(wd: Watchdog, activity: Activity, counter: SpawnCounter, ticks: int, gap: float, every: float,
                  result: Result, log: Callable[[str], None], profile_out: Path | None) -> None:
    meter = CaptureMeter()
    meter.attach(wd.project.runtime)
    clock = PhaseClock()
    clock.install(wd.project.runtime)
    try:
        _measure(wd, activity, counter, ticks, gap, every, result, log, profile_out, meter, clock)
    finally:
        clock.uninstall()


def _measure(wd: Watchdog, activity: Activity, counter: SpawnCounter, ticks: int, gap: float, every: float, result: Result,
             log: Callable[[str], None], profile_out: Path | None, meter: CaptureMeter, clock: PhaseClock) -> None:
    wd.tick()  # warm-up: captures every pane once (no facts yet)
    log(f"  warm-up tick: {wd.captures} captures")
    previous = {name: p.window_activity for name, p in wd.panes.items()}
    for i in range(ticks + (1 if profile_out else 0)):
        if every > 0:  # like the real loop: ticks `every` s apart, the output at a random moment between them
            cycle = time.monotonic()
            time.sleep(activity.rng.uniform(0, every))
            activity.poke()
            time.sleep(max(0.0, cycle + every - time.monotonic()))
        else:
            activity.poke()
            time.sleep(gap)
        meter.attach(wd.project.runtime)
        runtime = wd.project.runtime
        calls0, caps0, bytes0 = runtime.calls, wd.captures, meter.bytes
        tmux0, other0, subs0 = counter.snapshot()
        parts0 = Counter(clock.spent)
        profiler = cProfile.Profile() if profile_out and i == ticks else None
        if profiler:
            clock.uninstall()  # the profile shows the driver's own calls, not the bench's timers
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        wd.tick()
        if profiler:
            profiler.disable()
        elapsed = (time.perf_counter() - start) * 1000
        tmux1, other1, subs1 = counter.snapshot()
        now_panes = {name: p.window_activity for name, p in wd.panes.items()}
        changed = sum(1 for name, act in now_panes.items() if previous.get(name) != act)
        previous = now_panes
        if profiler:
            profiler.dump_stats(profile_out)
            log(f"  profiled tick: {elapsed:.1f} ms (under cProfile, not in the figures)")
            continue
        result.ticks.append(TickRecord(
            ms=elapsed, tmux=tmux1 - tmux0, runtime_calls=wd.project.runtime.calls - calls0,
            other_procs=other1 - other0, captures=wd.captures - caps0, bytes=meter.bytes - bytes0,
            changed=changed, subcommands=subs1 - subs0,
            parts=Counter({k: (clock.spent[k] - parts0[k]) * 1000 for k in PhaseClock.PARTS}),
        ))


def proc_cpu(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) of a process in seconds, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17 → index 11..14
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def measure_cpu(config_path: Path, log_dir: Path, activity: Activity, seconds: float, result: Result,
                log: Callable[[str], None], processes: list[subprocess.Popen]) -> None:
    state_file = log_dir / "state" / "watchdog.json"
    events_file = log_dir / "events.jsonl"
    events_before = len(events_file.read_text(encoding="utf-8").splitlines()) if events_file.exists() else 0

    def last_tick() -> float:
        try:
            return float(json.loads(state_file.read_text(encoding="utf-8")).get("extra", {}).get("last_tick", 0))
        except (OSError, ValueError, AttributeError):
            return 0.0

    launched = time.time()
    with open(config_path.parent / "watchdog.out", "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "watchdog", "--config", str(config_path)],
                                cwd=config_path.parent, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    processes.append(proc)
    deadline = time.monotonic() + 60
    while last_tick() < launched:
        if proc.poll() is not None or time.monotonic() > deadline:
            out = (config_path.parent / "watchdog.out").read_text(errors="replace")
            raise RuntimeError(f"the watchdog process did not tick (exit {proc.poll()}): {out[-2000:]}")
        time.sleep(0.05)
    first_tick = last_tick()
    cpu0, child0 = proc_cpu(proc.pid)
    wall0 = time.monotonic()
    end = wall0 + seconds
    next_poke = wall0 + random.uniform(0, SIGNAL_INTERVAL)  # a random phase against the watchdog's ticks
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_poke:
            activity.poke()
            next_poke += SIGNAL_INTERVAL
        time.sleep(max(0.0, min(end, next_poke) - time.monotonic()))
        if proc.poll() is not None:
            raise RuntimeError(f"the watchdog process exited early ({proc.returncode})")
    cpu1, child1 = proc_cpu(proc.pid)
    wall = time.monotonic() - wall0
    ticks = round((last_tick() - first_tick) / SIGNAL_INTERVAL)
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    processes.remove(proc)
    result.cpu_pct = 100 * (cpu1 - cpu0) / wall
    result.cpu_children_pct = 100 * (child1 - child0) / wall
    result.cpu_wall = wall
    result.cpu_ticks = ticks
    if events_file.exists():
        for line in events_file.read_text(encoding="utf-8").splitlines()[events_before:]:
            try:
                result.cpu_events[json.loads(line).get("action", "?")] += 1
            except ValueError:
                continue
    log(f"  watchdog process: {cpu1 - cpu0:.2f} s CPU (+{child1 - child0:.2f} s in tmux clients) over {wall:.1f} s, "
        f"~{ticks} ticks; events: {dict(result.cpu_events)}")


def run_one(n: int, args: argparse.Namespace, counter: SpawnCounter, log: Callable[[str], None],
            profile: bool) -> tuple[Result, Path | None]:
    result = Result(agents=n)
    socket = f"ao-bench-{os.getpid()}-{secrets.token_hex(4)}"
    tmp = Path(tempfile.mkdtemp(prefix=f"ao-bench-{n}-"))
    processes: list[subprocess.Popen] = []
    profile_file = None
    try:
        config_path = write_config(tmp, socket, agents_body(n), prefix="b-")
        config = load_config(config_path)
        project = Project(config)
        log(f"N={n}: starting {n} demo agents on socket {socket} in {tmp}")
        t0 = time.monotonic()
        outcomes = project.up(watchdog=False)
        failed = [o for o in outcomes if o.failed]
        if failed:
            raise RuntimeError(f"{len(failed)} agents failed to start: {failed[0].detail}")
        sessions = [a.session or "" for a in config.agents]
        wait_all_ready(project.runtime, sessions, timeout=60 + n)
        result.startup_s = time.monotonic() - t0
        log(f"  all {n} agents show 'demo>' after {result.startup_s:.1f} s")
        rng = random.Random(args.seed + n)
        activity = Activity(project.runtime, sessions, rng)

        time.sleep(1.1)  # so the warm-up capture is in a later second than the start-up output
        wd = Watchdog(config_path)
        if profile:
            profile_file = Path(tempfile.mkstemp(prefix="ao-bench-profile-", suffix=".prof")[1])
        measure_ticks(wd, activity, counter, args.ticks, args.gap, args.tick_every, result, log, profile_file)
        r = result
        log(f"  {args.ticks} ticks: median {r.median_ms():.1f} ms, p95 {r.p95_ms():.1f} ms, "
            f"{r.mean('tmux'):.2f} tmux/tick, {r.mean('captures'):.2f} captures/tick, {r.mean('changed'):.2f} panes changed/tick")
        del wd

        if args.cpu_seconds > 0:
            log(f"  CPU run: the watchdog as a process for {args.cpu_seconds:g} s at signal_interval {SIGNAL_INTERVAL}")
            measure_cpu(config_path, Path(config.defaults.log_dir), activity, args.cpu_seconds, result, log, processes)
        return result, profile_file
    finally:
        for proc in processes:  # only ours, by pid
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shut_down(socket, tmp / "run" / "launch")
        shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def shut_down(socket: str, spec_dir: Path) -> None:
    """Kill the private tmux server, wait for its pane processes (launchers and agents) to exit —
    SIGKILL by pid after 10 s — and remove the socket file tmux leaves behind."""
    runtime = TmuxRuntime(socket)
    result = runtime.server.cmd("list-panes", "-a", "-F", "#{pane_pid}\t#{socket_path}")
    pids: set[int] = set()
    socket_path = ""
    for line in result.stdout if result.returncode == 0 else []:
        pid, _, socket_path = line.partition("\t")
        if pid.isdigit():
            pids.add(int(pid))
    for record in spec_dir.glob("*.json.pid"):
        try:
            pids.add(int(json.loads(record.read_text(encoding="utf-8"))["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    kill_server(socket)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if socket_path and Path(socket_path).name == socket:
        Path(socket_path).unlink(missing_ok=True)


# -- report ----------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report(results: list[Result], args: argparse.Namespace) -> list[str]:
    if args.tick_every > 0:
        timing = f"print a line at a random moment of a {args.tick_every:g} s tick interval"
    else:
        timing = f"print a line {args.gap:g} s before the tick"
    cpu = (f"the watchdog as its own process for {args.cpu_seconds:g} s at signal_interval {SIGNAL_INTERVAL} "
           "with the same activity" if args.cpu_seconds > 0 else "not measured (--cpu-seconds 0)")
    header = ("| agents | tick median ms | tick p95 ms | tmux calls/tick | captures/tick | bytes captured/tick "
              f"| watchdog CPU % (at signal_interval {SIGNAL_INTERVAL}) | panes changed/tick | + tmux clients CPU % |")
    setup = (f"{args.ticks} measured ticks per row after one warm-up tick; before each tick ~10% of the agents "
             f"{timing}. CPU: {cpu}.")
    lines = ["", "## Watchdog tick benchmark", "", *machine(), "", setup, "", header,
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r.agents} | {r.median_ms():.1f} | {r.p95_ms():.1f} | {r.mean('tmux'):.2f} | {r.mean('captures'):.2f} "
            f"| {r.mean('bytes'):.0f} | {fmt(r.cpu_pct, 2)} | {r.mean('changed'):.2f} | {fmt(r.cpu_children_pct, 2)} |")
    where = ("Where the tick's wall time goes (mean ms per measured tick; `rest` = everything else: "
             "take_requests, views, executor, Python overhead):")
    lines += ["", where, "",
              "| agents | tick mean | " + " | ".join(PhaseClock.PARTS) + " | rest |",
              "|---:|---:|" + "---:|" * (len(PhaseClock.PARTS) + 1)]
    for r in results:
        parts = [statistics.fmean(t.parts[k] for t in r.ticks) for k in PhaseClock.PARTS]
        mean = r.mean("ms")
        lines.append(f"| {r.agents} | {mean:.1f} | " + " | ".join(f"{p:.1f}" for p in parts) + f" | {mean - sum(parts):.1f} |")
    lines += ["", "### Targets", ""]

    # Target 1: tmux invocations ≤ 2 + one capture per pane whose activity changed.
    agree = all(t.tmux == t.runtime_calls for r in results for t in r.ticks)
    fixed = [t.tmux - t.captures for r in results for t in r.ticks]
    extra = [t.captures - t.changed for r in results for t in r.ticks]
    over = sum(1 for r in results for t in r.ticks if t.tmux > TARGET_FIXED_CALLS + t.changed)
    total = sum(len(r.ticks) for r in results)
    subs: Counter[str] = Counter()
    for r in results:
        for t in r.ticks:
            subs += t.subcommands
    met1 = over == 0
    lines.append(f"- **tmux invocations ≤ {TARGET_FIXED_CALLS} + one capture per pane whose activity changed: "
                 f"{'MET' if met1 else 'MISSED'}** — over the budget in {over}/{total} ticks; tmux invocations that "
                 f"are not captures: max {max(fixed)} per tick; captures beyond the panes that changed: "
                 f"max {max(extra)}, total {sum(max(0, e) for e in extra)}. By subcommand: {dict(subs)}.")
    lines.append(f"  Counted tmux processes (subprocess.Popen) {'agree' if agree else 'DO NOT agree'} with "
                 f"TmuxRuntime.calls on every tick; other processes spawned during ticks: "
                 f"{sum(t.other_procs for r in results for t in r.ticks)}.")
    if not met1:
        worst = max((t for r in results for t in r.ticks), key=lambda t: t.tmux - TARGET_FIXED_CALLS - t.changed)
        lines.append(f"  Worst tick: {worst.tmux} invocations for {worst.changed} changed panes "
                     f"({worst.captures} captures; {dict(worst.subcommands)}).")

    # Target 2: a 100-agent tick under 150 ms median.
    hundred = next((r for r in results if r.agents == TARGET_AGENTS), None)
    if hundred is None:
        lines.append(f"- **{TARGET_AGENTS}-agent tick median < {TARGET_MEDIAN_MS:g} ms: NOT MEASURED** (no {TARGET_AGENTS}-agent row)")
    else:
        median = hundred.median_ms()
        met2 = median < TARGET_MEDIAN_MS
        verdict = "MET" if met2 else "MISSED"
        margin = (f"{TARGET_MEDIAN_MS - median:.1f} ms to spare" if met2
                  else f"over by {median - TARGET_MEDIAN_MS:.1f} ms ({median / TARGET_MEDIAN_MS:.2f}×)")
        lines.append(f"- **{TARGET_AGENTS}-agent tick median < {TARGET_MEDIAN_MS:g} ms: {verdict}** — "
                     f"median {median:.1f} ms, p95 {hundred.p95_ms():.1f} ms ({margin}).")
    for r in results:
        if r.cpu_pct is not None:
            lines.append(f"- CPU run, {r.agents} agents: {r.cpu_wall:.1f} s wall, ~{r.cpu_ticks} ticks, "
                         f"watchdog {r.cpu_pct:.2f}% + tmux clients {r.cpu_children_pct:.2f}% of one core; "
                         f"events: {dict(r.cpu_events) or 'none'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="10,50,100", help="comma-separated agent counts (default 10,50,100)")
    parser.add_argument("--ticks", type=int, default=30, help="measured ticks per agent count (default 30)")
    parser.add_argument("--cpu-seconds", type=float, default=60.0,
                        help="length of the CPU run of the watchdog process (default 60; 0 skips it)")
    parser.add_argument("--gap", type=float, default=1.0,
                        help="seconds between making panes print and the tick (default 1.0)")
    parser.add_argument("--tick-every", type=float, default=0.0,
                        help="instead of --gap: measured ticks this many seconds apart, the activity at a random "
                             "moment in between (5 = the real loop's timing; slow)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for which agents print")
    parser.add_argument("--profile", action="store_true",
                        help=f"profile one extra tick at {TARGET_AGENTS} agents (or the largest N) with cProfile")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.agents.split(",") if x.strip()]
    if not counts or min(counts) < 1 or args.ticks < 1:
        parser.error("--agents needs positive counts and --ticks >= 1")
    if shutil.which("tmux") is None:
        parser.error("tmux is not on PATH")

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"load average at the start: {loadavg()}")
    profile_n = TARGET_AGENTS if TARGET_AGENTS in counts else max(counts)
    counter = SpawnCounter()
    counter.install()
    results: list[Result] = []
    profile_file: Path | None = None
    try:
        for n in counts:
            result, prof = run_one(n, args, counter, log, profile=args.profile and n == profile_n)
            results.append(result)
            profile_file = prof or profile_file
    except KeyboardInterrupt:
        log("interrupted; servers and temp dirs cleaned up")
        return 130
    finally:
        counter.uninstall()
    print("\n".join(report(results, args)))
    if profile_file is not None:
        print(f"\n### cProfile of one {profile_n}-agent tick (top 20 by cumulative time)\n\n```")
        stats = pstats.Stats(str(profile_file), stream=sys.stdout).strip_dirs()
        stats.sort_stats("cumulative").print_stats(20)
        print("```\n\n### … and by own time (top 15)\n\n```")
        stats.sort_stats("tottime").print_stats(15)
        print("```")
        profile_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
