"""The issue-run state machine, pure: from what a tick saw of one run to what to do with it.

`decide(RunView) -> Verdict` picks one of:

- **wait** — nothing to do yet; an unknown agent status always waits (never act on a guess);
- **fix-forward** — CI red on a commit and the agent idle: send it a corrective prompt naming the
  commit, at most `fix_budget` per run and once per red commit;
- **escalate-before-push** — stalled or errored with nothing pushed;
- **freeze-and-escalate** — CI still red and the budget spent (or the agent errored, or a prompt
  brought no new push within the window);
- **close-success** — pushed and green.

Also here: the watcher's vocabulary (contexts and choices), reading a CI command's verdict
(`ci_verdict`), filling `{commit}` / `{issue}` / `{reason}` slots of an argv (`fill`) and the
fix-forward prompt (`fix_prompt`). Acting on a verdict is `watcher.py`; the runs file `store.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent_orchestrator.watchers.decisions import Vocabulary, duration

WAIT, FIX_FORWARD, ESCALATE, FREEZE, CLOSE = "wait", "fix-forward", "escalate-before-push", "freeze-and-escalate", "close-success"
IN_FLIGHT, CI_RED, STUCK_UNPUSHED, RED_UNFIXABLE, PUSHED_GREEN = (
    "run-in-flight", "run-ci-red", "run-stuck-unpushed", "run-red-unfixable", "run-pushed-green")
VOCABULARY = Vocabulary((IN_FLIGHT, CI_RED, STUCK_UNPUSHED, RED_UNFIXABLE, PUSHED_GREEN), (WAIT, FIX_FORWARD, ESCALATE, FREEZE, CLOSE))
AGENT_STATUSES = ("working", "idle", "error", "unknown")
CI_VERDICTS = ("green", "red", "pending")


@dataclass(frozen=True)
class RunView:
    """One run as assembled this tick. `status` is one of `AGENT_STATUSES`; `commit` the pushed
    commit (None: nothing pushed); `ci` the verdict for `commit` (one of `CI_VERDICTS`; None:
    unknown); `fixes`: fix-forward prompts sent in this run, `budget` how many it may send;
    `prompted`: a fix-forward already named `commit`; `stalled`: no progress for the window;
    `elapsed`: seconds since the run started."""

    status: str
    commit: str | None = None
    ci: str | None = None
    fixes: int = 0
    budget: int = 2
    prompted: bool = False
    stalled: bool = False
    elapsed: float = 0.0


@dataclass(frozen=True)
class Verdict:
    """What to do with a run: `choice` in `context` (both from `VOCABULARY`), and why (`reason`, one line)."""

    choice: str
    context: str
    reason: str


def decide(v: RunView) -> Verdict:
    """The run's next step (pure; see the module docstring for the rules)."""
    if v.status not in ("working", "idle", "error"):
        return Verdict(WAIT, IN_FLIGHT, "the agent's status is unknown: wait, never act on a guess")
    if v.commit is None:
        if v.status == "error":
            return Verdict(ESCALATE, STUCK_UNPUSHED, "the agent errored with nothing pushed")
        if v.status == "idle" and v.stalled:
            return Verdict(ESCALATE, STUCK_UNPUSHED, f"the agent stalled with nothing pushed after {duration(v.elapsed)}")
        return Verdict(WAIT, IN_FLIGHT, f"nothing pushed yet; the agent is {v.status}")
    short = v.commit[:8]
    if v.ci == "green":
        return Verdict(CLOSE, PUSHED_GREEN, f"{short} is pushed and CI is green")
    if v.ci != "red":
        return Verdict(WAIT, IN_FLIGHT, f"{short} is pushed; CI is {v.ci or 'unknown'}")
    if v.status == "error":
        return Verdict(FREEZE, RED_UNFIXABLE, f"CI is red on {short} and the agent errored")
    if v.prompted:
        if v.status == "idle" and v.stalled:
            return Verdict(FREEZE, RED_UNFIXABLE, f"the fix-forward prompt for {short} brought no new push within the window")
        return Verdict(WAIT, IN_FLIGHT, f"fix-forward sent for {short}; waiting for a new push")
    if v.fixes >= v.budget:
        return Verdict(FREEZE, RED_UNFIXABLE, f"CI is still red on {short} and the fix-forward budget ({v.budget}) is spent")
    if v.status == "working":
        return Verdict(WAIT, IN_FLIGHT, f"CI is red on {short}; the agent is still working")
    return Verdict(FIX_FORWARD, CI_RED, f"CI is red on {short}: fix-forward {v.fixes + 1} of {v.budget}")


def ci_verdict(stdout: str) -> str | None:
    """green / red / pending from the first word of the last non-empty line (any case), else None.

    >>> ci_verdict("building...\\nRED: 2 failed\\n"), ci_verdict("ok")
    ('red', None)
    """
    lines = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
    if not lines:
        return None
    word = lines[-1].split()[0].strip(".:;,!").lower()
    return word if word in CI_VERDICTS else None


_SLOTS = re.compile(r"\{(commit|issue|reason)\}")


def fill(argv: list[str], **slots: str) -> list[str]:
    """`argv` with `{commit}` `{issue}` `{reason}` filled in one pass (values are never re-read);
    a slot not given, and any other braces, stay as they are."""
    return [_SLOTS.sub(lambda m: slots.get(m.group(1), m.group(0)), part) for part in argv]


def fix_prompt(issue: str, commit: str, ci_line: str, attempt: int, budget: int) -> str:
    """The corrective prompt of fix-forward `attempt` of `budget` for the red `commit` (`ci_line`:
    the CI command's last line, may be empty)."""
    detail = f" ({ci_line})" if ci_line else ""
    return (f"CI is red on commit {commit[:12]}{detail}. Fix forward: find the failure, fix it, commit and push a new "
            f"commit — do not revert or force-push. (issue {issue}, fix-forward {attempt} of {budget})")
