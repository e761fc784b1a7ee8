"""GitRepo against real git: a bare origin, a builder and an adversary clone, and the watchdog's own clone."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_orchestrator.handoff import gitrepo
from agent_orchestrator.handoff.gitrepo import Commit, GitError, GitRepo

T0 = 1_700_000_000


def git(cwd: Path, *args: str, ts: int | None = None) -> str:
    env = dict(os.environ)
    if ts is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = f"@{ts} +0000"
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Identity and default branch in the test's own HOME; the machine's system config is ignored."""
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@dataclass
class Team:
    origin: Path
    builder: Path
    adversary: Path
    watcher: Path

    def commit(self, clone: Path, subject: str, files: dict[str, str] | None = None, *, ts: int = T0, push: bool = True) -> str:
        """Write `files`, commit everything with `subject` at committer time `ts`, push; return the sha."""
        for rel, text in (files or {}).items():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            (clone / rel).write_text(text)
        git(clone, "add", "-A")
        git(clone, "commit", "--allow-empty", "-q", "-m", subject, ts=ts)
        if push:
            git(clone, "push", "-q", "origin", "HEAD:main")
        return git(clone, "rev-parse", "HEAD")

    def sync(self, clone: Path) -> None:
        git(clone, "pull", "-q", "--rebase", "origin", "main")


@pytest.fixture
def team(tmp_path: Path) -> Team:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    t = Team(origin, tmp_path / "builder", tmp_path / "adversary", tmp_path / "watcher")
    git(tmp_path, "clone", "-q", str(origin), str(t.builder))
    t.commit(t.builder, "init", {"STATUS.md": "# Status\n", "inbox/builder.md": "", "inbox/adversary.md": ""}, ts=T0)
    for clone in (t.adversary, t.watcher):
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    return t


@contextlib.contextmanager
def spawned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Record the git command lines GitRepo starts inside the block."""
    calls: list[list[str]] = []
    real = subprocess.Popen

    def counting(cmd: list[str], *args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        calls.append(list(cmd))
        return real(cmd, *args, **kwargs)  # type: ignore[call-overload]

    with monkeypatch.context() as m:
        m.setattr(gitrepo.subprocess, "Popen", counting)
        yield calls


# -- fetch and head ----------------------------------------------------------------------------


def test_fetch_sees_pushed_commits(team: Team) -> None:
    repo = GitRepo(team.watcher)
    first = repo.fetch()
    assert first.ok and first.error == ""
    assert first.head == git(team.builder, "rev-parse", "HEAD")

    pushed = team.commit(team.builder, "claim(G1): parser", ts=T0 + 10)
    assert repo.head() == first.head  # nothing is seen until fetched
    after = repo.fetch()
    assert after == gitrepo.FetchResult(ok=True, head=pushed)
    assert repo.head() == pushed


def test_unpushed_commits_are_not_the_head(team: Team) -> None:
    repo = GitRepo(team.builder)
    pushed = repo.fetch().head
    team.commit(team.builder, "claim(G1): local only", push=False)
    assert repo.fetch().head == pushed


def test_empty_origin_has_no_head(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "clone")
    repo = GitRepo(tmp_path / "clone")
    assert repo.fetch() == gitrepo.FetchResult(ok=True, head=None)
    assert repo.head() is None
    assert repo.log() == []
    assert repo.last_commit_ts() is None
    assert repo.show("STATUS.md") is None
    assert repo.blob_ids(["inbox/builder.md"]) == {"inbox/builder.md": None}


@pytest.mark.parametrize("breakage", ["remote removed", "remote path missing", "plain directory", "missing directory", "directory inside a repo"])
def test_fetch_failure_is_reported_not_raised(team: Team, tmp_path: Path, breakage: str) -> None:
    path = team.watcher
    if breakage == "remote removed":
        git(team.watcher, "remote", "remove", "origin")
    elif breakage == "remote path missing":
        git(team.watcher, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    elif breakage == "plain directory":
        path = tmp_path / "plain"
        path.mkdir()
    elif breakage == "missing directory":
        path = tmp_path / "nowhere"
    else:
        # Without a ceiling git would walk up and fetch into the enclosing watcher clone.
        path = team.watcher / "inbox"
    result = GitRepo(path).fetch()
    assert not result.ok
    assert result.head is None
    assert result.error.startswith("git fetch --quiet")
    assert "\n" not in result.error
    assert "exit 128" in result.error


def test_fetch_timeout_is_reported(team: Team) -> None:
    result = GitRepo(team.watcher, timeout=0.001).fetch()
    assert not result.ok
    assert "timed out" in result.error
    # The killed fetch left no lock behind: a normal fetch still works.
    assert GitRepo(team.watcher).fetch().ok


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_fetch_timeout_kills_a_hung_transport(team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transport helper inherits git's stderr; killing only git would leave us waiting on the pipe."""
    pidfile = tmp_path / "ssh.pid"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    monkeypatch.setenv("GIT_SSH_VARIANT", "simple")
    git(team.watcher, "remote", "set-url", "origin", "ssh://git.invalid/work.git")

    started = time.monotonic()
    result = GitRepo(team.watcher, timeout=1.0).fetch()
    elapsed = time.monotonic() - started

    assert not result.ok and "timed out after 1s" in result.error
    assert elapsed < 8, elapsed
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_head_in_a_non_repo_raises_one_line_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError) as info:
        GitRepo(tmp_path).head()
    message = str(info.value)
    assert message.startswith("git rev-parse")
    assert "not a git repository" in message
    assert "\n" not in message


