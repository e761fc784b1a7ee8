"""`[[host]]` blocks and `host = "<name>"` on agents and services: loading and every refusal."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import ConfigError, load_config
from agent_orchestrator.config.environment import check_environment
from agent_orchestrator.watchdog.driver import identity_changes
from agent_orchestrator.watchdog.state import WatchdogState

BASE = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"

[[host]]
name = "b"
ssh = "me@gpu-box"
ssh_options = ["-p", "2222"]
log_dir = "/srv/agents/run"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(BASE) + textwrap.dedent(body), encoding="utf-8")
    return path


def errors(tmp_path: Path, body: str) -> list[str]:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [line.removeprefix(f"{path}: ") for line in info.value.lines]


def test_hosts_load_with_defaults_and_units_pick_theirs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [[agent]]
        name = "here"

        [[agent]]
        name = "there"
        host = "b"
        dir = "/srv/work"

        [[agent]]
        name = "said-local"
        host = "local"

        [[service]]
        name = "svc"
        cmd = ["{python}", "-m", "http.server"]
        host = "b"
    """))
    (host,) = config.hosts
    assert (host.name, host.ssh, host.ssh_options, host.log_dir) == ("b", "me@gpu-box", ["-p", "2222"], "/srv/agents/run")
    assert (host.tmux_socket, host.python, host.timeout) == (None, "python3", 10.0)
    here, there, said_local = config.agents
    assert config.host_of(here) is None and config.host_of(said_local) is None
    assert config.host_of(there) is host and config.host_of(config.services[0]) is host
    assert there.dir == Path("/srv/work")


@pytest.mark.parametrize(("body", "expected"), [
    ('[[agent]]\nname = "a"\nhost = "bb"\n',
     ['agent[0].host: "bb" names no [[host]] (hosts: b; "local" is this machine); did you mean "b"?']),
    ('[[service]]\nname = "s"\ncmd = ["x"]\nhost = "gpu"\n',
     ['service[0].host: "gpu" names no [[host]] (hosts: b; "local" is this machine)']),
    ('[[agent]]\nname = "a"\nhost = "b"\ndir = "review"\n',
     ['agent[0].dir: "review" is relative; on host b give an absolute path']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "claims"\nhost = "b"\n',
     ["agent[0].host: a watcher agent runs on this machine, next to the watchdog whose log_dir it reads"]),
    ('[[host]]\nname = "b"\nssh = "other"\nlog_dir = "/x"\n',
     ['host[1].name: "b" is already used by host[0]']),
    ('[[host]]\nname = "local"\nssh = "x"\nlog_dir = "/x"\n',
     ['host[1].name: "local" means this machine; give the host another name']),
    ('[[host]]\nname = "c d"\nssh = "x"\nlog_dir = "/x"\n',
     ["host[1].name: \"c d\" may only hold letters, digits, '-' and '_'"]),
    ('[[host]]\nname = "c"\nssh = "-oProxyCommand=touch /tmp/pwned"\nlog_dir = "/x"\n',
     ['host[1].ssh: "-oProxyCommand=touch /tmp/pwned" is not an ssh destination such as "me@gpu-box" (options go in ssh_options)']),
    ('[[host]]\nname = "c"\nssh = "x"\nlog_dir = "~/run"\n',
     ['host[1].log_dir: "~/run" is not an absolute path on that host (nothing expands ~ or relative paths there)']),
    ('[[host]]\nname = "c"\nssh = "x"\n',
     ["host[1].log_dir: required key is missing (a string)"]),
    ('[[host]]\nname = "c"\nssh = "x"\nlog_dir = "/x"\ntimeout = 0\n',
     ["host[1].timeout: expected a value > 0, got 0"]),
    ('[[host]]\nname = "c"\nssh = "x"\nlog_dir = "/x"\nshh_options = []\n',
     ['host[1].shh_options: unknown key; did you mean "ssh_options"?']),
])
def test_bad_hosts_are_one_line_each(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert errors(tmp_path, body) == expected


def test_the_environment_check_leaves_remote_units_to_their_host(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """
        [backend.tool]
        bin = "no-such-cli-here"

        [[agent]]
        name = "there"
        host = "b"
        backend = "tool"
        dir = "/no/such/folder/here"

        [[agent]]
        name = "here"
        dir = "/no/such/folder/either"
    """))
    lines = check_environment(config)
    assert any("agent[1].dir" in line for line in lines)
    assert not any("agent[0]" in line or "no-such-cli-here" in line for line in lines)


def test_moving_a_unit_to_another_machine_waits_for_down_and_up(tmp_path: Path) -> None:
    running = load_config(write(tmp_path, '[[agent]]\nname = "a"\n\n[[agent]]\nname = "c"\nhost = "b"\n'))
    moved = load_config(write(tmp_path, '[[agent]]\nname = "a"\nhost = "b"\n\n[[agent]]\nname = "c"\nhost = "b"\n'))
    assert identity_changes(running, moved, WatchdogState()) == "[host] of a changed"
    same = load_config(write(tmp_path, '[[agent]]\nname = "a"\n\n[[agent]]\nname = "c"\nhost = "b"\nmodel = "m"\n'))
    assert identity_changes(running, same, WatchdogState()) == ""
