"""Python child processes (multiprocessing) that never import the caller's main module.

multiprocessing's spawn and fork-server children import the parent's ``__main__``
file again (as ``__mp_main__``) before they run anything: a script without an
``if __name__ == "__main__":`` guard would run again in every child, and a main read
from stdin cannot be imported at all. The engine's children need nothing from the
caller's main module, so :func:`main_hidden` starts them while ``__main__`` is a blank
module. This module only starts processes: it must not decide what they run.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()


@contextmanager
def main_hidden() -> Iterator[None]:
    """While inside (one thread at a time), ``sys.modules["__main__"]`` is a blank module.

    Wrap only the call that starts the child (``Process.start``, the first
    ``ProcessPoolExecutor.submit``): multiprocessing reads the main module's file there.
    """
    with _lock:
        real = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if real is not None:
                sys.modules["__main__"] = real
