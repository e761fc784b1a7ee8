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
   instead spaces the ticks like the real loop, the output at a random moment in between;
   `--active 1.0` makes every pane print before every tick (the worst case for captures).
   Per tick it records wall time, tmux processes spawned (every `subprocess.Popen` whose
   argv[0] is tmux, cross-checked against `TmuxRuntime.calls`), screens captured, bytes
   captured, how many panes' `#{window_activity}` actually changed, and the wall time of the
   tick's parts (config reload, list-panes, the capture batch, read_facts, decide, settle,
   the state's serialization and its write);
3. the CPU figure: `python -m agent_orchestrator watchdog --config …` as a real background
   process at signal_interval 5 for `--cpu-seconds`, IDLE (nobody prints: the steady state of a
   team that is thinking); with `--cpu-active`, a second window with the same 10% activity
   every 5 s. CPU = utime+stime from /proc/<pid>/stat over the wall time (measured after its
   first tick, so interpreter start-up is not in it). The tmux client processes it spawns are
   reported separately (cutime+cstime).
4. with `--compare-capture`: the three ways to read K changed screens, timed on the same panes
   (K single `capture-pane` processes; one command list with marker lines, what the watchdog
   does; one control-mode client, `tmux -C attach -f read-only,ignore-size,no-output`);
5. with `--cold K` (largest N only): K samples each of a call after 1 s idle and right after —
   /bin/true, tmux display-message, list-panes as a process and through a persistent
   control-mode client; with `--what-if-save-once`: the ticks with `Watchdog.save` patched to
   serialize the state once per save (a proposed driver change; labelled in the output).

Then a Markdown table, the machine, and a verdict on the targets: at most 2 tmux processes on
EVERY tick, however many panes changed; a 100-agent tick under 30 ms median.
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
from collections.abc import Callable, Iterable
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
from agent_orchestrator.watchdog import observe as observe_module
from agent_orchestrator.watchdog.driver import TickResult, Watchdog
from tests.support.spawns import SpawnCounter
from tests.support.tmux import kill_server, write_config

SIGNAL_INTERVAL = 5
ACTIVE_SHARE = 0.10
TARGET_TMUX_PER_TICK = 2
TARGET_MEDIAN_MS = 30.0
TARGET_AGENTS = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tmux_runtime(runtime: object) -> TmuxRuntime:
    """The TmuxRuntime under a project's runtime (which may wrap it, e.g. runtime/owner.py)."""
    while not isinstance(runtime, TmuxRuntime):
        runtime = runtime.inner  # type: ignore[attr-defined]
    return runtime


class CaptureMeter:
    """Wraps one TmuxRuntime's `capture_many` to sum the bytes of captured screen text."""

    def __init__(self) -> None:
        self.bytes = 0
        self.runtime: TmuxRuntime | None = None

    def attach(self, runtime: TmuxRuntime) -> None:
        if runtime is self.runtime:
            return
        self.runtime = runtime
        inner = runtime.capture_many

        def capture_many(sessions: Iterable[str]) -> dict[str, list[str]]:
            screens = inner(sessions)
            self.bytes += sum(len(row.encode("utf-8", "replace")) + 1 for screen in screens.values() for row in screen)
            return screens

        runtime.capture_many = capture_many  # type: ignore[method-assign]


class PhaseClock:
    """Wall time spent in the tick's parts, by wrapping the functions the driver calls."""

    PARTS = ("reload (load_config)", "list-panes", "capture batch", "read_facts", "decide", "settle",
             "to_json (save's compare)", "save_state")

    def __init__(self) -> None:
        self.spent: dict[str, float] = dict.fromkeys(self.PARTS, 0.0)
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
        self.wrap(runtime, "capture_many", "capture batch")
        self.wrap(observe_module, "read_facts", "read_facts")
        self.wrap(driver, "decide", "decide")
        self.wrap(driver, "settle", "settle")
        self.wrap(driver, "to_json", "to_json (save's compare)")  # Watchdog.save serializes to compare…
        self.wrap(driver, "save_state", "save_state")  # …and save_state serializes again, then writes

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
    actions: int
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
    warmup_tmux: int = 0
    cpu_active_pct: float | None = None
    cpu_active_children_pct: float | None = None
    compare: dict[str, tuple[float, float]] = field(default_factory=dict)  # method -> (median ms, processes)
    cold: dict[str, tuple[float, float]] = field(default_factory=dict)  # way -> (ms after 1 s idle, ms right after)

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
    """Types a short line + Enter into a random share of the panes: one tmux command list."""

    def __init__(self, runtime: TmuxRuntime, sessions: list[str], rng: random.Random, share: float = ACTIVE_SHARE) -> None:
        self.server = runtime.server  # direct libtmux: not counted in TmuxRuntime.calls
        self.sessions = sessions
        self.rng = rng
        self.count = min(len(sessions), max(1, round(share * len(sessions))))
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


