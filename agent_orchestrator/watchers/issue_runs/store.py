"""Issue runs on disk: `<log_dir>/state/runs.json`, and starting one (`agents run`).

A run is a task agent working on one issue. `agents run ISSUE --agent NAME --prompt-file F`
starts the agent with the prompt and records the run; the issue-run watcher (`issue_runs`) ticks
every run whose status is `running` until it ends `closed` (pushed and green) or `needs-human`.
Both processes edit the file under an fcntl lock (`.runs.lock`) with an atomic replace.

A record is a `Run` (its fields are the JSON keys, see there); `Run.from_json` reads one and
raises `RunRecordError`, naming the issue and the field, when it is malformed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent_orchestrator.config.schema import AgentConfig, Config
from agent_orchestrator.handoff.gitrepo import GitError
from agent_orchestrator.runtime.project import Outcome, Project
from agent_orchestrator.watchers.sources import WatchRepo, refresh

RUNNING, CLOSED, NEEDS_HUMAN = "running", "closed", "needs-human"
TERMINAL = (CLOSED, NEEDS_HUMAN)


class RunError(ValueError):
    """A run that cannot be started (unknown or wrong agent, no repo, already in flight)."""


class RunRecordError(ValueError):
    """A record in the runs file is malformed; the message names the issue and the field."""


def _required(data: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key not in data and default is None:
        raise RunRecordError(f"{where}: {key}: missing")
    return data.get(key, default)


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = _required(data, key, where, default)
    if not isinstance(value, str):
        raise RunRecordError(f"{where}: {key}: expected text, got {value!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise RunRecordError(f"{where}: {key}: expected text or null, got {value!r}")
    return value


def _seconds(data: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = _required(data, key, where, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunRecordError(f"{where}: {key}: expected epoch seconds, got {value!r}")
    return float(value)


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise RunRecordError(f"{where}: {key}: expected a list, got {value!r}")
    return value


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a run's history: at `ts` (epoch seconds) the run was started or the watcher
    chose `choice` (a decision choice, or "start"), for `reason`."""

    ts: float
    choice: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The JSON object: `{"ts", "choice", "reason"}`."""
        return {"ts": self.ts, "choice": self.choice, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Any, where: str) -> HistoryEntry:
        """An entry from its JSON object; `where` prefixes the error. Raises RunRecordError."""
        if not isinstance(data, Mapping):
            raise RunRecordError(f"{where}: expected a JSON object, got {data!r}")
        return cls(_seconds(data, "ts", where), _text(data, "choice", where), _text(data, "reason", where, ""))


@dataclass(frozen=True)
class Run:
    """One issue run, as recorded in the runs file (each field is a JSON key of the record).

    `issue`: the issue id; `agent`: the task agent working on it; `prompt_file`: the prompt it
    started with; `started_at`: epoch seconds; `repo`: the clone whose origin/main is read, and
    `base` its head when the run started (None: nothing pushed yet); `status`: running, closed or
    needs-human; `agent_status`: working, idle, error or unknown as last seen; `last_progress_at`:
    epoch seconds; `commit`: the pushed commit, once there is one; `ci` / `ci_commit`: the last CI
    verdict and the commit it is for; `fixed_commits`: red commits a fix-forward prompt named;
    `reason`: why the run ended; `ended_at`: epoch seconds (None while running); `history`: what
    happened, oldest first; `previous`: earlier runs of the same issue, oldest first (the key is
    written only when there is one).
    """

    issue: str
    agent: str
    prompt_file: str
    started_at: float
    repo: str
    base: str | None
    last_progress_at: float
    status: str = RUNNING
    agent_status: str = "unknown"
    commit: str | None = None
    ci: str | None = None
    ci_commit: str | None = None
    fixed_commits: tuple[str, ...] = ()
    reason: str = ""
    ended_at: float | None = None
    history: tuple[HistoryEntry, ...] = ()
    previous: tuple[Run, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The record as the runs file holds it (JSON-ready: lists, not tuples)."""
        out: dict[str, Any] = {
            "issue": self.issue, "agent": self.agent, "prompt_file": self.prompt_file, "started_at": self.started_at,
            "repo": self.repo, "base": self.base, "status": self.status, "agent_status": self.agent_status,
            "last_progress_at": self.last_progress_at, "commit": self.commit, "ci": self.ci, "ci_commit": self.ci_commit,
            "fixed_commits": list(self.fixed_commits), "reason": self.reason, "ended_at": self.ended_at,
            "history": [h.to_json() for h in self.history],
        }
        if self.previous:
            out["previous"] = [p.to_json() for p in self.previous]
        return out

    @classmethod
    def from_json(cls, data: Any, issue: str, *, where: str | None = None) -> Run:
        """The run recorded under `issue` in the runs file.

        `agent`, `repo` and `started_at` are required; a missing `issue` is the key's, a missing
        `last_progress_at` is `started_at`, the other fields have the dataclass defaults. Raises
        RunRecordError when the record is not a JSON object or a field is missing or has the wrong
        type; its message starts with `where` (default "issue <issue>") and names the field.
        """
        where = where or f"issue {issue}"
        if not isinstance(data, Mapping):
            raise RunRecordError(f"{where}: expected a JSON object, got {data!r}")
        started = _seconds(data, "started_at", where)
        ended = data.get("ended_at")
        fixed = _list(data, "fixed_commits", where)
        if not all(isinstance(c, str) for c in fixed):
            raise RunRecordError(f"{where}: fixed_commits: expected a list of commit shas, got {fixed!r}")
        return cls(
            issue=_text(data, "issue", where, issue), agent=_text(data, "agent", where),
            prompt_file=_text(data, "prompt_file", where, ""), started_at=started, repo=_text(data, "repo", where),
            base=_optional_text(data, "base", where), status=_text(data, "status", where, RUNNING),
            agent_status=_text(data, "agent_status", where, "unknown"),
            last_progress_at=_seconds(data, "last_progress_at", where, started), commit=_optional_text(data, "commit", where),
            ci=_optional_text(data, "ci", where), ci_commit=_optional_text(data, "ci_commit", where),
            fixed_commits=tuple(fixed), reason=_text(data, "reason", where, ""),
            ended_at=None if ended is None else _seconds(data, "ended_at", where),
            history=tuple(HistoryEntry.from_json(h, f"{where}: history[{i}]") for i, h in enumerate(_list(data, "history", where))),
            previous=tuple(cls.from_json(p, issue, where=f"{where}: previous[{i}]")
                           for i, p in enumerate(_list(data, "previous", where))),
        )


