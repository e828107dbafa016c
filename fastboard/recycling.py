"""When a Gunicorn worker retires (requests served, memory, age), and whose turn it is.

Workers of one master retire one at a time: the next may start only once a worker forked
after the last one to retire is serving, so there is never more than one not accepting.
"""

from __future__ import annotations

import fcntl
import os
import random
import resource
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

MIB = 1024 * 1024
# Each worker's age limit is stretched by up to this fraction, so workers started together
# (at boot, after a HUP) do not all reach it together.
AGE_JITTER = 0.1


@dataclass(frozen=True)
class RecyclePolicy:
    """A worker's limits, jitter applied; ``None``: no such limit."""

    max_requests: int | None = None
    max_rss_bytes: int | None = None
    max_age_seconds: float | None = None

    @classmethod
    def build(
        cls,
        *,
        max_requests: int | None,
        max_memory_mb: int,
        max_age_seconds: int,
        rng: random.Random | None = None,
    ) -> RecyclePolicy:
        """``max_requests`` already jittered (Gunicorn does it); 0 turns a limit off."""
        stretch = 1 + (rng or random.Random()).uniform(0, AGE_JITTER)  # noqa: S311 - spread, not secrecy
        return cls(
            max_requests=max_requests or None,
            max_rss_bytes=max_memory_mb * MIB if max_memory_mb > 0 else None,
            max_age_seconds=max_age_seconds * stretch if max_age_seconds > 0 else None,
        )

    def reason(self, *, requests: int, rss_bytes: int | None, age_seconds: float) -> str | None:
        """Why a worker with these figures should retire now, or ``None``."""
        if self.max_requests is not None and requests >= self.max_requests:
            return f"Maximum request limit of {self.max_requests} reached"
        limit = self.max_rss_bytes
        if limit is not None and rss_bytes is not None and rss_bytes >= limit:
            return f"Memory limit of {limit // MIB} MiB reached (resident: {rss_bytes // MIB} MiB)"
        if self.max_age_seconds is not None and age_seconds >= self.max_age_seconds:
            return f"Maximum age of {self.max_age_seconds:.0f} s reached"
        return None


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux), else its peak, else ``None``."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Kibibytes on Linux and the BSDs, bytes on macOS.
    return peak if sys.platform == "darwin" else peak * 1024 if peak else None


class RecycleTurns:
    """The right to retire, shared by the workers of one master (created in the master,
    inherited across the fork).

    A record in an unlinked file holds the pid of the worker that retired last and when
    it took its turn; POSIX record locks guard it, and the kernel drops a dead holder's
    lock. The turn passes on when a worker that started after the holder is serving and
    the holder is gone; or, should no replacement ever come (the master was told to run
    fewer workers), once ``stale_after`` seconds have passed since the holder took it.
    """

    _RECORD = struct.Struct("=qd")

    def __init__(self, file: IO[bytes], stale_after: float) -> None:
        self._file = file
        self._stale_after = stale_after

    @classmethod
    def create(cls, stale_after: float, directory: str | None = None) -> RecycleTurns:
        """In ``directory`` (Gunicorn's worker_tmp_dir), else the system's temporary one."""
        file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - open for the master's lifetime
        file.write(cls._RECORD.pack(0, 0.0))
        file.flush()
        return cls(file, stale_after)

    def take(self, pid: int) -> bool:
        """Claim the turn for ``pid``; False while another worker's retirement is under
        way (draining, or its replacement not yet serving)."""
        with self._locked():
            holder, since = self._read()
            if holder not in (0, pid) and time.monotonic() - since < self._stale_after:
                return False
            self._write(pid, time.monotonic())
            return True

    def serving(self, pid: int) -> None:
        """``pid`` has started serving: a retirement whose worker is gone is complete."""
        with self._locked():
            holder, _ = self._read()
            if holder not in (0, pid) and not _alive(holder):
                self._write(0, 0.0)

    def close(self) -> None:
        self._file.close()

    def holder(self) -> int:
        with self._locked():
            return self._read()[0]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = self._file.fileno()
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)

    def _read(self) -> tuple[int, float]:
        data = os.pread(self._file.fileno(), self._RECORD.size, 0)
        holder, since = self._RECORD.unpack(data)
        return int(holder), float(since)

    def _write(self, holder: int, since: float) -> None:
        os.pwrite(self._file.fileno(), self._RECORD.pack(holder, since), 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process by now: ours is gone
        return False
    return True
