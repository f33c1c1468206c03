"""Benchmark ``nesy.tensor`` against PyTorch on the CPU, side by side, in one run.

    python benchmarks/bench_tensor.py                  # full run (a few minutes)
    python benchmarks/bench_tensor.py --quick          # smoke run
    python benchmarks/bench_tensor.py --out bench.md   # also write Markdown (.json: JSON)
    python benchmarks/bench_tensor.py --only tiny,reduce

Every time is a median of repeated samples taken after warm-up calls, so Numba compilation
is excluded (the ``startup`` section measures it on its own, in fresh processes). nesy and
PyTorch samples alternate, and both use the same number of threads. Bandwidth rows count
the bytes each op reads and writes (inputs and output once per op) and compare them with a
STREAM triad measured in the same run. Run it on an otherwise idle machine: each section
reports how much CPU other processes used while it ran.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from functools import partial

# Both libraries share one GNU OpenMP runtime in this process, and it reads GOMP_SPINCOUNT once
# when torch loads it below. nesy sets 1000 at import (see nesy/tensor/numba_setup.py), too late
# once torch is in: set it first so that neither library's threads spin against OpenBLAS's.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from benchlib import (  # noqa: E402
    SETTINGS,
    LoadMeter,
    Row,
    Settings,
    compare,
    cpu_model,
    fmt_time,
    l3_cache_bytes,
    memory_gib,
    numpy_blas,
    render_text,
    usable_cores,
    wait_until_idle,
    write_output,
)
from numba import prange

import nesy

F32 = 4
TINY = 4
ELEMENTWISE_N = 1 << 22
TRIAD_N = 1 << 25  # 3 x 128 MiB: far past any L3 cache
REDUCE_SHAPE = (2048, 2048)
MLP_SIZES = (784, 256, 10)
MLP_BATCH = 256
BLAS_SETTLE_S = 0.2  # pause between MLP samples: OpenBLAS threads spin ~0.1 s after a matmul
BUSY = 0.2  # cores used by other processes above which a section's timings are suspect
SECTIONS = ("tiny", "elementwise", "reduce", "mlp", "startup")


# --- reference bandwidth -------------------------------------------------------------------
@numba.njit(parallel=True, fastmath=True)
def stream_triad(a, b, c, s):
    """STREAM triad ``a[i] = b[i] + s c[i]``: 3 arrays of memory traffic per element."""
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def measure_triad(ctx):
    """The reference bandwidth: the triad on arrays far larger than the last-level cache.

    Also measured at the elementwise size, for information: there the three arrays partly
    fit in a large L3 cache, and the result swings from run to run.
    """
    ctx.triad = triad_bandwidth(TRIAD_N)
    ctx.triad_small = triad_bandwidth(ctx.n)


def triad_bandwidth(n):
    """Bytes per second of the triad on three float32 arrays of ``n`` elements."""
    rng = np.random.default_rng(0)
    a = np.zeros(n, np.float32)
    b, c = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    s = np.float32(3.0)
    (seconds,) = compare(lambda: stream_triad(a, b, c, s), repeat=2 * SETTINGS.repeat)
    return 3 * F32 * n / seconds


# --- targets ----------------------------------------------------------------------------
def judge(row, target, ok):
    """Attach a target's text and its PASS/MISS verdict (None when nesy has no time)."""
    row.target = target
    row.passed = None if row.nesy_s is None or row.torch_s is None else bool(ok(row))
    return row


def ratio_at_most(limit, strict=False):
    if strict:
        return f"< {limit:g}x torch", lambda r: r.ratio < limit
    return f"<= {limit:g}x torch", lambda r: r.ratio <= limit


def bandwidth_at_least(fraction, triad):
    return (f">= {100 * fraction:.0f}% triad",
            lambda r: r.bandwidth(r.nesy_s) >= fraction * triad)