class RunStore:
    """The runs file of one project: `<log_dir>/state/runs.json`, `{"runs": {issue: record}}`."""

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / "state" / "runs.json"
        self._lock = Path(log_dir) / "state" / ".runs.lock"

    def load(self) -> dict[str, Run]:
        """Every run by issue ({} when there is no file yet, or it is not JSON); never writes.

        Raises RunRecordError, naming this file, the issue and the field, when a record is malformed.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(runs, dict):
            return {}
        try:
            return {str(k): Run.from_json(v, str(k)) for k, v in runs.items()}
        except RunRecordError as exc:
            raise RunRecordError(f"{self.path}: {exc}; fix or remove that record") from None

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Run]]:
        """Read-modify-write under the lock: change the yielded dict in place (assign new `Run`s);
        it is saved atomically. Raises RunRecordError (and writes nothing) as `load` does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            runs = self.load()
            yield runs
            tmp_fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".runs-")
            try:
                with os.fdopen(tmp_fd, "w", encoding="utf-8") as fh:
                    json.dump({"runs": {k: r.to_json() for k, r in runs.items()}}, fh, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        finally:
            os.close(fd)


def run_repo(config: Config, agent: AgentConfig) -> tuple[Path, bool] | None:
    """The clone whose origin/main shows the run's pushed commit, and whether it is the shared
    handoff repo: the agent's own dir when it is a git clone (its pushes update its tracking ref,
    no fetch needed), else `[loop].repo`; None when there is neither."""
    if agent.dir is not None and (Path(agent.dir) / ".git").exists():
        return Path(agent.dir), False
    if config.loop is not None and config.loop.repo is not None:
        return Path(config.loop.repo), True
    return None


@dataclass(frozen=True)
class Started:
    """What `start_run` did: the agent's start outcome, the run (recorded unless the start
    failed) and the enabled issue-run watchers that will tick it."""

    outcome: Outcome
    run: Run
    watchers: list[str]


def start_run(project: Project, issue: str, agent_name: str, prompt_file: Path, now: float) -> Started:
    """Start task agent `agent_name` on `issue` with the prompt in `prompt_file` and record the run
    (`now`: epoch seconds).

    Raises RunError when the agent is unknown or not a task agent, when there is no repo to read
    the pushed commit from, when `issue` is already in flight, or when the agent is busy with
    another run's issue; RunRecordError when the runs file holds a malformed record. A failed
    start is recorded as nothing (the outcome says why).
    """
    config = project.config
    agent = config.agent(agent_name)
    if agent is None:
        raise RunError(f"{agent_name}: no such agent (agents: {', '.join(a.name for a in config.agents) or 'none'})")
    if agent.kind != "task" or config.is_watcher(agent):
        raise RunError(f'{agent_name} is a {agent.kind} agent; `agents run` starts a kind = "task" agent')
    issue = issue.strip()
    if not issue:
        raise RunError("the issue id is empty")
    try:
        prompt = prompt_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunError(f"{prompt_file}: cannot read: {exc.strerror}") from None
    if not prompt.strip():
        raise RunError(f"{prompt_file}: the prompt is empty")
    where = run_repo(config, agent)
    if where is None:
        raise RunError(f"{agent_name}: its dir is not a git clone and there is no [loop].repo: nowhere to see the pushed commit")
    repo_path, shared = where
    store = RunStore(project.log_dir)
    runs = store.load()
    if issue in runs and runs[issue].status == RUNNING:
        raise RunError(f"issue {issue} is already in flight (agent {runs[issue].agent})")
    busy = [k for k, r in runs.items() if r.status == RUNNING and r.agent == agent_name]
    if busy:
        raise RunError(f"{agent_name} is busy with issue {busy[0]}; resolve that run first")
    repo = WatchRepo(repo_path)
    try:
        if shared:
            refresh(repo, project.log_dir)
        else:
            repo.fetch()  # the agent is not running yet: nothing races this fetch
        base = repo.head()
    except GitError as exc:
        raise RunError(f"{repo_path}: {exc}") from None
    pane = project.runtime.observe().get(agent.session or "")
    outcome = project.start(agent, pane, prompt=prompt)
    watchers = [a.name for a in config.watchers() if a.watcher == "issue-runs" and a.enabled]
    run = Run(issue=issue, agent=agent_name, prompt_file=str(prompt_file), started_at=now, repo=str(repo_path), base=base,
              last_progress_at=now, history=(HistoryEntry(now, "start", f"started {agent_name}"),))
    if outcome.failed:
        return Started(outcome, run, watchers)
    with store.edit() as all_runs:
        previous = all_runs.get(issue)
        if previous is not None:
            run = replace(run, previous=(*previous.previous, replace(previous, previous=())))
        all_runs[issue] = run
    return Started(outcome, run, watchers)