def save_once(wd: Watchdog) -> None:
    """What-if (`--what-if-save-once`, not the product's code): `Watchdog.save` writes the JSON
    text it has just serialized to compare, instead of `save_state` serializing the state again.
    Its write then counts under `rest`."""
    from agent_orchestrator.watchdog.state import state_path, write_atomic

    def save(state: object) -> None:
        text = driver.to_json(state)  # type: ignore[arg-type]
        if text != wd._saved:
            write_atomic(state_path(wd.log_dir), text)
            wd._saved = text

    wd.save = save  # type: ignore[method-assign]


def activities(result: TickResult) -> dict[str, float]:
    """Each agent's `#{window_activity}` as the tick observed it."""
    return {name: a.pane.window_activity for name, a in result.observation.agents.items() if a.pane is not None}


def measure_ticks(wd: Watchdog, activity: Activity, counter: SpawnCounter, ticks: int, gap: float, every: float,
                  result: Result, log: Callable[[str], None], profile_out: Path | None) -> None:
    runtime = tmux_runtime(wd.project.runtime)
    meter = CaptureMeter()
    meter.attach(runtime)
    clock = PhaseClock()
    clock.install(runtime)
    try:
        _measure(wd, runtime, activity, counter, ticks, gap, every, result, log, profile_out, meter, clock)
    finally:
        clock.uninstall()


def _measure(wd: Watchdog, runtime: TmuxRuntime, activity: Activity, counter: SpawnCounter, ticks: int, gap: float, every: float,
             result: Result, log: Callable[[str], None], profile_out: Path | None, meter: CaptureMeter, clock: PhaseClock) -> None:
    tmux0 = counter.tmux
    warm = wd.tick()  # warm-up: captures every pane once (no facts yet)
    result.warmup_tmux = counter.tmux - tmux0
    log(f"  warm-up tick: {wd.captures} screens captured with {result.warmup_tmux} tmux processes")
    previous = activities(warm)
    for i in range(ticks + (1 if profile_out else 0)):
        if every > 0:  # like the real loop: ticks `every` s apart, the output at a random moment between them
            cycle = time.monotonic()
            time.sleep(activity.rng.uniform(0, every))
            activity.poke()
            time.sleep(max(0.0, cycle + every - time.monotonic()))
        else:
            activity.poke()
            time.sleep(gap)
        calls0, caps0, bytes0 = runtime.calls, wd.captures, meter.bytes
        tmux0, other0, subs0 = counter.snapshot()
        parts0 = dict(clock.spent)
        profiler = cProfile.Profile() if profile_out and i == ticks else None
        if profiler:
            clock.uninstall()  # the profile shows the driver's own calls, not the bench's timers
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        tick = wd.tick()
        if profiler:
            profiler.disable()
        elapsed = (time.perf_counter() - start) * 1000
        tmux1, other1, subs1 = counter.snapshot()
        now_panes = activities(tick)
        changed = sum(1 for name, act in now_panes.items() if previous.get(name) != act)
        previous = now_panes
        if profiler and profile_out:
            profiler.dump_stats(profile_out)
            log(f"  profiled tick: {elapsed:.1f} ms (under cProfile, not in the figures)")
            continue
        result.ticks.append(TickRecord(
            ms=elapsed, tmux=tmux1 - tmux0, runtime_calls=runtime.calls - calls0,
            other_procs=other1 - other0, captures=wd.captures - caps0, bytes=meter.bytes - bytes0,
            changed=changed, subcommands=subs1 - subs0, actions=len(tick.actions),
            parts=Counter({k: (clock.spent[k] - parts0[k]) * 1000 for k in PhaseClock.PARTS}),
        ))


def proc_cpu(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) of a process in seconds, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17 → index 11..14
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


@dataclass
class CpuRun:
    pct: float
    children_pct: float
    wall: float
    ticks: int
    events: Counter[str]


