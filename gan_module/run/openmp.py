"""How OpenMP threads wait between parallel regions, chosen before torch loads (libgomp reads it once, at load).

Light on purpose: no torch behind this module, since importing torch fixes the policy.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping
from dataclasses import dataclass

#: the variables by which a user chooses the policy; when either is set, it is theirs
POLICY_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
#: other processes using at least this many cores' worth of CPU when a run starts make its threads sleep
BUSY_CORES = 0.5
#: what :func:`choose_wait_policy` said for this process (main.py), for the start-up line; None: not chosen here
chosen: str | None = None
#: cores' worth of CPU other processes used when main.py started (:func:`busy_cores`); None: not measured
busy_at_start: float | None = None


@dataclass(frozen=True)
class CpuCounters:
    """The kernel's CPU counters (ticks outside idle, all ticks) and this process's own CPU seconds, at one time."""

    busy: int
    total: int
    own: float
    at: float


def cpu_counters(stat: str = "/proc/stat") -> CpuCounters | None:
    """The counters now; None where the kernel does not give them (not Linux)."""
    try:
        with open(stat) as file:
            ticks = [int(x) for x in file.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    except (OSError, ValueError):
        return None
    if len(ticks) < 5:
        return None
    own = os.times()
    return CpuCounters(sum(ticks) - ticks[3] - ticks[4], sum(ticks), own.user + own.system, time.monotonic())


def busy_cores(seconds: float = 0.1, stat: str = "/proc/stat", since: CpuCounters | None = None) -> float | None:
    """Cores' worth of CPU time other processes used since ``since`` (main.py's first line; now when None), over at
    least ``seconds``: the machine's time outside idle less this process's own, so the work main.py does meanwhile
    (checking the config files) is not counted as load and shortens the wait. None where the kernel does not say."""
    first = since or cpu_counters(stat)
    if first is None:
        return None
    time.sleep(max(0.0, seconds - (time.monotonic() - first.at)))
    last = cpu_counters(stat)
    if last is None or last.total <= first.total:
        return None
    own_ticks = (last.own - first.own) * os.sysconf("SC_CLK_TCK")
    others = max(0.0, last.busy - first.busy - own_ticks)
    return others / (last.total - first.total) * (os.cpu_count() or 1)


def choose_wait_policy(environ: MutableMapping[str, str], busy: float | None) -> str:
    """Set ``OMP_WAIT_POLICY`` for this run unless the user chose one; returns what the start-up line says.

    Idle cores: libgomp's default (threads spin a while before sleeping), which is what makes two threads pay on
    small and mid-size networks (the quickstart 50 it/s spinning against 33 sleeping, docs/scaling.md). Beside
    other busy processes (``busy`` cores' worth of CPU, :func:`busy_cores`): ``PASSIVE``, threads sleep at once
    instead of spinning on a core another process needs. Load that arrives or leaves later is followed by
    callbacks.ThreadTuner, which switches between one thread and N.
    """
    given = _users_choice(environ)
    if given:
        return f"{given} (yours)"
    if busy is not None and busy >= BUSY_CORES:
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return f"PASSIVE (other processes used {busy:.1f} cores at start)"
    shown = "" if busy is None else f"{busy:.1f} cores busy at start"
    return f"spinning, libgomp's default ({shown or 'the load is unknown here'})"


def describe(environ: MutableMapping[str, str]) -> str:
    """The policy this process runs under, for the start-up line."""
    if chosen is not None:
        return chosen
    return _users_choice(environ) or "spinning, libgomp's default"


def _users_choice(environ: MutableMapping[str, str]) -> str:
    """The policy variables the user set, as ``NAME=value`` (empty: none)."""
    return ", ".join(f"{v}={environ[v]}" for v in POLICY_VARIABLES if environ.get(v))


def idle_at_start() -> bool:
    """main.py measured the machine before torch loaded, and other processes used less than :data:`BUSY_CORES`."""
    return busy_at_start is not None and busy_at_start < BUSY_CORES
