"""Progress of long work: a bar on an interactive terminal, periodic log lines otherwise.

The one way library code reports how far a long computation is (texture over many VOIs, parametric
maps, bootstrap resamples, a large synthetic cohort). It writes to standard error only, never to an
output file, and never prints otherwise::

    with progress("texture", total=len(vois), unit="VOIs") as bar:
        for voi in vois:
            ...
            bar.advance()

    for idx in track(resamples, "bootstrap", total=n_boot, unit="resamples"):
        ...

How it is shown:

* ``bar`` - standard error is a terminal: a :mod:`rich` progress bar (imported only then);
* ``log`` - otherwise (a Snakemake log file, a SLURM job): INFO lines on the ``pipeline.progress`` logger
  at every 10 % of the work and at least every 30 s, then one line when it is done;
* ``off`` - the ``pipeline`` logger does not show INFO (``petvoi -q``), or another progress is already
  running (an inner loop is part of the outer one's work).

Nothing is shown for work that ends within ``delay_s`` (2 s), so a loop called many times (the
bootstrap of every simulated trial) stays silent. ``PETVOI_PROGRESS=bar|log|off`` in the environment
overrides the choice.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO, TypeVar

__all__ = ["Progress", "progress", "track", "choose_mode", "MODES"]

log = logging.getLogger("pipeline.progress")

#: How progress is shown (``auto`` chooses between the others).
MODES = ("auto", "bar", "log", "off")
ENV = "PETVOI_PROGRESS"

T = TypeVar("T")

_active_lock = threading.Lock()
_active = 0  # progress objects running (an inner one is silent)


def choose_mode(mode: str = "auto", stream: TextIO | None = None) -> str:
    """``bar``, ``log`` or ``off`` for ``mode`` (``auto``: the environment, then whether ``stream`` is a terminal).

    Parameters
    ----------
    mode : {"auto", "bar", "log", "off"}
        Requested mode.
    stream : file, optional
        Where a bar would be drawn (default: ``sys.stderr`` at the time of the call).
    """
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
        if mode not in MODES:
            mode = "auto"
    if mode == "off" or not log.isEnabledFor(logging.INFO):
        return "off"
    if mode != "auto":
        return mode
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced stream
        tty = False
    return "bar" if tty and os.environ.get("TERM", "") != "dumb" else "log"


class Progress:
    """Progress of ``total`` units of work (a context manager); see the module docstring.

    Parameters
    ----------
    label : str
        What is running (``texture``), first word of every line.
    total : int, optional
        Units of work (None: unknown; lines then every ``interval_s``).
    unit : str
        Plural noun of a unit (``VOIs``, ``blocks``, ``resamples``).
    mode : {"auto", "bar", "log", "off"}
        See :func:`choose_mode`.
    delay_s : float
        Nothing is shown before this much time has passed (s).
    interval_s : float
        In ``log`` mode, a line at least this often (s) while the work runs.
    step : float
        In ``log`` mode, a line each time this fraction of the work more is done (0.1: every 10 %).
    stream : file, optional
        Terminal of the bar (default ``sys.stderr``).
    clock : callable
        Seconds (monotonic); tests pass their own.
    """

    def __init__(self, label: str, total: int | None = None, *, unit: str = "tasks", mode: str = "auto",
                 delay_s: float = 2.0, interval_s: float = 30.0, step: float = 0.1, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.unit = label, unit
        self.total = None if total is None else max(0, int(total))
        self.done = 0
        self._requested = mode
        self._stream = stream
        self.mode = "off"
        self.delay_s, self.interval_s, self.step = float(delay_s), float(interval_s), float(step)
        self._clock = clock
        self._lock = threading.RLock()
        self._start = 0.0
        self._last_line = 0.0
        self._last_step = 0
        self._lines = 0
        self._bar: Any = None
        self._task: Any = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._counted = False

    # -- context
    def __enter__(self) -> Progress:
        global _active
        with _active_lock:
            nested = _active > 0
            _active += 1
            self._counted = True
        self.mode = "off" if nested else choose_mode(self._requested, self._stream)
        self._start = self._last_line = self._clock()
        if self.mode != "off" and (self.mode == "bar" or self.interval_s > 0):
            self._ticker = threading.Thread(target=self._tick, name=f"progress-{self.label}", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(failed=exc_type is not None)

    def close(self, *, failed: bool = False) -> None:
        """Stop showing progress; in ``log`` mode a last line when any was written (or the work was long)."""
        global _active
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=5)
        with self._lock:
            if self.mode == "bar" and self._bar is not None:
                self._bar.update(self._task, completed=self.done)
                self._bar.stop()
                self._bar = None
            elif self.mode == "log" and (self._lines or self._elapsed() >= self.delay_s):
                what = "stopped" if failed else "done"
                log.info("%s: %s, %s in %s", self.label, what, self._count(), _duration(self._elapsed()))
            self.mode = "off"
        if self._counted:
            with _active_lock:
                _active -= 1
            self._counted = False

    # -- updates
    def advance(self, n: int = 1) -> None:
        """Record ``n`` more units done (thread-safe)."""
        with self._lock:
            self.done += int(n)
            if self.mode == "bar":
                if self._bar is None and self._elapsed() >= self.delay_s:
                    self._start_bar()
                if self._bar is not None:
                    self._bar.update(self._task, completed=self.done)
            elif self.mode == "log" and self.total:
                reached = math.floor(self.done / self.total / self.step + 1e-9) if self.step > 0 else 0
                if reached > self._last_step and self.done < self.total and self._elapsed() >= self.delay_s:
                    self._line()
                self._last_step = max(self._last_step, reached)

    def set_total(self, total: int | None) -> None:
        """Change the number of units (e.g. once it is known)."""
        with self._lock:
            self.total = None if total is None else max(0, int(total))
            if self._bar is not None:
                self._bar.update(self._task, total=self.total)

    # -- internals
    def _elapsed(self) -> float:
        return self._clock() - self._start

    def _count(self) -> str:
        return f"{self.done}/{self.total} {self.unit}" if self.total is not None else f"{self.done} {self.unit}"

    def _line(self) -> None:
        elapsed = self._elapsed()
        text = f"{self.label}: {self._count()}"
        if self.total:
            text += f" ({100.0 * self.done / self.total:.0f} %)"
        text += f" after {_duration(elapsed)}"
        if self.total and 0 < self.done < self.total:
            text += f", about {_duration(elapsed * (self.total - self.done) / self.done)} left"
        log.info("%s", text)
        self._lines += 1
        self._last_line = self._clock()

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        console = Console(file=self._stream if self._stream is not None else sys.stderr)
        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn(self.unit), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, transient=False)
        self._task = self._bar.add_task(self.label, total=self.total, completed=self.done)
        self._bar.start()

    def _tick(self) -> None:
        """Background: start a delayed bar, or write a line when none was written for ``interval_s``."""
        period = min(x for x in (self.delay_s, self.interval_s, 1.0) if x > 0) if self.mode == "log" else 0.2
        while not self._stop.wait(max(period, 0.05)):
            with self._lock:
                if self.mode == "bar" and self._bar is None and self._elapsed() >= self.delay_s:
                    self._start_bar()
                elif (self.mode == "log" and self.interval_s > 0 and self._elapsed() >= self.delay_s
                      and self._clock() - self._last_line >= self.interval_s
                      and (self._lines or self._elapsed() >= self.interval_s)):
                    self._line()
                if self.mode == "bar" and self._bar is not None:
                    return  # rich refreshes the bar itself


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress(label: str, total: int | None = None, *, unit: str = "tasks", **kwargs: Any) -> Progress:
    """A :class:`Progress` (use it in a ``with`` block and call ``advance()`` per unit done)."""
    return Progress(label, total, unit=unit, **kwargs)


def track(iterable: Iterable[T], label: str, *, total: int | None = None, unit: str = "tasks",
          **kwargs: Any) -> Iterator[T]:
    """Yield the items of ``iterable``, advancing a :class:`Progress` after each one.

    ``total`` defaults to ``len(iterable)`` when it has one. The progress ends with the iteration (or
    when the generator is closed).
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    with Progress(label, total, unit=unit, **kwargs) as bar:
        for item in iterable:
            yield item
            bar.advance()
