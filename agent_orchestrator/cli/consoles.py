"""The CLI's two rich consoles (`out` on stdout, `err` on stderr) and its closed-pipe handling,
without typer (cli/entry.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from rich.console import Console

# Piped or redirected, rich would lay tables out for 80 columns (or an inherited COLUMNS) and
# cut or wrap their cells; a reader (grep, a file, another tool) wants every column of a row on
# its line. A stream that is not a terminal gets this width; a terminal keeps its own.
PIPE_WIDTH = 4096


def _width(stream: object) -> int | None:
    isatty = getattr(stream, "isatty", None)
    try:
        terminal = bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        terminal = False
    return None if terminal else PIPE_WIDTH


out = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


def run_quietly_on_closed_pipe(entry: Callable[[], object]) -> None:
    """Run a console entry point; end quietly when the reader of stdout goes away.

    `agents logs X | head -1` closes the pipe while we still write: like a Unix tool we stop,
    without a traceback and without Python's "Exception ignored ... BrokenPipeError" at exit
    (stdout is pointed at /dev/null so the final flush has somewhere to go). Exit status 141
    (128 + SIGPIPE), what a shell reports for a tool killed by SIGPIPE.
    """
    try:
        entry()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
