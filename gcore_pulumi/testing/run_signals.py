"""Ctrl-C, SIGTERM and SIGHUP during a run: work in flight always finishes.

The runner waits for each piece of work in the main thread, where Ctrl-C arrives
(:func:`wait_through_interrupts`), and treats SIGTERM and SIGHUP as a Ctrl-C
(:func:`termination_as_interrupt`), so that the run still destroys what it created.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final, TypeVar

__all__ = ["TERMINATION_SIGNALS", "termination_as_interrupt", "wait_through_interrupts"]

_T = TypeVar("_T")

TERMINATION_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def wait_through_interrupts(work: Callable[[], _T], on_interrupt: Callable[[int], None]) -> _T:
    """Run ``work`` in a thread and wait for it; each Ctrl-C meanwhile calls
    ``on_interrupt(count)`` and the wait goes on, so work in flight always finishes."""
    result: list[_T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    # Not Thread.join: a KeyboardInterrupt inside join() can leave a running thread
    # marked as stopped (CPython's bpo-45274 handling), and the wait would end early.
    threading.Thread(target=target, name="runner-step", daemon=True).start()
    count = 0
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            count += 1
            on_interrupt(count)
    if failure:
        raise failure[0]
    return result[0]


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP act as a Ctrl-C meanwhile (main thread only): the run then still
    destroys what it created and stops its provider process, which has a session of its own
    and so would outlive this one."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, interrupt) for signum in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