# --- sections -----------------------------------------------------------------------------
def section_tiny(ctx):
    """Per-op overhead: ops on 4-element float32 tensors, where nothing but overhead counts."""
    name = f"tiny ops ({TINY} float32 elements)"
    rng = np.random.default_rng(0)
    arrays = [rng.random(TINY, dtype=np.float32) + 0.5 for _ in range(3)]
    ops = (("a + b", lambda a, b: a + b), ("a * b", lambda a, b: a * b),
           ("a.sigmoid()", lambda a, b: a.sigmoid()))
    rows = []
    for grad in (False, True):
        na, nb = (nesy.tensor(x, requires_grad=grad) for x in arrays[:2])
        ta, tb = (torch.tensor(x, requires_grad=grad) for x in arrays[:2])
        for label, op in ops:
            n_s, t_s = compare(partial(op, na, nb), partial(op, ta, tb))
            suffix = ", requires_grad" if grad else ""
            rows.append(judge(Row(name, f"{label} fwd{suffix}", n_s, t_s),
                              *ratio_at_most(1.5)))
    nesy_in = [nesy.tensor(x, requires_grad=True) for x in arrays]
    torch_in = [torch.tensor(x, requires_grad=True) for x in arrays]
    n_s, t_s = compare(lambda: chain10(*nesy_in), lambda: chain10(*torch_in))
    rows.append(judge(Row(name, "10-op chain (5x mul+add) + sum, fwd+bwd", n_s, t_s),
                      *ratio_at_most(1.0, strict=True)))
    return rows


def chain10(a, b, c):
    """Ten elementwise ops, a sum and the backward pass; grads reset as zero_grad would."""
    x = a
    for _ in range(5):
        x = x * b
        x = x + c
    x.sum().backward()
    a.grad = b.grad = c.grad = None


def reichenbach(a, b):
    """Reichenbach implication I(a, b) = 1 - a + a b."""
    return 1 - a + a * b


# (label, function, float32 arrays read + written over all ops of the forward pass)
ELEMENTWISE_FORWARD = (
    ("a * b", lambda a, b: a * b, 3),
    ("a + b", lambda a, b: a + b, 3),
    ("a.sigmoid()", lambda a, b: a.sigmoid(), 2),
    ("1 - a + a*b (Reichenbach)", reichenbach, 8),
)
# Backward with a full upstream gradient g: mul needs g*b and g*a (6 arrays); Reichenbach
# needs -g, g*b, g*a, and the sum of the two gradients reaching a (2 + 3 + 3 + 3 arrays).
ELEMENTWISE_BACKWARD = (
    ("a * b backward", lambda a, b: a * b, 6),
    ("1 - a + a*b backward", reichenbach, 11),
)


def section_elementwise(ctx):
    """Large elementwise chains: time, effective bandwidth, fraction of the triad's."""
    n = ctx.n
    name = f"elementwise, {n / 2**20:g}M float32 (bandwidth target vs triad)"
    measure_triad(ctx)  # here, so that a re-run of a disturbed section measures it again
    target = bandwidth_at_least(0.8, ctx.triad)
    rng = np.random.default_rng(1)
    a, b, g = (rng.random(n, dtype=np.float32) for _ in range(3))
    na, nb = nesy.tensor(a), nesy.tensor(b)
    ta, tb = torch.from_numpy(a.copy()), torch.from_numpy(b.copy())
    rows = []
    for label, fn, arrays in ELEMENTWISE_FORWARD:
        check_close(ctx, label, fn(na, nb), fn(ta, tb))
        n_s, t_s = compare(partial(fn, na, nb), partial(fn, ta, tb))
        rows.append(judge(Row(name, f"{label} fwd", n_s, t_s, arrays * F32 * n), *target))
    na, nb = nesy.tensor(a, requires_grad=True), nesy.tensor(b, requires_grad=True)
    ta = torch.from_numpy(a.copy()).requires_grad_()
    tb = torch.from_numpy(b.copy()).requires_grad_()
    ng, tg = nesy.tensor(g), torch.from_numpy(g.copy())
    for label, fn, arrays in ELEMENTWISE_BACKWARD:
        n_s, t_s = time_backward(ctx, label, fn, (na, nb, ng), (ta, tb, tg))
        rows.append(judge(Row(name, label, n_s, t_s, arrays * F32 * n), *target))
    return rows


