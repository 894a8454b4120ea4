"""Progress bars of every command: tqdm's on a terminal; in a log (stderr is a file or
a pipe) a plain line per minute and one at the end, since a bar redrawn with carriage
returns leaves thousands of fragments in a log. In the lowest layer, so that every
layer's bars (a run's, a router's fine-tuning) are the same."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_INTERVAL = 60.0  # seconds between a log's progress lines


class LogLines(tqdm):
    """A tqdm that prints its state as whole lines: at the start, at most every
    ``LOG_INTERVAL`` seconds, and when closed (leave or not); nothing is ever cleared."""

    def __init__(self, *args, **kwargs) -> None:
        self._printed_at = -float("inf")
        kwargs.update(ascii=True, leave=False)  # leave=False: close() prints via display(msg="") alone
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None) -> bool:
        if self.total == 0:  # nothing to do: no line at all (a resumed run's empty stages)
            return False
        self.fp.write(f"{self}\n")
        self.fp.flush()
        self._printed_at = time.monotonic()
        return False  # nothing on the line for close() to return over

    def refresh(self, nolock=False, lock_args=None) -> bool:
        # tqdm redraws after every update past its interval, every postfix and every
        # tqdm.write: a log gets a line per LOG_INTERVAL of them.
        if self.disable or time.monotonic() - self._printed_at < LOG_INTERVAL:
            return False
        return super().refresh(nolock, lock_args)

    def clear(self, nolock=False) -> None:
        pass


def progress(*args, file=None, **kwargs) -> tqdm:
    """``tqdm(*args, **kwargs)`` on stderr (or ``file``), as lines when it is no terminal."""
    file = file or sys.stderr
    isatty = getattr(file, "isatty", None)
    return (tqdm if isatty and isatty() else LogLines)(*args, file=file, **kwargs)
