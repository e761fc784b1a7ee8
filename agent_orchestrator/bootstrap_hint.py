"""What the checkout launchers (`agents.py`, `agent-log.py`) say when run by a Python that lacks the
project's dependencies — one line instead of a `ModuleNotFoundError` traceback. Standard library
only: it runs exactly when the dependencies are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path


def missing_dependency(exc: ModuleNotFoundError, prog: str, root: Path) -> str:
    """The line for `prog` run from the checkout at `root` when importing raised `exc`.

    >>> missing_dependency(ModuleNotFoundError("No module named 'typer'", name="typer"), "agents", Path("/co"))[:58]
    "agents: the Python package 'typer' is missing for this Pyt"
    """
    if exc.name == "tomllib":
        return f"{prog}: needs Python 3.11 or newer (this is {sys.version.split()[0]} at {sys.executable})"
    venv = root / ".venv" / "bin"
    then = f"then run {venv / prog}" if prog == "agents" else f"then run {venv / 'python'} {root / (prog + '.py')}"
    return (f"{prog}: the Python package {exc.name!r} is missing for this Python ({sys.executable}): "
            f"set up the checkout once with {root / 'scripts' / 'bootstrap.sh'} (it creates {root / '.venv'}), {then}")