def time_backward(ctx, label, fn, nesy_args, torch_args):
    """Median time of ``fn(a, b).backward(g)`` alone; the graph is built untimed."""

    def setup_for(a, b, g):
        def setup():
            a.grad = b.grad = None
            return fn(a, b), g

        return setup

    def run(state):
        y, g = state
        y.backward(g)

    setups = (setup_for(*nesy_args), setup_for(*torch_args))
    run(setups[0]())
    run(setups[1]())
    for i in (0, 1):
        check_close(ctx, f"{label} d/d{'ab'[i]}", nesy_args[i].grad, torch_args[i].grad)
    return compare(run, run, setups=setups)


def section_reduce(ctx):
    """Reductions over each axis of a 2-D array (forward), and sum's backward."""
    shape = REDUCE_SHAPE
    name = f"reductions, {shape[0]}x{shape[1]} float32"
    target = ratio_at_most(1.0)
    x = np.random.default_rng(2).random(shape, dtype=np.float32)
    nx, tx = nesy.tensor(x), torch.from_numpy(x.copy())
    size = x.size
    rows = []
    for op in ("sum", "amax"):
        for dim in (0, 1):
            fn = (lambda t, op=op, dim=dim: getattr(t, op)(dim=dim))
            label = f"{op}(dim={dim}) fwd"
            check_close(ctx, label, fn(nx), fn(tx))
            n_s, t_s = compare(partial(fn, nx), partial(fn, tx))
            traffic = F32 * (size + size // shape[dim])
            rows.append(judge(Row(name, label, n_s, t_s, traffic), *target))
    nx, tx = nesy.tensor(x, requires_grad=True), torch.from_numpy(x.copy()).requires_grad_()
    for dim in (0, 1):
        g = np.random.default_rng(3).random(shape[1 - dim], dtype=np.float32)
        n_s, t_s = time_backward(
            ctx, f"sum(dim={dim}) backward", lambda t, _, dim=dim: t.sum(dim=dim),
            (nx, nx, nesy.tensor(g)), (tx, tx, torch.from_numpy(g)))
        traffic = F32 * (size + size // shape[dim])
        rows.append(judge(Row(name, f"sum(dim={dim}) backward", n_s, t_s, traffic), *target))
    return rows


def check_close(ctx, label, ours, theirs):
    """Record a warning when nesy's and PyTorch's results differ (wrong work is not fast)."""
    a = ours.detach().numpy() if ours is not None else None
    b = theirs.detach().numpy() if theirs is not None else None
    if a is None or b is None or a.shape != b.shape or not np.allclose(a, b, 1e-4, 1e-5):
        ctx.warnings.append(f"{label}: nesy and torch results differ")


def nesy_nn_required():
    """Import nesy.nn and nesy.optim (written concurrently; they may not exist yet)."""
    importlib.import_module("nesy.nn")
    importlib.import_module("nesy.optim")


def build_mlp(lib):
    nn = lib.nn
    d_in, d_hidden, d_out = MLP_SIZES
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU(), nn.Linear(d_hidden, d_out))


def copy_parameters(nesy_model, torch_model):
    """Give nesy's model PyTorch's initial weights (when the shapes agree)."""
    for p, q in zip(nesy_model.parameters(), torch_model.parameters()):
        if tuple(p.shape) == tuple(q.shape):
            p.data = nesy.tensor(q.detach().numpy().copy())


def mlp_step(model, opt, loss_fn, x, y):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


def mlp_forward(lib, model, loss_fn, x, y):
    with lib.no_grad():
        return loss_fn(model(x), y)


def mlp_forward_backward(model, opt, loss_fn, x, y):
    opt.zero_grad()
    loss_fn(model(x), y).backward()


def section_mlp(ctx):
    """One training step of a small MLP, and its parts, in both libraries."""
    d_in, d_hidden, d_out = MLP_SIZES
    name = f"MLP {d_in}-{d_hidden}-{d_out} ReLU, batch {MLP_BATCH}, cross-entropy, Adam"
    rng = np.random.default_rng(4)
    x = rng.standard_normal((MLP_BATCH, d_in), dtype=np.float32)
    y = rng.integers(0, d_out, MLP_BATCH)
    torch.manual_seed(0)
    t_model = build_mlp(torch)
    t_args = (t_model, torch.optim.Adam(t_model.parameters(), lr=1e-3),
              torch.nn.functional.cross_entropy, torch.from_numpy(x), torch.from_numpy(y))
    target = ratio_at_most(1.5)
    try:
        nesy_nn_required()
        n_model = build_mlp(nesy)
        copy_parameters(n_model, t_model)
        n_args = (n_model, nesy.optim.Adam(n_model.parameters(), lr=1e-3),
                  nesy.nn.functional.cross_entropy, nesy.tensor(x), nesy.tensor(y))
    except (ImportError, AttributeError) as e:
        ctx.warnings.append(f"MLP: nesy.nn / nesy.optim not usable yet ({e}); torch only")
        (t_s,) = compare(lambda: mlp_step(*t_args))
        return [judge(Row(name, "train step (zero_grad, fwd, bwd, Adam)", None, t_s), *target)]
    n_fwd, t_fwd = (lambda: mlp_forward(nesy, n_args[0], *n_args[2:]),
                    lambda: mlp_forward(torch, t_args[0], *t_args[2:]))
    check_close(ctx, "MLP initial loss", n_fwd(), t_fwd())
    pairs = [
        ("forward + loss (no_grad)", n_fwd, t_fwd),
        ("zero_grad + forward + backward", lambda: mlp_forward_backward(*n_args),
         lambda: mlp_forward_backward(*t_args)),
        ("Adam step alone", n_args[1].step, t_args[1].step),
        ("train step (zero_grad, fwd, bwd, Adam)", lambda: mlp_step(*n_args),
         lambda: mlp_step(*t_args)),
    ]
    # Long samples after each pause, so that waking the thread pools is a small part of them.
    settings = Settings(repeat=SETTINGS.repeat // 2 + 2, warmup=SETTINGS.warmup,
                        min_sample_s=10 * SETTINGS.min_sample_s)
    rows = [Row(name, label, *compare(n_fn, t_fn, settings=settings, settle_s=BLAS_SETTLE_S))
            for label, n_fn, t_fn in pairs]
    judge(rows[-1], *target)
    rows.append(judge(Row(name, "train step, each library alone in a fresh process",
                          *isolated_steps(ctx)), *target))
    return rows


def isolated_steps(ctx):
    """Median train step of nesy and of PyTorch, each in its own process.

    In this process PyTorch was imported first, and its OpenMP runtime (loaded globally at
    ``import torch``) is the one Numba's kernels then run on, with PyTorch's settings; a
    program that uses only nesy does not have that.
    """
    calls = 20 if ctx.quick else 60
    times = []
    for lib in ("nesy", "torch"):
        time.sleep(BLAS_SETTLE_S)  # this process's OpenBLAS threads may still be spinning
        times.append(run_python(ctx, FIRST_CALL_SCRIPT, lib, "mlp", MLP_BATCH, ctx.threads, calls))
    return tuple(None if t is None else float(np.median(t[calls // 4:])) for t in times)


# --- startup: import time and first-call (compile) latency, in fresh processes ----------
FIRST_CALL_SCRIPT = r"""
import importlib, json, sys, time
import numpy as np
lib = importlib.import_module(sys.argv[1])
workload, n, threads, calls = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if sys.argv[1] == "torch":
    lib.set_num_threads(threads)
rng = np.random.default_rng(0)
if workload == "chain":
    a = lib.tensor(rng.random(n, dtype=np.float32), requires_grad=True)
    b = lib.tensor(rng.random(n, dtype=np.float32), requires_grad=True)
    g = lib.tensor(rng.random(n, dtype=np.float32))
    def step():
        y = (1 - a + a * b).sigmoid()
        y.backward(g)
        a.grad = b.grad = None
else:
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(rng.standard_normal((n, 784), dtype=np.float32))
    y = lib.tensor(rng.integers(0, 10, n))
    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
times = []
for _ in range(calls):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
IMPORT_SCRIPT = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
MLP_COMPILE_BATCH = 1024  # hidden activations 1024 x 256: past the kernel threshold
CALLS = 8  # calls per fresh process: the first one, then the steady state from the later ones


def run_python(ctx, code, *argv, env=None):
    """Run ``python -c code argv...`` and parse the last line it prints as JSON."""
    env = dict(os.environ, NUMBA_NUM_THREADS=str(ctx.threads), **(env or {}))
    proc = subprocess.run([sys.executable, "-c", code, *map(str, argv)], env=env,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        ctx.warnings.append(f"subprocess {argv[:2]} failed: {tail[0]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def import_time(ctx, module):
    runs = 3 if ctx.quick else 7
    times = [run_python(ctx, IMPORT_SCRIPT.format(module)) for _ in range(runs)]
    times = [t for t in times if t is not None]
    return float(np.median(times)) if times else None


def first_calls(ctx, workload, n):
    """First-call times: nesy with a cold, then a warm Numba cache; PyTorch fresh."""
    with tempfile.TemporaryDirectory(prefix="nesy-numba-cache-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = run_python(ctx, FIRST_CALL_SCRIPT, "nesy", workload, n, ctx.threads, 1, env=env)
        warm = run_python(ctx, FIRST_CALL_SCRIPT, "nesy", workload, n, ctx.threads, CALLS,
                          env=env)
    ref = run_python(ctx, FIRST_CALL_SCRIPT, "torch", workload, n, ctx.threads, CALLS)
    return cold, warm, ref


def section_startup(ctx):
    """``import nesy`` time, and the first call of a training step (Numba compile)."""
    name = "startup (fresh processes)"
    rows = [Row(name, "import nesy / import torch", import_time(ctx, "nesy"),
                import_time(ctx, "torch"))]
    workloads = [("chain", ctx.n, f"(1-a+a*b).sigmoid() fwd+bwd, {ctx.n / 2**20:g}M")]
    try:
        nesy_nn_required()
    except ImportError:
        ctx.warnings.append("startup: nesy.nn / nesy.optim missing, MLP first call skipped")
    else:
        workloads.append(("mlp", MLP_COMPILE_BATCH, f"MLP train step, batch {MLP_COMPILE_BATCH}"))
    for workload, n, label in workloads:
        cold, warm, ref = first_calls(ctx, workload, n)
        ref_first = ref[0] if ref else None
        rows.append(Row(name, f"{label}: 1st call, cold cache", cold and cold[0], ref_first))
        rows.append(Row(name, f"{label}: 1st call, warm cache", warm and warm[0], ref_first))
        rows.append(Row(name, f"{label}: calls {CALLS // 2 + 1}-{CALLS} (median)",
                        warm and float(np.median(warm[CALLS // 2:])),
                        ref and float(np.median(ref[CALLS // 2:]))))
    return rows


# --- driver -------------------------------------------------------------------------------
NOTES = (
    "GB/s = bytes read + written by each op (inputs and output counted once per op) / time;"
    " backward rows count the gradient ops: mul = g*b, g*a (6 arrays), Reichenbach = -g,"
    " g*b, g*a and the sum of a's two gradients (11 arrays)",
    "%triad is against the DRAM-sized triad; a 2048x2048 float32 input (16 MiB) stays in a"
    " 32 MiB L3 between calls, so reductions can exceed 100%",
    "startup: '1st call' includes importing Numba and compiling (cold: empty NUMBA_CACHE_DIR)"
    " or loading (warm: second process, same dir) every kernel the step uses; the torch"
    " column is the same workload's first call in a fresh PyTorch process",
)

class Context:
    """What the sections share: sizes, thread count, the triad reference, warnings."""

    def __init__(self, n, threads, quick):
        self.n, self.threads, self.quick = n, threads, quick
        self.triad = self.triad_small = None
        self.warnings = []


SECTION_FUNCTIONS = {"tiny": section_tiny, "elementwise": section_elementwise,
                     "reduce": section_reduce, "mlp": section_mlp, "startup": section_startup}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    p.add_argument("--out", help="also write the results (.json: JSON, else Markdown)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections out of {','.join(SECTIONS)}")
    p.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                   help="threads for both Numba and PyTorch (default: Numba's)")
    p.add_argument("--wait-idle", type=float, default=60, metavar="SECONDS",
                   help="before each section, wait up to SECONDS for other processes to go"
                        " quiet (0: do not wait)")
    p.add_argument("--retries", type=int, default=2,
                   help="runs of a section again when other processes disturbed it")
    p.add_argument("--n", type=int, default=ELEMENTWISE_N, help="elements in large arrays")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def header_lines(ctx):
    return [
        f"machine: {cpu_model()}, {usable_cores()} usable cores (os.cpu_count {os.cpu_count()}),"
        f" L3 {l3_cache_bytes() / 2**20:g} MiB, {memory_gib():.1f} GiB RAM,"
        f" {platform.system()} {platform.release()}",
        f"versions: Python {platform.python_version()}, nesy {nesy.__version__}, NumPy"
        f" {np.__version__}, Numba {numba.__version__} (threading layer"
        f" {numba.threading_layer()}), PyTorch {torch.__version__}; NumPy's BLAS (nesy's"
        f" matmul): {numpy_blas()}",
        f"threads: Numba {numba.get_num_threads()}, torch.set_num_threads({ctx.threads})"
        f" -> {torch.get_num_threads()}",
        f"memory bandwidth: STREAM triad a[i] = b[i] + s*c[i] (Numba parallel, float32),"
        f" {ctx.triad / 1e9:.1f} GB/s at 3 x {TRIAD_N / 2**20:g}M elements (the %triad"
        f" reference); {ctx.triad_small / 1e9:.1f} GB/s at 3 x {ctx.n / 2**20:g}M (partly"
        f" in L3: single {ctx.n / 2**20:g}M ops may exceed 100%)",
        f"timing: median of {SETTINGS.repeat} samples, >= {SETTINGS.warmup} warm-up calls,"
        f" samples >= {fmt_time(SETTINGS.min_sample_s)}, nesy and torch alternating",
    ]


def run_section(ctx, section, args):
    """Run one section; when other processes disturbed it, wait for quiet and run it again."""
    for attempt in range(args.retries + 1):
        if args.wait_idle:
            wait_until_idle(args.wait_idle, quiet_s=1.5)
        print(f"... {section}", file=sys.stderr, flush=True)
        kept_warnings = len(ctx.warnings)
        with LoadMeter() as meter:
            rows = SECTION_FUNCTIONS[section](ctx)
        if meter.foreign_cores < BUSY or attempt == args.retries:
            break
        print(f"    other processes used {meter.foreign_cores:.2f} cores: running it again",
              file=sys.stderr, flush=True)
        del ctx.warnings[kept_warnings:]
    note = f"other processes used {meter.foreign_cores:.2f} cores meanwhile"
    if meter.foreign_cores >= BUSY:
        ctx.warnings.append(f"{section}: the machine was busy ({note}); timings are unreliable")
    return rows, note


def start_nesy_kernels():
    """Run one kernel-sized nesy op before this script's own Numba code (the triad) does.

    nesy configures Numba's OpenMP runtime (spin-wait) when it first loads its kernels, and
    OpenMP reads that once, at its first parallel launch; were the triad first, nesy would be
    measured with settings it never runs with. torch is imported earlier, as a user would.
    """
    x = nesy.ones(1 << 16)
    (x * x).sum().item()


def main(argv=None):
    args = parse_args(argv)
    if args.quick:
        SETTINGS.repeat, SETTINGS.warmup, SETTINGS.min_sample_s = 3, 1, 0.005
    start_nesy_kernels()
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    ctx = Context(args.n, args.threads, args.quick)
    rows, notes = [], {}
    for section in args.only:
        new, note = run_section(ctx, section, args)
        rows += new
        notes.update({r.section: note for r in new})
    if ctx.triad is None:
        measure_triad(ctx)
    header = header_lines(ctx)
    judged = [r for r in rows if r.passed is not None]
    summary = (f"targets: {sum(r.passed for r in judged)} PASS, "
               f"{sum(not r.passed for r in judged)} MISS")
    print("\n".join(header) + "\n")
    print(render_text(rows, ctx.triad, notes))
    print("\n" + "\n".join(f"note: {n}" for n in NOTES))
    print("\n" + summary)
    for w in ctx.warnings:
        print(f"warning: {w}")
    if args.out:
        write_output(args.out, rows, ctx.triad, header + list(NOTES) + [summary] + ctx.warnings,
                     notes)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
