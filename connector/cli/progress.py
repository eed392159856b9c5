r"""Progress bars for long CLI runs: one bar per step, with log lines printed above it.

A bar is redrawn in place with ``\r``; a log record written meanwhile to the same terminal
would be glued to the bar's line, and a later step reporting its own counts would overwrite
the first one's bar. So each step gets its own bar (the previous one is finished on its own
line), and while a bar is shown the log handlers' writes first erase it, then redraw it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

#: What each pipeline step counts, as the bar's label.
LABELS = {"sync": "deals", "lifecycle": "contacts"}
ERASE_LINE = "\r\x1b[2K"

Progress = Callable[[str, int, "int | None"], None]


class _LogsAboveBar:
    """A log handler's stream while a bar is on screen: erase the bar, write, redraw it."""

    def __init__(self, stream: IO[str], bars: StepBars) -> None:
        self.stream = stream
        self.bars = bars

    def write(self, text: str) -> int:
        bar = self.bars.bar
        if bar is None:
            return self.stream.write(text)
        self.stream.write(ERASE_LINE + text)
        if text.endswith("\n"):
            self.stream.write(bar.format_progress_line())
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class StepBars:
    """Draws ``progress(step, done, total)`` reports as one click progress bar per step."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self.bar: Any = None
        self.step: str | None = None

    def __call__(self, step: str, done: int, total: int | None) -> None:
        """Report ``done`` of ``total`` (None: unknown yet) for ``step``."""
        if step != self.step:
            self.finish()
            self.step = step
            self.bar = click.progressbar(
                length=max(total or done, 1),
                label=LABELS.get(step, step),
                file=self.file,
                show_pos=True,
            )
            self.bar.__enter__()
        self.bar.length = max(total or done, 1)
        self.bar.update(done - self.bar.pos)

    def finish(self) -> None:
        """End the current bar on its own line."""
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.__exit__(None, None, None)


@contextmanager
def step_progress(file: IO[str]) -> Iterator[StepBars]:
    """A progress callback drawing on ``file``; logs to the same terminal go above the bar."""
    bars = StepBars(file)
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    if file.isatty():
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and _same_file(handler.stream, file):
                swapped.append((handler, handler.setStream(_LogsAboveBar(handler.stream, bars))))
    try:
        yield bars
    finally:
        bars.finish()
        for handler, stream in swapped:
            handler.setStream(stream)


def _same_file(a: Any, b: Any) -> bool:
    try:
        return a is b or a.fileno() == b.fileno()
    except (AttributeError, OSError, ValueError):
        return False
