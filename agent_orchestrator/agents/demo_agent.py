"""The `demo` backend: a dependency-free stand-in for an agent CLI.

It prints its kickoff (the last argument, like `claude "<prompt>"`), shows a `demo> ` prompt,
echoes every submitted message as `echo: <text>` and stays up, so up/status/send/logs/down can be
tried on a machine with no agent CLI. It turns on bracketed paste like the real CLIs do, so one
pasted multi-line message followed by one submit key arrives as one message.
"""

from __future__ import annotations

import argparse
import sys

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


def _quiet_control_echo() -> None:
    # Cooked mode echoes ESC as "^[", which would litter the screen with "^[[200~".
    try:
        import termios

        attrs = termios.tcgetattr(sys.stdin.fileno())
        attrs[3] &= ~termios.ECHOCTL
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, attrs)
    except (ImportError, OSError, ValueError, AttributeError):
        pass


def read_message(readline=sys.stdin.readline) -> str | None:
    """One submitted message: a line, or every line of a bracketed paste up to the submit.

    Returns None at end of input.
    """
    line = readline()
    if not line:
        return None
    parts = [line]
    if PASTE_START in line:
        while PASTE_END not in parts[-1]:
            more = readline()
            if not more:
                break
            parts.append(more)
    text = "".join(parts).replace(PASTE_START, "").replace(PASTE_END, "")
    return text.rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    """Run the demo agent until end of input."""
    parser = argparse.ArgumentParser(prog="demo-agent", description=__doc__)
    parser.add_argument("--model", default="demo-1")
    parser.add_argument("kickoff", nargs="*")
    args = parser.parse_args(argv)
    interactive = sys.stdin.isatty()
    if interactive:
        _quiet_control_echo()
        sys.stdout.write("\x1b[?2004h")  # ask the terminal for bracketed paste
    print(f"demo agent ({args.model}) ready")
    if args.kickoff:
        print("kickoff: " + " ".join(args.kickoff).replace("\n", "\nkickoff: "))
    while True:
        sys.stdout.write("demo> ")
        sys.stdout.flush()
        message = read_message()
        if message is None:
            print()
            return 0
        if message.strip():
            for line in message.splitlines() or [""]:
                print(f"echo: {line}")


if __name__ == "__main__":
    sys.exit(main())
