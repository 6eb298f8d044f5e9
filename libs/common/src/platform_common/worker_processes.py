"""Helpers for the process pools that run CPU-bound work off a service's event loop."""

from __future__ import annotations

import os
import threading
import time

PARENT_CHECK_S = 0.5


def exit_with_parent(parent_pid: int) -> None:
    """Call in a pool worker's initializer: the worker leaves when the service process is gone.

    A service killed with SIGKILL (or by the kernel for memory) cannot shut its pool down, and a spawned worker
    holds both ends of its task queue, so without this it would wait for work for ever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
