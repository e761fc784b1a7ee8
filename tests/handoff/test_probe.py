"""`GitRepo(probe=True)`: `git ls-remote` first, a fetch only when the remote's head moved —
against real git, for an origin given as a plain path and as a `file://` URL (the remote-style
one: git reaches it through its transport, as it would an ssh or https origin), and through the
Observer, which always probes its mirror."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.handoff.gitrepo import GitRepo
from agent_orchestrator.handoff.mirror import ensure_mirror
from agent_orchestrator.watchdog.observe import Observer
from agent_orchestrator.watchdog.state import WatchdogState
from tests.support.fake_runtime import Clock, FakeRuntime
from tests.support.spawns import counting


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


class Repos:
    """A bare origin, a pusher's clone, and the work clone whose origin is `url`."""

    def __init__(self, root: Path, file_url: bool) -> None:
        self.root = root
        self.origin = root / "origin.git"
        git(root, "init", "-q", "--bare", str(self.origin))
        self.pusher = root / "pusher"
        git(root, "clone", "-q", str(self.origin), str(self.pusher))
        self.work = root / "work"
        git(root, "init", "-q", str(self.work))
        git(self.work, "remote", "add", "origin", f"file://{self.origin}" if file_url else str(self.origin))

    def push(self, subject: str) -> str:
        git(self.pusher, "commit", "-q", "--allow-empty", "-m", subject)
        git(self.pusher, "push", "-q", "origin", "HEAD:main")
        return git(self.pusher, "rev-parse", "HEAD")


@pytest.fixture(params=["path", "file-url"])
def repos(request: pytest.FixtureRequest, tmp_path: Path) -> Repos:
    return Repos(tmp_path, file_url=request.param == "file-url")


def git_commands(argvs: list[list[str]]) -> list[str]:
    """The git subcommand of each spawned git (after `-C <path>`)."""
    return [argv[3] for argv in argvs if Path(argv[0]).name == "git" and len(argv) > 3]


def test_an_unchanged_remote_is_not_fetched(repos: Repos) -> None:
    first = repos.push("init")
    mirror = ensure_mirror(repos.work, repos.root / "log")
    repo = GitRepo(mirror, probe=True)
    fetched = repo.fetch()
    assert (fetched.ok, fetched.head, repo.fetches, repo.skipped) == (True, first, 1, 0)
    fetch_head = mirror / "FETCH_HEAD"
    stamp = fetch_head.stat().st_mtime_ns
    with counting() as spawned:
        again = repo.fetch()
    assert (again.ok, again.head, repo.fetches, repo.skipped) == (True, first, 1, 1)
    assert git_commands(spawned.argvs) == ["ls-remote", "rev-parse"]
    assert fetch_head.stat().st_mtime_ns == stamp  # the mirror was not written
    second = repos.push("claim: T1")
    with counting() as spawned:
        moved = repo.fetch()
    assert (moved.ok, moved.head, repo.fetches) == (True, second, 2)
    assert git_commands(spawned.argvs) == ["ls-remote", "rev-parse", "fetch", "rev-parse"]
    assert repo.head() == second and repo.log(limit=1)[0].subject == "claim: T1"


def test_a_remote_without_the_branch_yet(repos: Repos) -> None:
    repo = GitRepo(ensure_mirror(repos.work, repos.root / "log"), probe=True)
    assert repo.remote_head() is None
    result = repo.fetch()
    assert (result.ok, result.head, repo.fetches, repo.skipped) == (True, None, 0, 1)
    sha = repos.push("init")
    assert repo.fetch().head == sha and repo.fetches == 1


def test_remote_head_matches_the_whole_ref_name(repos: Repos) -> None:
    sha = repos.push("init")
    git(repos.pusher, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    git(repos.pusher, "push", "-q", "origin", "HEAD:refs/heads/topic/refs/heads/main")  # ends like refs/heads/main
    repo = GitRepo(ensure_mirror(repos.work, repos.root / "log"), probe=True)
    assert repo.remote_head() == sha


def test_an_unreachable_remote_fails_once_without_a_fetch(repos: Repos) -> None:
    repos.push("init")
    mirror = ensure_mirror(repos.work, repos.root / "log")
    repo = GitRepo(mirror, probe=True, timeout=10)
    assert repo.fetch().ok
    repos.origin.rename(repos.root / "moved.git")
    with counting() as spawned:
        result = repo.fetch()
    assert not result.ok and "ls-remote" in result.error
    assert git_commands(spawned.argvs) == ["ls-remote"]


def test_the_observer_probes_its_mirror(repos: Repos, tmp_path: Path) -> None:
    repos.push("init")
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}\n")
    (tmp_path / "plan.md").write_text("plan\n")
    (tmp_path / "agents.toml").write_text(textwrap.dedent(f"""
        [defaults]
        session_prefix = "o-"
        log_dir = "run"
        backend = "demo"

        [[agent]]
        name = "builder"
        kind = "loop"

        [loop]
        kickoff = "kickoff.md"
        repo = "{repos.work}"
        phases = [{{ id = "p1", plan = "plan.md", status = "status.md" }}]
        """))
    config = load_config(tmp_path / "agents.toml")
    observer = Observer(FakeRuntime(Clock()))
    state = WatchdogState()
    assert observer.observe_git(config, state) is not None  # creates the mirror, fetches once
    with counting() as spawned:
        view = observer.observe_git(config, state)
    assert view is not None and view.ok and view.head == git(repos.origin, "rev-parse", "main")
    assert "fetch" not in git_commands(spawned.argvs)
    pushed = repos.push("claim: T2")
    with counting() as spawned:
        view = observer.observe_git(config, state)
    assert view is not None and view.head == pushed
    assert "fetch" in git_commands(spawned.argvs)