def measure_cpu(config_path: Path, log_dir: Path, activity: Activity | None, seconds: float,
                log: Callable[[str], None], processes: list[subprocess.Popen]) -> CpuRun:
    """The watchdog as its own process for `seconds`: idle (`activity` None) or with `activity`
    poked every SIGNAL_INTERVAL."""
    state_file = log_dir / "state" / "watchdog.json"
    events_file = log_dir / "events.jsonl"
    events_before = len(events_file.read_text(encoding="utf-8").splitlines()) if events_file.exists() else 0

    def last_tick() -> float:
        try:
            return float(json.loads(state_file.read_text(encoding="utf-8")).get("last_tick") or 0)
        except (OSError, ValueError, AttributeError):
            return 0.0

    launched = time.time()
    with open(config_path.parent / "watchdog.out", "ab") as sink:
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
        if activity is not None and now >= next_poke:
            activity.poke()
            next_poke += SIGNAL_INTERVAL
        time.sleep(max(0.0, min(end, next_poke if activity is not None else end) - time.monotonic()))
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
    events: Counter[str] = Counter()
    if events_file.exists():
        for line in events_file.read_text(encoding="utf-8").splitlines()[events_before:]:
            try:
                events[json.loads(line).get("action", "?")] += 1
            except ValueError:
                continue
    run = CpuRun(100 * (cpu1 - cpu0) / wall, 100 * (child1 - child0) / wall, wall, ticks, events)
    log(f"  watchdog process ({'idle' if activity is None else 'active'}): {cpu1 - cpu0:.2f} s CPU "
        f"(+{child1 - child0:.2f} s in tmux/git children) over {wall:.1f} s, ~{ticks} ticks; events: {dict(events)}")
    return run


# -- ways to read K screens ------------------------------------------------------------------
def control_mode_capture(runtime: TmuxRuntime, sessions: list[str], attach_to: str) -> dict[str, list[str]]:
    """K captures through one control-mode client (`tmux -C attach -f read-only,ignore-size,no-output`,
    the commands on stdin, one %begin … %end|%error block each). Measured, not used: see BENCHMARKS.md."""
    argv = [*runtime.base_argv(), "-C", "attach-session", "-t", f"={attach_to}", "-f", "read-only,ignore-size,no-output"]
    script = "".join(f"capture-pane -p -t {runtime.pane(s)}\n" for s in sessions)
    out = subprocess.run(argv, input=script, capture_output=True, text=True, check=False, timeout=30).stdout
    blocks: list[tuple[bool, list[str]]] = []
    rows: list[str] | None = None
    for line in out.splitlines():
        if line.startswith("%begin "):
            rows = []
        elif rows is not None and line.startswith(("%end ", "%error ")):
            blocks.append((line.startswith("%end "), rows))
            rows = None
        elif rows is not None:
            rows.append(line)
    blocks = blocks[len(blocks) - len(sessions):]  # the first block answers the attach itself
    screens = {}
    for session, (ok, rows) in zip(sessions, blocks, strict=False):
        while ok and rows and not rows[-1].strip():
            rows.pop()
        if ok:
            screens[session] = rows
    return screens


