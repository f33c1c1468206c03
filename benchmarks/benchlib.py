"""Shared helpers for the benchmarks: interleaved median timings, machine facts, tables.

A timing is the median over repeated samples, after warm-up calls (so one-off costs such
as Numba compilation are excluded). Two implementations of the same benchmark are sampled
alternately, so that a burst of background load hits both rather than one.

    >>> from benchlib import compare
    >>> nesy_s, torch_s = compare(lambda: sum(range(100)), lambda: sum(range(100)), repeat=3)
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

# --- timing ------------------------------------------------------------------------------


@dataclass
class Settings:
    """How hard to measure: samples per timing, warm-up calls, minimum time per sample."""

    repeat: int = 11
    warmup: int = 3
    min_sample_s: float = 0.02


SETTINGS = Settings()


def _sample(fn, number):
    """Seconds per call of ``fn`` over ``number`` back-to-back calls, garbage collector off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if enabled:
            gc.enable()


def _sample_with_setup(fn, setup):
    """Seconds of one ``fn(setup())`` call, the setup untimed (e.g. build a graph, then
    time only its backward pass)."""
    state = setup()
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn(state)
        return time.perf_counter() - t0
    finally:
        if enabled:
            gc.enable()


def _calibrate(fn, settings):
    """Calls per sample so that one sample lasts at least ``min_sample_s``."""
    for _ in range(settings.warmup):
        fn()
    once = max(_sample(fn, 1), 1e-7)
    number = max(1, math.ceil(settings.min_sample_s / once))
    if number > 1:  # a second estimate on a loop, less disturbed by the first call
        per_call = max(_sample(fn, min(number, 1000)), 1e-8)
        number = max(1, math.ceil(settings.min_sample_s / per_call))
    return number


def compare(*fns, setups=None, settings=None, repeat=None, settle_s=0.0):
    """Median seconds per call of each function in ``fns``, sampled alternately.

    Without ``setups`` each fn is called with no arguments, many times per sample. With
    ``setups`` (one per fn), each sample times a single ``fn(setup())``, and there are three
    times as many samples. ``settle_s``: a
    pause before each sample, so that thread pools left spinning by the previous sample
    (OpenBLAS busy-waits for up to ~0.1 s after a matmul) do not slow down the next one.
    """
    settings = settings or SETTINGS
    repeat = repeat or settings.repeat
    samples = [[] for _ in fns]
    if setups is None:
        numbers = [_calibrate(fn, settings) for fn in fns]
        for _ in range(repeat):
            for fn, number, out in zip(fns, numbers, samples):
                time.sleep(settle_s)
                out.append(_sample(fn, number))
    else:
        for fn, setup in zip(fns, setups):
            for _ in range(settings.warmup):
                fn(setup())
        for _ in range(3 * repeat):
            for fn, setup, out in zip(fns, setups, samples):
                time.sleep(settle_s)
                out.append(_sample_with_setup(fn, setup))
    return tuple(statistics.median(s) for s in samples)


# --- background load -----------------------------------------------------------------


def _busy_jiffies():
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


class LoadMeter:
    """CPU time spent by *other* processes while a block runs, in cores (0.0 = quiet).

    Timings on a 2-core machine are only meaningful when nothing else is running; the
    benchmark prints this next to its results so a disturbed run is recognisable.
    """

    def __init__(self):
        self.foreign_cores = float("nan")

    def __enter__(self):
        self._t0 = time.perf_counter()
        self._own0 = _own_cpu()
        self._busy0 = _busy_jiffies()
        return self

    def __exit__(self, *exc):
        busy1 = _busy_jiffies()
        if self._busy0 is None or busy1 is None:
            return False
        elapsed = time.perf_counter() - self._t0
        hz = os.sysconf("SC_CLK_TCK")
        total = (busy1 - self._busy0) / hz
        own = _own_cpu() - self._own0
        self.foreign_cores = max(0.0, total - own) / max(elapsed, 1e-9)
        return False


