"""Import a heavy library in the background while the sandbox starts.

GitPython and requests each cost tens of milliseconds to import; when the pipeline's
text shows it will need one, the import starts as soon as the sandbox is forked (never
before: forking while another thread imports can leave the child deadlocked).
"""

from __future__ import annotations

import importlib
import threading


def start(*modules: str) -> threading.Thread:
    """Import `modules` in a background thread; the import lock keeps it consistent.

    Not a daemon thread: the interpreter waits for it at exit, because a thread still
    importing while the interpreter shuts down can crash the process.
    """

    def load() -> None:
        for module in modules:
            importlib.import_module(module)

    thread = threading.Thread(target=load, name="preload", daemon=False)
    thread.start()
    return thread
