"""Task statuses, the allowed moves between them and the outcome rules, declared in one place.

``transitions.transition`` is the only writer of a task's status; everything it may do is
decided here, so one test can walk every (from, to) pair.
"""

from __future__ import annotations

from enum import IntEnum


class TaskStatus(IntEnum):
    """A task's ``status`` as ModelArts numbers it."""

    QUEUING = -1
    INITIALIZING = 0
    RUNNING = 1
    FAILED = 2
    SUCCEEDED = 3
    STOPPING = 4
    STOPPED = 5

    @property
    def label(self) -> str:
        """The lower-case name used for level-0 events, the CLI and the console."""
        return self.name.lower()


S = TaskStatus

ACTIVE: frozenset[TaskStatus] = frozenset({S.QUEUING, S.INITIALIZING, S.RUNNING, S.STOPPING})
TERMINAL: frozenset[TaskStatus] = frozenset({S.FAILED, S.SUCCEEDED, S.STOPPED})
# Active and not asked to stop (ListTasks' exist_running_deploy_task).
RUNNING_LIKE: frozenset[TaskStatus] = frozenset({S.QUEUING, S.INITIALIZING, S.RUNNING})
# Statuses in which a worker holds the task's lease.
LEASED: frozenset[TaskStatus] = frozenset({S.INITIALIZING, S.RUNNING, S.STOPPING})

# status -> statuses it may move to; None is a task not created yet. RUNNING/INITIALIZING ->
# QUEUING is the retry of a task whose worker was lost.
ALLOWED: dict[TaskStatus | None, frozenset[TaskStatus]] = {
    None: frozenset({S.QUEUING}),
    S.QUEUING: frozenset({S.INITIALIZING, S.STOPPING, S.FAILED}),
    S.INITIALIZING: frozenset({S.RUNNING, S.FAILED, S.STOPPING, S.QUEUING}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.STOPPING, S.QUEUING}),
    S.STOPPING: frozenset({S.STOPPED, S.FAILED}),
    S.FAILED: frozenset(),
    S.SUCCEEDED: frozenset(),
    S.STOPPED: frozenset(),
}

# Status of a level-0 event while its task is in a status; once the task leaves it, the event
# ends as ``closing_event_status`` says.
EVENT_STATUS: dict[TaskStatus, str] = {
    S.QUEUING: "waiting",
    S.INITIALIZING: "running",
    S.RUNNING: "running",
    S.STOPPING: "running",
    S.FAILED: "failed",
    S.SUCCEEDED: "success",
    S.STOPPED: "success",
}


# What the still-open events of an attempt end as: a lost attempt (its worker died, or gave it
# up after a transient database failure) ended neither well nor badly, it ended "lost".
EVENT_LOST = "lost"
EVENT_END_STATUSES: frozenset[str] = frozenset({"success", "failed", EVENT_LOST})


def closing_event_status(new: TaskStatus, *, lost: bool) -> str:
    """The status the open events get when their task moves to ``new``."""
    if lost:
        return EVENT_LOST
    return "failed" if new == S.FAILED else "success"


def active_sql(column: str = "status") -> str:
    """The active set as a SQL predicate (the partial unique index and list queries use it)."""
    return f"{column} IN ({', '.join(str(int(s)) for s in sorted(ACTIVE))})"


def allowed(old: TaskStatus | None, new: TaskStatus) -> bool:
    return new in ALLOWED.get(old, frozenset())


# --- outcome rules ----------------------------------------------------------------------------


def outcome_path(current: TaskStatus, outcome: TaskStatus) -> tuple[TaskStatus, ...]:
    """The moves that record a run's ``outcome`` (succeeded, failed or stopped) from ``current``.

    A run that succeeded after a stop was asked for ends stopped; a stop seen by the runner
    itself passes through ``stopping``; a run that ended before it was marked running passes
    through ``running``.
    """
    if outcome not in TERMINAL:
        raise ValueError(f"{outcome.label} is not an outcome")
    if outcome == S.SUCCEEDED and current == S.STOPPING:
        return (S.STOPPED,)
    if outcome == S.STOPPED and current in (S.INITIALIZING, S.RUNNING):
        return (S.STOPPING, S.STOPPED)
    if outcome == S.SUCCEEDED and current == S.INITIALIZING:
        return (S.RUNNING, S.SUCCEEDED)
    return (outcome,)


def lost_lease_outcome(current: TaskStatus, attempts: int, max_attempts: int) -> TaskStatus:
    """What the reaper makes of a task whose worker stopped renewing its lease."""
    if current == S.STOPPING:
        return S.STOPPED
    if attempts < max_attempts:
        return S.QUEUING
    return S.FAILED
