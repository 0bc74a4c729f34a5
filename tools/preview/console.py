"""The preview's console: colour and a live progress line on a terminal, plain lines elsewhere.

``rich`` decides what the output is: a terminal gets colour (unless ``NO_COLOR``
is set) and, while a stack's program runs, a transient line with a spinner and
the resources registered so far against the baseline's count. A pipe or a CI log
gets plain lines, no escape codes and no progress redraws, ``COLUMNS`` wide (120
when unset, so logs do not wrap at 80).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

LOG_WIDTH = 120
"""Width of non-terminal output when ``COLUMNS`` does not say."""


def make_console(file: IO[str] | None = None) -> Console:
    console = Console(file=file or sys.stdout, highlight=False, markup=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = LOG_WIDTH
    return console


class _Running:
    """What the progress line shows, read afresh at each refresh (rich's own thread).

    The program body builds its resources first; the SDK sends the registrations
    when the body returns, so the count of registered resources moves only at the
    end. The line says which phase runs rather than showing a bar that sits at zero.
    """

    def __init__(self, stack: str, total: int | None, count: Callable[[], int]) -> None:
        self.stack = stack
        self.total = total
        self.count = count
        self.phase: str | None = None
        self.started = time.perf_counter()
        self.spinner = Spinner("dots", style="cyan")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        n = self.count()
        row = Table.grid(padding=(0, 1))
        cells: list[RenderableType] = [self.spinner]
        if self.phase is not None:
            cells.append(Text(f"{self.stack}: {self.phase}", style="bold"))
        elif n == 0:
            cells.append(Text(f"{self.stack}: running the program", style="bold"))
            if self.total:
                cells.append(Text(f"({self.total} resources in the baseline)", style="dim"))
        else:
            cells.append(Text(f"{self.stack}: registering resources", style="bold"))
            cells.append(
                ProgressBar(
                    total=float(self.total or n), completed=min(n, self.total or n), width=30
                )
            )
            cells.append(Text(f"{n}/{self.total}" if self.total else str(n), style="cyan"))
        cells.append(Text(f"{time.perf_counter() - self.started:4.1f} s", style="dim"))
        row.add_row(*cells)
        yield row


class Progress:
    """One transient progress line per running stack, on a terminal only."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled and console.is_terminal and not console.is_dumb_terminal
        self._live: Live | None = None
        self._running: _Running | None = None

    def start(self, stack: str, total: int | None, count: Callable[[], int]) -> None:
        self.stop()
        if not self.enabled:
            return
        self._running = _Running(stack, total, count)
        self._live = Live(self._running, console=self.console, transient=True, refresh_per_second=8)
        self._live.start()

    def phase(self, text: str) -> None:
        if self._running is not None:
            self._running.phase = text

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
        self._live = None
        self._running = None


_MAIN_STARTED = time.perf_counter()


def seconds_since_start() -> float:
    """Seconds since this process started, Python's start-up and imports included (from
    ``/proc`` on Linux; elsewhere, since this module was imported)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        # Field 22, start time in clock ticks since boot; the command name (field 2)
        # may hold spaces, so count from its closing parenthesis.
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _MAIN_STARTED