def test_inherited_git_dir_does_not_redirect(team: Team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pushed = git(team.builder, "rev-parse", "HEAD")
    git(tmp_path, "init", "-q", "elsewhere")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere" / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path / "elsewhere"))
    assert GitRepo(team.watcher).head() == pushed


# -- commits_between ---------------------------------------------------------------------------


def test_commits_between_lists_new_subjects_oldest_first(team: Team) -> None:
    repo = GitRepo(team.watcher)
    base = repo.fetch().head
    c1 = team.commit(team.builder, "claim(G1): parser", {"src.py": "1"}, ts=T0 + 60)
    team.sync(team.adversary)
    c2 = team.commit(team.adversary, "review(G1): FAIL — flaky", {"reviews/G1.md": "flaky"}, ts=T0 + 120)
    team.sync(team.builder)
    c3 = team.commit(team.builder, "claim(G1): fix flake", {"src.py": "2"}, ts=T0 + 180)
    head = repo.fetch().head
    assert head == c3

    commits, rewritten = repo.commits_between(base, head)
    assert not rewritten
    assert commits == [
        Commit(c1, "claim(G1): parser", float(T0 + 60)),
        Commit(c2, "review(G1): FAIL — flaky", float(T0 + 120)),
        Commit(c3, "claim(G1): fix flake", float(T0 + 180)),
    ]
    assert repo.commits_between(head, head) == ([], False)


def test_commits_between_includes_both_sides_of_a_merge(team: Team) -> None:
    repo = GitRepo(team.watcher)
    base = repo.fetch().head
    team.commit(team.builder, "claim(G2): lexer", {"lexer.py": "x"}, ts=T0 + 10, push=False)
    team.commit(team.adversary, "review(G1): PASS", {"reviews/G1.md": "ok"}, ts=T0 + 20)
    git(team.builder, "pull", "-q", "--no-rebase", "origin", "main", ts=T0 + 30)
    git(team.builder, "push", "-q", "origin", "HEAD:main")
    commits, rewritten = repo.commits_between(base, repo.fetch().head)
    assert not rewritten
    subjects = [c.subject for c in commits]
    assert sorted(subjects[:2]) == ["claim(G2): lexer", "review(G1): PASS"]
    assert subjects[2].startswith("Merge branch")


def test_first_sight_is_a_baseline(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(team.watcher)
    head = repo.fetch().head
    assert head is not None
    with spawned(monkeypatch) as calls:
        assert repo.commits_between(None, head) == ([], False)
    assert calls == []


def test_force_push_is_a_rewrite_not_a_replay(team: Team) -> None:
    repo = GitRepo(team.watcher)
    team.commit(team.builder, "claim(G1): parser", ts=T0 + 10)
    base = repo.fetch().head
    git(team.builder, "reset", "-q", "--hard", "HEAD~1")
    team.commit(team.builder, "claim(G1): parser", {"src.py": "v2"}, ts=T0 + 20, push=False)  # rewritten, same subject
    git(team.builder, "push", "-q", "--force", "origin", "HEAD:main")
    new = repo.fetch().head
    assert new != base
    assert repo.commits_between(base, new) == ([], True)  # the old claim is not replayed
    team.commit(team.builder, "claim(G2): lexer", ts=T0 + 30, push=False)
    git(team.builder, "push", "-q", "--force", "origin", "HEAD:main")
    fresh, rewritten = repo.commits_between(base, repo.fetch().head)
    assert rewritten and [c.subject for c in fresh] == ["claim(G2): lexer"]  # pushed with the rewrite: new


def test_vanished_old_head_is_a_rewrite_but_unknown_new_is_an_error(team: Team) -> None:
    repo = GitRepo(team.watcher)
    head = repo.fetch().head
    assert head is not None
    assert repo.commits_between("1" * 40, head) == ([], True)
    with pytest.raises(GitError, match="merge-base"):
        repo.commits_between(head, "2" * 40)


def test_subjects_keep_odd_characters(team: Team) -> None:
    message = team.builder / "msg"
    message.write_bytes("claim(G1): café ✓ \x1f sep\tx  -- \"q\"\n\nbody line\n".encode())
    git(team.builder, "commit", "-q", "--allow-empty", "-F", str(message))
    git(team.builder, "push", "-q", "origin", "HEAD:main")
    repo = GitRepo(team.watcher)
    base = repo.head()
    head = repo.fetch().head
    assert head is not None
    [commit] = repo.log(limit=1)
    assert commit.sha == head
    assert commit.subject == "claim(G1): café ✓ \x1f sep\tx  -- \"q\""
    assert repo.commits_between(base, head) == ([commit], False)


# -- show and blob_ids -------------------------------------------------------------------------


def test_show_reads_only_pushed_content(team: Team) -> None:
    repo = GitRepo(team.builder)
    first = team.commit(team.builder, "status: working", {"STATUS.md": "# Status\nworking\n"}, ts=T0 + 10)
    (team.builder / "STATUS.md").write_text("# Status\n## DONE\n")  # uncommitted
    assert repo.show("STATUS.md") == "# Status\nworking\n"
    team.commit(team.builder, "status: done", push=False)  # committed, not pushed
    assert repo.show("STATUS.md") == "# Status\nworking\n"
    git(team.builder, "push", "-q", "origin", "HEAD:main")
    assert repo.show("STATUS.md") == "# Status\n## DONE\n"
    assert repo.show("./STATUS.md") == "# Status\n## DONE\n"
    assert repo.show("STATUS.md", rev=first) == "# Status\nworking\n"


def test_show_absent_paths(team: Team) -> None:
    repo = GitRepo(team.watcher)
    repo.fetch()
    assert repo.show("nope.md") is None
    assert repo.show("inbox") is None  # a directory
    assert repo.show("") is None
    assert repo.show("STATUS.md", rev="refs/heads/no-such-branch") is None
    assert repo.show("STATUS.md") == "# Status\n"


def test_blob_ids_change_only_when_an_inbox_changes(team: Team) -> None:
    repo = GitRepo(team.watcher)
    paths = ["inbox/builder.md", "inbox/adversary.md", "inbox/missing.md"]
    repo.fetch()
    before = repo.blob_ids(paths)
    assert before["inbox/builder.md"] is not None and before["inbox/missing.md"] is None

    team.commit(team.builder, "claim(G1): parser", {"src.py": "x"}, ts=T0 + 10)
    repo.fetch()
    assert repo.blob_ids(paths) == before

    team.sync(team.adversary)
    team.commit(team.adversary, "note to builder", {"inbox/builder.md": "G1 fails on empty input\n"}, ts=T0 + 20)
    (team.watcher / "inbox" / "adversary.md").write_text("local edit, never pushed\n")
    repo.fetch()
    after = repo.blob_ids(paths)
    assert after["inbox/builder.md"] != before["inbox/builder.md"]
    assert after["inbox/adversary.md"] == before["inbox/adversary.md"]
    assert after["inbox/missing.md"] is None
    assert repo.show("inbox/builder.md") == "G1 fails on empty input\n"


def test_blob_ids_before_anything_is_fetched_and_for_odd_paths(team: Team, tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "fresh")
    assert GitRepo(tmp_path / "fresh").blob_ids(["a.md"]) == {"a.md": None}
    assert GitRepo(team.builder).blob_ids(["inbox", "with\nnewline", "/abs"]) == dict.fromkeys(["inbox", "with\nnewline", "/abs"])
    assert GitRepo(team.builder).blob_ids([]) == {}


# -- log and last_commit_ts --------------------------------------------------------------------


def test_log_is_newest_first_and_limited(team: Team) -> None:
    for i in range(1, 4):
        team.commit(team.builder, f"claim(G{i})", ts=T0 + i * 100)
    repo = GitRepo(team.watcher)
    repo.fetch()
    assert [c.subject for c in repo.log()] == ["claim(G3)", "claim(G2)", "claim(G1)", "init"]
    assert [c.subject for c in repo.log(limit=2)] == ["claim(G3)", "claim(G2)"]
    assert repo.last_commit_ts() == float(T0 + 300)
    older = repo.log()[2].sha
    assert repo.last_commit_ts(older) == float(T0 + 100)
    assert repo.log("refs/heads/no-such-branch") == []
    assert repo.last_commit_ts("refs/heads/no-such-branch") is None


# -- the process budget the docstrings promise -------------------------------------------------


def test_git_process_budget(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = GitRepo(team.watcher)
    base = repo.fetch().head
    team.commit(team.builder, "claim(G1)", ts=T0 + 10)
    budget = {
        "fetch": (repo.fetch, 2),
        "head": (repo.head, 1),
        "commits_between": (lambda: repo.commits_between(base, repo_head), 2),
        "show": (lambda: repo.show("STATUS.md"), 1),
        "blob_ids": (lambda: repo.blob_ids(["inbox/builder.md", "inbox/adversary.md", "x"]), 1),
        "log": (repo.log, 1),
        "last_commit_ts": (repo.last_commit_ts, 1),
    }
    repo_head = git(team.builder, "rev-parse", "HEAD")
    for name, (call, expected) in budget.items():
        with spawned(monkeypatch) as calls:
            call()
        assert len(calls) == expected, (name, calls)
        assert all(c[:3] == ["git", "-C", str(team.watcher)] for c in calls)
    with spawned(monkeypatch) as calls:
        GitRepo(team.watcher / "inbox").fetch()
    assert len(calls) == 1