def cold_start(runtime: TmuxRuntime, samples: int, log: Callable[[str], None]) -> dict[str, tuple[float, float]]:
    """Median ms after 1 s of idleness (like a tick after the loop slept) and back to back, of:
    /bin/true, `tmux display-message` and `tmux list-panes` (the tick's format) as processes, and
    the same `list-panes` through a persistent control-mode client attached before the timing."""
    from agent_orchestrator.runtime.tmux import _FORMAT

    base = runtime.base_argv()
    ways: dict[str, list[str]] = {"/bin/true": ["/bin/true"], "tmux display-message": [*base, "display-message", "-p", "x"],
                                  "tmux list-panes (process)": [*base, "list-panes", "-a", "-F", _FORMAT]}
    first = next(iter(runtime.observe()))
    client = subprocess.Popen([*base, "-C", "attach-session", "-t", f"={first}", "-f", "read-only,ignore-size,no-output"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert client.stdin is not None and client.stdout is not None
    quoted = "'" + _FORMAT.replace("\t", " ") + "'"  # tmux command-string syntax; our own constant only

    def command(line: str) -> list[str]:
        """Send one command line; return its output block (notifications outside blocks skipped)."""
        client.stdin.write(line + "\n")  # type: ignore[union-attr]
        client.stdin.flush()  # type: ignore[union-attr]
        rows: list[str] | None = None
        while True:
            out = client.stdout.readline()  # type: ignore[union-attr]
            if not out:
                raise RuntimeError("the control-mode client exited")
            if out.startswith("%begin "):
                rows = []
            elif rows is not None and out.startswith(("%end ", "%error ")):
                return rows
            elif rows is not None:
                rows.append(out)

    # The attach answers with a block of its own first: read up to our own marker, so each
    # timed call reads exactly its own answer.
    client.stdin.write("display-message -p ao-bench-ready\n")
    client.stdin.flush()
    while client.stdout.readline().strip() != "ao-bench-ready":
        pass
    while not client.stdout.readline().startswith("%end "):
        pass

    def via_client() -> None:
        rows = command(f"list-panes -a -F {quoted}")
        if len(rows) < 1:
            raise RuntimeError("list-panes through the control client gave nothing")

    def spawner(argv: list[str]) -> Callable[[], None]:
        def call() -> None:
            subprocess.run(argv, capture_output=True, check=False)
        return call

    calls: dict[str, Callable[[], None]] = {name: spawner(argv) for name, argv in ways.items()}
    calls["list-panes (persistent control client)"] = via_client
    figures: dict[str, tuple[float, float]] = {}
    try:
        for name, call in calls.items():
            cold, warm = [], []
            for _ in range(samples):
                time.sleep(1.0)
                start = time.perf_counter()
                call()
                cold.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                call()
                warm.append((time.perf_counter() - start) * 1000)
            figures[name] = (statistics.median(cold), statistics.median(warm))
            log(f"  {name}: {figures[name][0]:.1f} ms after 1 s idle, {figures[name][1]:.1f} ms right after")
    finally:
        client.stdin.close()
        client.wait(timeout=10)
    return figures


def compare_capture(runtime: TmuxRuntime, sessions: list[str], k: int, reps: int, counter: SpawnCounter) -> dict[str, tuple[float, float]]:
    """Median ms and tmux processes per read of K screens, three ways, the same K panes each rep;
    plus whether control mode read the same screens as the command list."""
    runtime.observe()
    chosen = sessions[:k]
    ways: dict[str, Callable[[], object]] = {
        "K × capture-pane": lambda: [runtime.capture(s) for s in chosen],
        "one command list (capture_many)": lambda: runtime.capture_many(chosen),
        "one control-mode client (tmux -C)": lambda: control_mode_capture(runtime, chosen, chosen[0]),
    }
    same = runtime.capture_many(chosen) == control_mode_capture(runtime, chosen, chosen[0])
    figures: dict[str, tuple[float, float]] = {}
    for name, way in ways.items():
        times = []
        tmux0 = counter.tmux
        for _ in range(reps):
            start = time.perf_counter()
            way()
            times.append((time.perf_counter() - start) * 1000)
        figures[name] = (statistics.median(times), (counter.tmux - tmux0) / reps)
    figures["same screens"] = (1.0 if same else 0.0, 0.0)
    return figures


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
        runtime = tmux_runtime(project.runtime)
        wait_all_ready(runtime, sessions, timeout=60 + n)
        result.startup_s = time.monotonic() - t0
        log(f"  all {n} agents show 'demo>' after {result.startup_s:.1f} s")
        rng = random.Random(args.seed + n)
        activity = Activity(runtime, sessions, rng, args.active)

        time.sleep(1.1)  # so the warm-up capture is in a later second than the start-up output
        wd = Watchdog(config_path)
        if args.what_if_save_once:
            save_once(wd)
        if profile:
            profile_file = Path(tempfile.mkstemp(prefix="ao-bench-profile-", suffix=".prof")[1])
        measure_ticks(wd, activity, counter, args.ticks, args.gap, args.tick_every, result, log, profile_file)
        r = result
        log(f"  {args.ticks} ticks: median {r.median_ms():.1f} ms, p95 {r.p95_ms():.1f} ms, "
            f"{r.mean('tmux'):.2f} tmux/tick (max {max(t.tmux for t in r.ticks)}), {r.mean('captures'):.2f} screens/tick, "
            f"{r.mean('changed'):.2f} panes changed/tick")
        del wd

        if args.compare_capture:
            for k in sorted({min(n, c) for c in (1, 10, n)}):
                figures = compare_capture(runtime, sessions, k, args.compare_reps, counter)
                result.compare.update({f"{k}|{name}": v for name, v in figures.items()})
                log(f"  reading {k} screens: " + ", ".join(f"{name} {ms:.1f} ms" for name, (ms, _) in figures.items() if name != "same screens")
                    + f"; control mode gave the same screens: {bool(figures['same screens'][0])}")
        if args.cold > 0 and n == max(int(x) for x in args.agents.split(",") if x.strip()):
            result.cold = cold_start(runtime, args.cold, log)
        if args.cpu_seconds > 0:
            log(f"  CPU run: the watchdog as a process for {args.cpu_seconds:g} s at signal_interval {SIGNAL_INTERVAL}, idle")
            run = measure_cpu(config_path, Path(config.defaults.log_dir), None, args.cpu_seconds, log, processes)
            result.cpu_pct, result.cpu_children_pct, result.cpu_wall, result.cpu_ticks, result.cpu_events = (
                run.pct, run.children_pct, run.wall, run.ticks, run.events)
            if args.cpu_active:
                log(f"  CPU run: the same with {activity.count} panes printing every {SIGNAL_INTERVAL} s")
                active = measure_cpu(config_path, Path(config.defaults.log_dir), activity, args.cpu_seconds, log, processes)
                result.cpu_active_pct, result.cpu_active_children_pct = active.pct, active.children_pct
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
        pane_pid, _, socket_path = line.partition("\t")
        if pane_pid.isdigit():
            pids.add(int(pane_pid))
    for record in spec_dir.glob("*.json.pid"):
        try:
            pids.add(int(json.loads(record.read_text(encoding="utf-8"))["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
    kill_server(socket)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
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
    share = f"{args.active:.0%} of the agents"
    if args.tick_every > 0:
        timing = f"print a line at a random moment of a {args.tick_every:g} s tick interval"
    else:
        timing = f"print a line {args.gap:g} s before the tick"
    cpu = (f"the watchdog as its own process for {args.cpu_seconds:g} s at signal_interval {SIGNAL_INTERVAL}, idle"
           + (f", then as long with {ACTIVE_SHARE:.0%} of the panes printing every {SIGNAL_INTERVAL} s" if args.cpu_active else "")
           if args.cpu_seconds > 0 else "not measured (--cpu-seconds 0)")
    header = ("| agents | tick median ms | tick p95 ms | tmux processes/tick (max) | screens captured/tick | bytes captured/tick "
              f"| panes changed/tick | watchdog CPU % idle (signal_interval {SIGNAL_INTERVAL}) | + its tmux/git children CPU % |")
    setup = (f"{args.ticks} measured ticks per row after one warm-up tick; before each tick {share} "
             f"{timing}. CPU: {cpu}."
             + (" WHAT-IF: Watchdog.save patched by the bench to serialize the state once per save (--what-if-save-once)."
                if args.what_if_save_once else ""))
    lines = ["", "## Watchdog tick benchmark", "", *machine(), "", setup, "", header,
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r.agents} | {r.median_ms():.1f} | {r.p95_ms():.1f} | {r.mean('tmux'):.2f} ({max(t.tmux for t in r.ticks)}) "
            f"| {r.mean('captures'):.2f} | {r.mean('bytes'):.0f} | {r.mean('changed'):.2f} | {fmt(r.cpu_pct, 2)} | {fmt(r.cpu_children_pct, 2)} |")
    if any(r.cpu_active_pct is not None for r in results):
        lines += ["", f"CPU with {ACTIVE_SHARE:.0%} of the panes printing every {SIGNAL_INTERVAL} s: "
                  + "; ".join(f"{r.agents} agents {fmt(r.cpu_active_pct, 2)}% (+{fmt(r.cpu_active_children_pct, 2)}% children)"
                              for r in results if r.cpu_active_pct is not None) + "."]
    where = ("Where the tick's wall time goes (mean ms per measured tick; `rest` = everything else: "
             "observing requests/hooks/pids, the executor, Python overhead):")
    lines += ["", where, "",
              "| agents | tick mean | " + " | ".join(PhaseClock.PARTS) + " | rest |",
              "|---:|---:|" + "---:|" * (len(PhaseClock.PARTS) + 1)]
    for r in results:
        parts = [statistics.fmean(t.parts[k] for t in r.ticks) for k in PhaseClock.PARTS]
        mean = r.mean("ms")
        lines.append(f"| {r.agents} | {mean:.1f} | " + " | ".join(f"{p:.1f}" for p in parts) + f" | {mean - sum(parts):.1f} |")
    compared = [r for r in results if r.compare]
    if compared:
        lines += ["", f"Reading K screens (median of {args.compare_reps}; tmux processes per read):", "",
                  "| agents | K | K × capture-pane | one command list (capture_many) | one control-mode client | same screens |",
                  "|---:|---:|---:|---:|---:|---|"]
        for r in compared:
            for k in sorted({int(key.split("|")[0]) for key in r.compare}):
                cell = {name.split("|", 1)[1]: v for name, v in r.compare.items() if name.startswith(f"{k}|")}
                ways = ["K × capture-pane", "one command list (capture_many)", "one control-mode client (tmux -C)"]
                lines.append(f"| {r.agents} | {k} | " + " | ".join(f"{cell[w][0]:.1f} ms ({cell[w][1]:.0f})" for w in ways)
                             + f" | {'yes' if cell['same screens'][0] else 'NO'} |")
    for r in results:
        if r.cold:
            lines += ["", f"Starting a call after 1 s idle vs right after ({r.agents} agents' server; median of {args.cold}):", "",
                      "| call | after 1 s idle ms | right after ms |", "|---|---:|---:|"]
            lines += [f"| {name} | {cold:.1f} | {warm:.1f} |" for name, (cold, warm) in r.cold.items()]
    lines += ["", "### Targets", ""]

    # Target 1: at most 2 tmux processes on every tick.
    agree = all(t.tmux == t.runtime_calls for r in results for t in r.ticks)
    over = [(r.agents, t) for r in results for t in r.ticks if t.tmux > TARGET_TMUX_PER_TICK]
    warm_over = [r.agents for r in results if r.warmup_tmux > TARGET_TMUX_PER_TICK]
    total = sum(len(r.ticks) for r in results)
    subs: Counter[str] = Counter()
    for r in results:
        for t in r.ticks:
            subs += t.subcommands
    met1 = not over and not warm_over
    lines.append(f"- **≤ {TARGET_TMUX_PER_TICK} tmux processes on every tick: {'MET' if met1 else 'MISSED'}** — "
                 f"over it in {len(over)}/{total} measured ticks and {len(warm_over)} warm-up ticks (each warm-up tick captures every pane); "
                 f"max {max(t.tmux for r in results for t in r.ticks)} per tick. By subcommand: {dict(subs)}. "
                 f"Ticks with actions: {sum(1 for r in results for t in r.ticks if t.actions)}.")
    lines.append(f"  Counted tmux processes (subprocess.Popen) {'agree' if agree else 'DO NOT agree'} with "
                 f"TmuxRuntime.calls on every tick; other processes spawned during ticks: "
                 f"{sum(t.other_procs for r in results for t in r.ticks)}.")
    if over:
        n, worst = max(over, key=lambda x: x[1].tmux)
        lines.append(f"  Worst tick ({n} agents): {worst.tmux} processes for {worst.changed} changed panes "
                     f"({worst.captures} screens; {dict(worst.subcommands)}; {worst.actions} actions).")

    # Target 2: a 100-agent tick under 30 ms median.
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
            lines.append(f"- CPU run (idle), {r.agents} agents: {r.cpu_wall:.1f} s wall, ~{r.cpu_ticks} ticks, "
                         f"watchdog {r.cpu_pct:.2f}% + children {r.cpu_children_pct:.2f}% of one core; "
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
    parser.add_argument("--active", type=float, default=ACTIVE_SHARE,
                        help=f"share of the agents that print before each measured tick (default {ACTIVE_SHARE}; 1.0 = all)")
    parser.add_argument("--cpu-active", action="store_true", help="a second CPU window with 10%% of the panes printing every 5 s")
    parser.add_argument("--compare-capture", action="store_true",
                        help="also time reading 1, 10 and N screens: N single captures, one command list, one control-mode client")
    parser.add_argument("--what-if-save-once", action="store_true",
                        help="measure with Watchdog.save writing the text it serialized (one to_json a save, not two): "
                             "a proposed driver change, patched in by the bench")
    parser.add_argument("--cold", type=int, default=0,
                        help="at the largest N, time calls after 1 s idle vs back to back, this many samples each "
                             "(processes vs a persistent control-mode client)")
    parser.add_argument("--compare-reps", type=int, default=15, help="repetitions per way with --compare-capture (default 15)")
    parser.add_argument("--profile", action="store_true",
                        help=f"profile one extra tick at {TARGET_AGENTS} agents (or the largest N) with cProfile")
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.agents.split(",") if x.strip()]
    if not counts or min(counts) < 1 or args.ticks < 1 or not 0 < args.active <= 1:
        parser.error("--agents needs positive counts, --ticks >= 1 and 0 < --active <= 1")
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
