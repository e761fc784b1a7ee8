#!/usr/bin/env python3
"""A scriptable fake agent CLI for the watchdog's real-tmux tests (stdlib only).

Run: python3 tests/support/fake_agent_cli.py [--control FILE] [--name N] [--ignore-submit] [--] [kickoff...]
(--control defaults to $FAKE_AGENT_CONTROL, --name to $FAKE_AGENT_NAME.) Screen: a banner,
`kickoff: <text>` rows, then the input line `fake> ` at the bottom (input_re `^fake>\\s?(.*)$`,
ready_re `^fake>`). Bracketed paste is on and the tty non-canonical with our own echo (ECHOCTL
off): one pasted multi-line message + one Enter = one message. Pending input is drawn like Claude
Code's box: a line as typed (wrapped rows indented), a multi-line/long paste as `fake> [Pasted
text #1 +N lines]`. A submitted message leaves `fake> <first line>` and `got: <first line>` on
screen and is appended to `<control>.inbox.jsonl` as {"ts": epoch, "text": ...}.

Commands: a message `/fake <mode> [key=value ...]` (or `/fake {json}`), or the control file (JSON
`{"mode": ..., ...}`, polled every 0.2 s, applied whenever it changes). Every start and mode change
is appended to `<control>.log` ({"ts", "pid", "mode", "source", "params"}). Modes:

  idle        nothing more; the screen stays still (the default).
  busy        a row `✶ Faking… (3s · esc to interrupt)` above the input line, redrawn every 0.5 s
              (active_re `esc to interrupt`); with `seconds`, then `✻ Worked for Ns` and idle.
  busy_quiet  `* Thinking… (esc to interrupt)` drawn once and never redrawn (optional `seconds`).
  waiting     a reply ending in `WAITING-UNTIL: <iso>` (`until`, or now + `in_seconds`, default
              60), then idle.
  limit       `You've hit your session limit · resets <resets>` (default "in 2m"; limit_re
              `You've hit your .*limit`); repeated for every later message until the mode changes.
  fatal       `API Error: Invalid API key` (fatal_re); repeated for every later message.
  exit/crash  exit with `code` (default 0) / 1. `crash_on_start: true`: every start exits 1.
  shell       exec `bash --norc --noprofile` (pane_current_command bash: "exited to a shell").
  garble      random junk rows every 0.1 s for `seconds` (default 2), then idle.
  echo_busy   each message is a turn: busy for `seconds` (default 2), then `done: <first line>`
              and `✻ Worked for Ns`; messages sent meanwhile queue.

`ignore_submit: true` (or --ignore-submit) keeps pasted text in the input line and ignores Enter.
At start only a state mode (busy, busy_quiet, limit, fatal, echo_busy) is re-applied: a restarted
agent comes back limited or busy but does not repeat a one-shot exit, shell, garble or waiting.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import random
import re
import select
import shlex
import shutil
import sys
import termios
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
GLYPHS = "·✢*✶✻✽"
FATAL = "API Error: Invalid API key"
STATE_MODES = {"idle", "busy", "busy_quiet", "limit", "fatal", "echo_busy"}
MODES = STATE_MODES | {"waiting", "exit", "crash", "shell", "garble"}
ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|O.|.)?", re.DOTALL)  # CSI, SS3 or ESC + one key
JUNK = "abcdefghijklmnopqrstuvwxyz0123456789#%&()[]{}<>=+-_|~^!?.,:;█▓▒░"


class FakeAgent:
    """The screen, input line and mode machine of one fake agent."""

    def __init__(self, control: Path | None, name: str, ignore_submit: bool) -> None:
        self.control, self.name, self.ignore_flag, self.ignore_submit = control, name, ignore_submit, ignore_submit
        self.mode, self.params = "idle", {}
        self.status: str | None = None  # the row drawn just above the input line
        self.rows_drawn = 0  # height of the bottom region (status + input rows) now on screen
        self.buffer, self.in_paste, self.carry, self.pastes = "", False, "", 0
        self.busy_since, self.busy_until, self.next_tick = 0.0, None, 0.0
        self.turn, self.queue = None, []  # first line of the running echo_busy turn; those waiting
        self.control_key: tuple[int, int, int] | None = None

    def draw(self, *lines: str) -> None:
        """Erase the bottom region (status + input rows), print `lines` above it, redraw it."""
        cols = max(shutil.get_terminal_size().columns - 1, 20)  # re-read: the pane may have been resized
        up = f"\x1b[{self.rows_drawn - 1}A" if self.rows_drawn > 1 else ""
        text, wrap = self.buffer, cols - 6
        if "\n" in text or len(text) > 3 * wrap:
            # Collapsed like Claude Code 2.1.x, so screen.is_pending still sees it as pending.
            rows = [f"fake> [Pasted text #{max(self.pastes, 1)} +{text.count(chr(10))} lines]"]
        else:  # wrapped rows are indented: screen.py reads them as the input block's continuation
            rows = ["fake> " + text[:wrap]] + ["      " + text[i:i + wrap] for i in range(wrap, len(text), wrap)]
        rows = ([self.status[:cols]] if self.status else []) + rows
        print("\r" + up + "\x1b[J" + "".join(line + "\r\n" for line in lines) + "\r\n".join(rows), end="", flush=True)
        self.rows_drawn = len(rows)

    def _append(self, suffix: str, record: dict) -> None:
        if self.control is not None:
            with open(str(self.control) + suffix, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")

    def log(self, mode: str, source: str, params: dict) -> None:
        """Append a mode change to `<control>.log` (the pid tells restarts apart)."""
        self._append(".log", {"ts": time.time(), "pid": os.getpid(), "mode": mode, "source": source, "params": params})

    def read_control(self) -> dict | None:
        """The control file's JSON when it changed since the last read, else None."""
        try:
            st = self.control.stat()  # type: ignore[union-attr]
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
            if key == self.control_key:
                return None
            cfg = json.loads(self.control.read_text(encoding="utf-8"))  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            return None  # no control file, absent or half-written: look again at the next poll
        self.control_key = key
        return cfg if isinstance(cfg, dict) else None

    def poll_control(self) -> None:
        """Apply the control file if it changed."""
        if (cfg := self.read_control()) is not None:
            self.apply(cfg, "control")

    def apply(self, cfg: dict, source: str) -> None:
        """Switch to `cfg["mode"]` with its parameters; `source` goes to the mode log."""
        mode, now, seconds = str(cfg.get("mode", "idle")), time.monotonic(), float(cfg.get("seconds") or 0)
        self.ignore_submit = bool(cfg.get("ignore_submit", self.ignore_flag))
        self.log(mode, source, cfg)
        self.mode, self.params, self.status, self.busy_until, self.turn, self.queue = mode, cfg, None, None, None, []
        if mode in ("busy", "busy_quiet", "garble"):
            self.busy_since, self.next_tick = now, now
            self.busy_until = now + (seconds or 2) if mode == "garble" else (now + seconds if seconds else None)
            self.status = "* Thinking… (esc to interrupt)" if mode == "busy_quiet" else None
        elif mode == "waiting":
            until = cfg.get("until") or (datetime.now(UTC) + timedelta(seconds=float(cfg.get("in_seconds", 60))))
            until = until if isinstance(until, str) else until.strftime("%Y-%m-%dT%H:%M:%SZ")
            return self.draw("Nothing to do until then; waiting.", f"WAITING-UNTIL: {until}")
        elif mode in ("limit", "fatal"):
            return self.draw(self.banner())
        elif mode in ("exit", "crash"):
            code = int(cfg.get("code", 0)) if mode == "exit" else 1
            self.draw(f"fake: exiting with status {code}")
            raise SystemExit(code)
        elif mode == "shell":
            self.draw("fake: leaving to a shell")
            restore_terminal()
            os.execvp("bash", ["bash", "--norc", "--noprofile"])
        elif mode not in MODES:
            return self.draw(f"fake: unknown mode {mode!r}")
        self.draw()

    def banner(self) -> str:
        """The limit or fatal line of the current mode."""
        return FATAL if self.mode == "fatal" else f"You've hit your session limit · resets {self.params.get('resets', 'in 2m')}"

    def _start_turn(self, now: float) -> None:
        if self.turn is None and self.queue:
            self.turn, self.busy_since, self.next_tick = self.queue.pop(0), now, now
            self.busy_until = now + float(self.params.get("seconds") or 2)

    def tick(self, now: float) -> None:
        """Advance timers: spinner frames, junk rows, the end of a busy spell or turn."""
        if self.busy_until is not None and now >= self.busy_until:
            self.busy_until, self.status, lines = None, None, [f"✻ Worked for {round(now - self.busy_since)}s"]
            if self.mode == "echo_busy":
                lines.insert(0, f"done: {self.turn}")
                self.turn = None
            else:
                lines = [] if self.mode == "garble" else lines
                self.log("idle", "timer", {})
                self.mode, self.params = "idle", {}
            self.draw(*lines)
            self._start_turn(now)
        spinning = self.mode == "busy" or (self.mode == "echo_busy" and self.turn is not None)
        if now >= self.next_tick and (spinning or (self.mode == "garble" and self.busy_until)):
            self.next_tick = now + (0.1 if self.mode == "garble" else 0.5)
            if self.mode == "garble":
                return self.draw("".join(random.choice(JUNK) for _ in range(random.randint(5, 70))))
            elapsed = now - self.busy_since
            self.status = f"{GLYPHS[int(elapsed * 2) % len(GLYPHS)]} Faking… ({int(elapsed)}s · esc to interrupt)"
            self.draw()

    def feed(self, data: str) -> None:
        """Edit the input line with raw tty input; Enter outside a paste submits it."""
        text, self.carry, i = self.carry + data, "", 0
        while i < len(text):
            if text.startswith((PASTE_START, PASTE_END), i):
                self.in_paste = text.startswith(PASTE_START, i)
                self.pastes, i = self.pastes + self.in_paste, i + len(PASTE_START)
                continue
            ch = text[i]
            if ch == "\x1b":
                if PASTE_START.startswith(text[i:]) or PASTE_END.startswith(text[i:]):
                    self.carry = text[i:]  # a paste marker split across two reads
                    break
                i = ESCAPE.match(text, i).end()  # arrow keys, focus events: not text
                continue
            i += 1
            if ch in "\r\n" and self.in_paste:
                self.buffer += "\n"
            elif ch in "\r\n" and not self.ignore_submit and self.buffer.strip():
                message, self.buffer, self.pastes = self.buffer, "", 0
                self.received(message)
            elif ch in "\x7f\x08":
                self.buffer = self.buffer[:-1]
            elif ch >= " " or ch == "\t":
                self.buffer += ch
        self.draw()

    def received(self, message: str) -> None:
        """Record a submitted message and react to it as the current mode does."""
        self.poll_control()  # a switch written just before the message wins over the old mode
        self._append(".inbox.jsonl", {"ts": time.time(), "text": message})
        first = next((line for line in message.splitlines() if line.strip()), "")
        self.draw(f"fake> {first}", f"got: {first}")
        if message.strip().startswith("/fake "):
            self.command(message.strip()[len("/fake "):])
        elif self.mode in ("limit", "fatal"):
            self.draw(self.banner())  # what a real CLI answers a probe while limited
        elif self.mode == "echo_busy":
            self.queue.append(first)
            self._start_turn(time.monotonic())

    def command(self, rest: str) -> None:
        """`/fake {json}` or `/fake <mode> key=value ...` (values parsed as JSON when they can be)."""
        try:
            if rest.lstrip().startswith("{"):
                cfg = json.loads(rest)
            else:
                words = shlex.split(rest)
                cfg = {"mode": words[0], **{k: json_or_str(v) for k, _, v in (w.partition("=") for w in words[1:])}}
        except (ValueError, IndexError) as exc:
            return self.draw(f"fake: bad command: {exc}")
        self.apply(cfg, "message")


