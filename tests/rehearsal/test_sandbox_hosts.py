"""`sandbox_config` putting part of a rehearsal on another machine, and `rehearse run --host/--on`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app
from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import RehearsalError, sandbox_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "builder-adversary"


def copy(tmp_path: Path) -> Path:
    work = tmp_path / "builder-adversary"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("run", "origin.git", "work", "review", "report"))
    for folder in ("work", "review", "report"):
        (work / folder).mkdir()
    return work / "agents.toml"


def test_placed_units_go_to_their_host_with_an_absolute_dir(tmp_path: Path) -> None:
    path = copy(tmp_path)
    host = {"ssh": "me@b", "log_dir": "/srv/run", "tmux_socket": "s-b"}
    sandbox_config(path, socket_name="s", prefix="r-", port=4242, bins={}, hosts={"b": host}, placement={"adversary": "b"})
    config = load_config(path)
    assert [(h.name, h.ssh, h.log_dir, h.tmux_socket) for h in config.hosts] == [("b", "me@b", "/srv/run", "s-b")]
    adversary = config.agent("adversary")
    assert adversary is not None and adversary.host == "b" and adversary.dir == (path.parent / "review").resolve()
    assert all(a.host is None for a in config.agents if a.name != "adversary")


@pytest.mark.parametrize(("placement", "message"), [
    ({"nobody": "b"}, "placement nobody=b: no such agent or service"),
    ({"adversary": "c"}, "placement adversary=c: no such host"),
])
def test_a_placement_of_nothing_is_refused(tmp_path: Path, placement: dict[str, str], message: str) -> None:
    with pytest.raises(RehearsalError, match=message):
        sandbox_config(copy(tmp_path), socket_name="s", prefix="r-", port=1, bins={}, hosts={"b": {"ssh": "x", "log_dir": "/x"}},
                       placement=placement)


def test_the_cli_wants_name_equals_value(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rehearse", "run", str(EXAMPLE), "--host", "b"])
    assert result.exit_code == 2 and "--host 'b': expected NAME=VALUE" in result.output
