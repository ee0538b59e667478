"""The worker main process's dispatch thread: tops up the broker when this worker takes a
message, so the next job in fair order is waiting before a pool process asks for it.

Celery sends ``task_received`` in the main process when a message arrives; the thread
wakes on it (and at least every heartbeat interval) and runs the dispatch step off the
consumer's loop and off the rendering process, so neither waits on it.
"""

from __future__ import annotations

import logging
import threading

from render_core.dispatch import Dispatcher

log = logging.getLogger(__name__)


class DispatchThread(threading.Thread):
    def __init__(self, dispatcher: Dispatcher, interval_s: float) -> None:
        super().__init__(name="dispatch", daemon=True)
        self.dispatcher = dispatcher
        self.interval_s = interval_s
        self.wake = threading.Event()
        self.stopped = threading.Event()

    def poke(self) -> None:
        """A message was taken from the broker: there is room for the next one."""
        self.wake.set()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.wake.wait(self.interval_s)
            self.wake.clear()
            if self.stopped.is_set():
                return
            try:
                self.dispatcher.top_up()
            except Exception:  # the thread must outlive any one bad round
                log.exception("dispatch round failed")

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()