def json_or_str(raw: str) -> object:
    """`3` → 3, `true` → True, `in 2m` → "in 2m"."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


_SAVED_TTY: list | None = None  # the tty modes found at start


def restore_terminal() -> None:
    """Bracketed paste off and the tty modes we found, before exit or exec."""
    print("\r\n\x1b[?2004l", end="", flush=True)
    if _SAVED_TTY is not None:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, _SAVED_TTY)


def main(argv: list[str] | None = None) -> int:
    """Run the fake agent until it is told to exit (or its input ends)."""
    global _SAVED_TTY
    parser = argparse.ArgumentParser(prog="fake-agent", description="scriptable fake agent CLI")
    parser.add_argument("--control", default=os.environ.get("FAKE_AGENT_CONTROL") or None)
    parser.add_argument("--name", default=os.environ.get("FAKE_AGENT_NAME", "fake"))
    parser.add_argument("--ignore-submit", action="store_true")
    parser.add_argument("kickoff", nargs="*")
    args = parser.parse_args(argv)
    agent = FakeAgent(Path(args.control) if args.control else None, args.name, args.ignore_submit)
    startup = agent.read_control() or {}
    if startup.get("crash_on_start"):
        agent.log("crash", "startup", startup)
        print("fake: crash on start", file=sys.stderr, flush=True)
        return 1
    fd = sys.stdin.fileno()
    if os.isatty(fd):
        _SAVED_TTY = termios.tcgetattr(fd)
        attrs = termios.tcgetattr(fd)
        # We echo and edit ourselves (like a real TUI): pasted newlines must not submit.
        attrs[3] &= ~(termios.ICANON | termios.ECHO | termios.ECHOCTL)
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        sys.stdout.write("\x1b[?2004h")  # ask the terminal for bracketed paste
    decoder, next_poll = codecs.getincrementaldecoder("utf-8")("replace"), 0.0
    try:
        kickoff = ["kickoff: " + line for line in " ".join(args.kickoff).splitlines()]
        agent.draw(f"fake agent {args.name} ready (pid {os.getpid()})", *kickoff)
        # Every start is logged (so a test can count restarts); one-shot modes are not redone.
        agent.apply({**startup, "mode": startup.get("mode") if startup.get("mode") in STATE_MODES else "idle"}, "startup")
        while True:
            if select.select([fd], [], [], 0.05)[0]:
                data = os.read(fd, 65536)
                if not data:
                    return 0
                agent.feed(decoder.decode(data))
            else:  # 50 ms without more input: a held-back ESC was the Escape key, not a paste marker
                agent.carry = ""
            now = time.monotonic()
            if now >= next_poll:
                agent.poll_control()
                next_poll = now + 0.2
            agent.tick(now)
    except KeyboardInterrupt:
        return 130
    finally:
        restore_terminal()


if __name__ == "__main__":
    sys.exit(main())
