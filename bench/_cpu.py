"""CPU accounting for the benchmarks: a process tree's CPU seconds, read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


def db_backends(postmaster: int, database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` (the server is shared with test runs)."""
    pids = []
    for p in tree(postmaster)[1:]:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").split()
        except OSError:
            continue
        if len(title) >= 3 and title[0] == b"postgres:" and title[2] == database.encode():
            pids.append(p)
    return pids


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of a process and its descendants (children that already exited are not
    counted, which is fine for long-lived servers). For the PostgreSQL postmaster: only the
    backends of the development database."""
    if not pid:
        return 0.0
    total = 0
    pids = db_backends(pid, "frontdesk") if pid == postmaster_pid() else tree(pid)
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / CLK_TCK


def loop_thread_seconds(pid: int | None) -> float:
    """CPU of the main threads of a process tree: in the uvicorn workers, the event loop (the
    rest of ``cpu_seconds`` is their other threads: the database work handed to the executor)."""
    if not pid:
        return 0.0
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/task/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / CLK_TCK


def postmaster_pid() -> int | None:
    try:
        return int((ROOT / ".data" / "pg" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_by_name(name: str) -> int | None:
    """The first process whose command name is ``name`` (e.g. "redis-server"), if any."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        return int(entry)
            except OSError:
                continue
    return None
