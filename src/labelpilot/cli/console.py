"""How the CLI prints: its console, and the one table of task status names and colours.

The status table is the CLI's only copy of the task status codes (to be read from the task
status enum once there is one).
"""

from __future__ import annotations

from rich.console import Console

STATUS_TEXT = {
    -1: "queuing",
    0: "initializing",
    1: "running",
    2: "failed",
    3: "succeeded",
    4: "stopping",
    5: "stopped",
}
STATUS_STYLE = {2: "red", 3: "green", 4: "yellow", 5: "yellow", 1: "cyan", 0: "cyan"}
FINAL_STATUSES = frozenset({2, 3, 5})  # failed, succeeded, stopped: a followed task ended


def out() -> Console:
    """A console sized from the terminal (or ``COLUMNS``) at the time of the command."""
    return Console()
