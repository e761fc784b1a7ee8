"""Counting the processes this Python process spawns (tmux clients, git), for tests and benches.

`SpawnCounter` wraps `subprocess.Popen` while installed (libtmux and our git plumbing both go
through it), so a count is of real processes started, not of calls to our own wrappers.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SpawnCounter:
    """Every `subprocess.Popen` while installed: tmux ones by subcommand, git ones, and others."""

    def __init__(self) -> None:
        self.tmux = 0
        self.git = 0
        self.other = 0
        self.subcommands: Counter[str] = Counter()
        self.argvs: list[list[str]] = []
        self._original: Any = None

    def record(self, args: Any) -> None:
        argv = [os.fsdecode(args)] if isinstance(args, (str, bytes, os.PathLike)) else [os.fsdecode(a) for a in args]
        self.argvs.append(argv)
        first = os.path.basename(argv[0].split()[0]) if argv else ""
        if first == "tmux":
            self.tmux += 1
            self.subcommands[next((a for a in argv[1:] if not a.startswith("-")), "?")] += 1
        elif first == "git":
            self.git += 1
        else:
            self.other += 1

    def install(self) -> SpawnCounter:
        original = self._original = subprocess.Popen
        counter = self

        class CountingPopen(original):  # type: ignore[misc, valid-type]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                counter.record(args)
                super().__init__(args, *rest, **kwargs)

        subprocess.Popen = CountingPopen  # type: ignore[misc]
        return self

    def uninstall(self) -> None:
        if self._original is not None:
            subprocess.Popen = self._original  # type: ignore[misc]
            self._original = None

    def snapshot(self) -> tuple[int, int, Counter[str]]:
        """(tmux processes, other processes, tmux subcommands) so far."""
        return self.tmux, self.git + self.other, Counter(self.subcommands)


@contextmanager
def counting() -> Iterator[SpawnCounter]:
    """A `SpawnCounter` installed for the `with` block."""
    counter = SpawnCounter().install()
    try:
        yield counter
    finally:
        counter.uninstall()
