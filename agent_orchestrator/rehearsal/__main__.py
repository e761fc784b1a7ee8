"""``python -m agent_orchestrator.rehearsal serve --playbook FILE --port N [--journal FILE]``.

Prints ``listening on http://127.0.0.1:PORT`` (flushed) once ready — with ``--port 0`` that is
how a caller learns the port — then serves until SIGINT/SIGTERM. Exit status 2 for a bad
playbook or a port in use.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .playbook import PlaybookError
from .server import start_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_orchestrator.rehearsal")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a playbook to agent CLIs")
    serve.add_argument("--playbook", type=Path, required=True, help="playbook TOML file")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free)")
    serve.add_argument("--journal", type=Path, help="append one JSON line per request here")
    args = parser.parse_args(argv)

    try:
        server = start_server(args.playbook, port=args.port, journal=args.journal)
    except (PlaybookError, OSError) as exc:
        print(f"rehearsal: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    print(f"listening on {server.url}", flush=True)
    try:
        done.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