def wait_until_idle(limit_s, threshold=0.15, quiet_s=3.0):
    """Wait (up to ``limit_s``) until other processes use under ``threshold`` cores for
    ``quiet_s`` seconds in a row; return the seconds waited."""
    t0 = time.perf_counter()
    quiet_since = None
    while time.perf_counter() - t0 < limit_s:
        with LoadMeter() as meter:
            time.sleep(0.5)
        now = time.perf_counter()
        if meter.foreign_cores < threshold:
            quiet_since = quiet_since or now - 0.5
            if now - quiet_since >= quiet_s:
                break
        else:
            quiet_since = None
    return time.perf_counter() - t0


def _own_cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


# --- machine ------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return kib / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def l3_cache_bytes():
    """Size of the last-level cache seen by CPU 0 (0 when unknown)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
    except OSError:
        return 0
    scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * scale


def numpy_blas():
    try:
        blas = np_config()["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (KeyError, TypeError, AttributeError):
        return "unknown"


def np_config():
    import numpy as np

    return np.show_config(mode="dicts")


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


# --- results and tables -------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table. Times are seconds per call (medians)."""

    section: str
    name: str
    nesy_s: float | None
    torch_s: float | None
    nbytes: int | None = None  # bytes read + written per call, for bandwidth rows
    target: str = ""
    passed: bool | None = None
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self):
        if not self.nesy_s or not self.torch_s:
            return None
        return self.nesy_s / self.torch_s

    def bandwidth(self, seconds):
        if self.nbytes is None or not seconds:
            return None
        return self.nbytes / seconds


def fmt_time(s):
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}" if s / scale < 100 else f"{s / scale:.0f} {unit}"
    return f"{s / 1e-9:.0f} ns"


def _fmt_bw(row, seconds, triad):
    bw = row.bandwidth(seconds)
    if bw is None:
        return "-"
    return f"{bw / 1e9:.1f} ({100 * bw / triad:.0f}%)" if triad else f"{bw / 1e9:.1f}"


HEADERS = ("benchmark", "nesy", "torch", "nesy/torch", "nesy GB/s (%triad)",
           "torch GB/s (%triad)", "target", "")


def table_cells(rows, triad):
    """The table as a list of string tuples, one per row, first the headers."""
    out = [HEADERS]
    for r in rows:
        status = "" if r.passed is None else ("PASS" if r.passed else "MISS")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        out.append((r.name, fmt_time(r.nesy_s), fmt_time(r.torch_s), ratio,
                    _fmt_bw(r, r.nesy_s, triad), _fmt_bw(r, r.torch_s, triad), r.target,
                    status))
    return out


def render_text(rows, triad, notes=None):
    """A fixed-width table with a title line (and ``notes[section]``) before each section."""
    cells = table_cells(rows, triad)
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    right = {1, 2, 3, 4, 5}

    def line(c):
        parts = [c[i].rjust(w) if i in right else c[i].ljust(w) for i, w in enumerate(widths)]
        return "  ".join(parts).rstrip()

    lines = [line(cells[0]), "  ".join("-" * w for w in widths)]
    section = None
    for r, c in zip(rows, cells[1:]):
        if r.section != section:
            section = r.section
            note = (notes or {}).get(section)
            lines.append(f"[{section}]" + (f"  ({note})" if note else ""))
        lines.append(line(c))
    return "\n".join(lines)


def render_markdown(rows, triad, header_lines, notes=None):
    cells = table_cells(rows, triad)
    md = ["# nesy vs PyTorch benchmark", ""]
    md += [f"- {h}" for h in header_lines]
    md += ["", "| section | " + " | ".join(cells[0][:-1]) + " | status |",
           "|" + "---|" * (len(HEADERS) + 1)]
    for r, c in zip(rows, cells[1:]):
        md.append(f"| {r.section} | " + " | ".join(x.replace("|", "\\|") for x in c) + " |")
    md += [""] + [f"- {section}: {note}" for section, note in (notes or {}).items()]
    return "\n".join(md) + "\n"


def write_output(path, rows, triad, header_lines, notes=None):
    """Write the table as JSON (``.json``) or Markdown (anything else)."""
    if path.endswith(".json"):
        data = {"header": header_lines, "triad_bytes_per_s": triad, "notes": notes,
                "rows": [dict(asdict(r), ratio=r.ratio) for r in rows]}
        text = json.dumps(data, indent=2, default=str)
    else:
        text = render_markdown(rows, triad, header_lines, notes)
    with open(path, "w") as f:
        f.write(text)
