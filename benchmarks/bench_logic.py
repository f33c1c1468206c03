"""Benchmark nesy's rule engine against LTNtorch, side by side, in one run.

    python benchmarks/bench_logic.py                    # full run (6 min on an idle machine)
    python benchmarks/bench_logic.py --quick            # N up to 2048 / 256 (3 min)
    python benchmarks/bench_logic.py --json out.json    # also write the results as JSON
    python benchmarks/bench_logic.py --only friends,check
    python benchmarks/bench_logic.py --one ltn transitivity 512   # one measurement, JSON line
    python benchmarks/bench_logic.py --one compiled transitivity 1024

Three implementations: ``compiled`` (nesy with fused kernels: ``evaluate(..., compiled=True)``
and ``kb.compile()``), ``nesy`` (nesy's eager path, one tensor per subformula) and ``ltn``
(LTNtorch). Problems, each the forward and backward pass of ``1 - satisfaction``:

- friends: ``forall x, y: (Friends(x, y) and Smokes(x)) -> Smokes(y)``, Smokes an MLP
  8-16-16-1 over N people's features, Friends a given N x N table;
- transitivity: ``forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)``, gradients into the
  N x N table R;
- smokers: the LTN paper's Smokers-Friends-Cancer knowledge base, trained for 1000 epochs
  with Adam (wall time, final satisfaction, each axiom's truth).

Both sides use LTN's stable product logic. Each (implementation, problem, N) runs in a fresh
subprocess: kernels are compiled (and PyTorch initialised) on a small instance of the problem
first and the memory given back, then the data for N is built. Peak memory is the highest
resident set size over the warm-up call and the timed calls, minus the resident set size
just before the warm-up (``ru_maxrss`` with its high-water mark reset there). Time is the
median of the timed calls after that one warm-up call. The LTNtorch side is in
``ltn_reference.py``.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

# PyTorch loads GNU OpenMP at import and it reads this once: set it first, as benchlib says.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

import numpy as np  # noqa: E402
from benchlib import (  # noqa: E402
    LoadMeter,
    cpu_model,
    fmt_time,
    memory_gib,
    usable_cores,
    wait_until_idle,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKERS_RULES = os.path.join(ROOT, "rules", "smokers.nesy")
FRIENDS_SMOKES = "forall x, y: (Friends(x, y) and Smokes(x)) -> Smokes(y)"
TRANSITIVITY = "forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)"
SMOKES_SIZES = [8, 16, 16, 1]
SEED = 0
SIZES = {"friends": (256, 512, 1024, 2048, 4096, 8192, 16384),
         "transitivity": (64, 128, 256, 512, 768, 1024, 2048)}
QUICK_MAX = {"friends": 2048, "transitivity": 256}
PREWARM = {"friends": 256, "transitivity": 64}  # above nesy's parallel-kernel threshold
GROWTH = {"friends": 2, "transitivity": 3}  # memory grows as N ** GROWTH
COMPILED_GROWTH = 2  # fused kernels: memory grows with the tables (N^2), not the groundings
IMPLS = ("compiled", "nesy", "ltn")
EPOCHS, LR = 1000, 0.001
MEMORY_SAFETY = 0.85  # run a size only when its estimated footprint fits in this much RAM
BUSY = 0.2  # cores used by other processes above which a timing is marked suspect
SECTIONS = ("check", "friends", "transitivity", "smokers")


# --- the two implementations (run in the child processes) ------------------------------
def problem_data(problem, n):
    """The inputs for size ``n``: features and a Friends table, or the table R."""
    rng = np.random.default_rng([SEED, n])
    if problem == "friends":
        return {"feats": rng.standard_normal((n, SMOKES_SIZES[0]), dtype=np.float32),
                "friends": rng.random((n, n), dtype=np.float32)}
    return {"R": rng.random((n, n), dtype=np.float32)}


def nesy_problem(problem, data, state=None, compiled=False):
    """nesy's step (zero grads, evaluate, backward; returns the satisfaction) and grads."""
    import nesy

    nesy.manual_seed(SEED)
    if problem == "friends":
        mlp = nesy.nn.MLP(SMOKES_SIZES, activation="elu", output_activation="sigmoid")
        if state is not None:
            mlp.load_state_dict(state)
        feats, friends = nesy.tensor(data["feats"]), nesy.tensor(data["friends"])
        params = dict(mlp.named_parameters())

        def satisfaction():
            smokes = mlp(feats).reshape(-1)
            return nesy.logic.evaluate(FRIENDS_SMOKES, {"Friends": friends, "Smokes": smokes},
                                       semantics="product", compiled=compiled)
    else:
        R = nesy.tensor(data["R"], requires_grad=True)
        params = {"R": R}

        def satisfaction():
            return nesy.logic.evaluate(TRANSITIVITY, {"R": R}, semantics="product",
                                       compiled=compiled)

    return fwd_bwd(satisfaction, params)


def ltn_problem(problem, data):
    """LTNtorch's step and grads, and the Smokes MLP's initial weights (for the check)."""
    import ltn_reference as ref
    import torch

    torch.set_num_threads(usable_cores())
    torch.manual_seed(SEED)
    state = None
    if problem == "friends":
        model = ref.mlp(SMOKES_SIZES)
        state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
        satisfaction = ref.friends_smokes(torch.from_numpy(data["feats"]),
                                          torch.from_numpy(data["friends"]), model)
        params = dict(model.named_parameters())
    else:
        R = torch.from_numpy(data["R"].copy()).requires_grad_()
        satisfaction, params = ref.transitivity(R), {"R": R}
    case = fwd_bwd(satisfaction, params)
    case.state = state
    return case


def fwd_bwd(satisfaction, params):
    """A case: ``step()`` clears the grads of ``params``, runs the forward and backward pass
    of ``1 - satisfaction()`` and returns the satisfaction; ``grads()`` as NumPy arrays."""

    def step():
        for p in params.values():
            p.grad = None
        sat = satisfaction()
        (1 - sat).backward()
        return sat.item()

    def grads():
        return {k: p.grad.detach().numpy() for k, p in params.items()}

    return SimpleNamespace(step=step, grads=grads)


def nesy_smokers(epochs, compiled=False):
    """Train ``rules/smokers.nesy`` with a plain Adam loop, as a nesy user would."""
    import nesy

    nesy.manual_seed(SEED)
    kb = nesy.logic.load(SMOKERS_RULES)
    if compiled:
        kb.compile()
        kb.loss().backward()  # Numba compiles (or loads from its cache) outside the timing
    opt = nesy.optim.Adam(kb.parameters(), lr=LR)
    t0 = time.perf_counter()
    for _ in range(epochs):
        opt.zero_grad()
        loss = kb.loss()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    with nesy.no_grad():
        return {"time_s": seconds, "sat": kb.satisfaction().item(),
                "axioms": [[name, kb.truth(name).item()] for name in kb.rules]}


def ltn_smokers(epochs):
    import ltn_reference as ref
    import torch

    torch.set_num_threads(usable_cores())
    return ref.smokers_train(epochs, LR, SEED)


def compiled_problem(problem, data, state=None):
    return nesy_problem(problem, data, state, compiled=True)


def compiled_smokers(epochs):
    return nesy_smokers(epochs, compiled=True)


BUILDERS = {"compiled": compiled_problem, "nesy": nesy_problem, "ltn": ltn_problem}
SMOKERS = {"compiled": compiled_smokers, "nesy": nesy_smokers, "ltn": ltn_smokers}


# --- measuring in the child ---------------------------------------------------------------
def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak():
    """Reset the process's RSS high-water mark (ru_maxrss follows it); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_memory():
    """Collect garbage and hand freed heap pages back to the OS, so that they are not
    counted in the baseline (glibc keeps freed blocks under 32 MiB in its arenas)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def timed(fn):
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def measure(impl, problem, n, budget_s, max_reps):
    """Median seconds of ``step`` and its peak memory above the RSS before the warm-up."""
    build = BUILDERS[impl]
    build(problem, problem_data(problem, PREWARM[problem])).step()
    release_memory()
    case = build(problem, problem_data(problem, n))
    release_memory()
    base = current_rss()
    reset_ok = reset_peak()
    warm_s, sat = timed(case.step)
    reps = max(2 if warm_s < 30 else 1, min(max_reps, int(budget_s / warm_s)))
    times = []
    for _ in range(reps):
        gc.collect()
        seconds, sat = timed(case.step)
        times.append(seconds)
    return {"median_s": statistics.median(times), "times_s": times, "warmup_s": warm_s,
            "peak_bytes": peak_rss() - base, "base_rss_bytes": base, "sat": sat,
            "peak_reset": reset_ok}


def value_check(problem):
    """Both sides on identical inputs (smallest N; smokers: LTN's initial weights copied
    into the nesy knowledge base): satisfactions and gradients."""
    if problem == "smokers":
        ref, n, data = ltn_smokers_case(), None, None
    else:
        n = SIZES[problem][0]
        data = problem_data(problem, n)
        ref = ltn_problem(problem, data)
    out = {"problem": problem, "n": n, "ltn": ref.step()}
    g_ref = ref.grads()
    out["grad_scale"] = max(float(np.max(np.abs(g))) for g in g_ref.values())
    for impl in ("nesy", "compiled"):
        key = "" if impl == "nesy" else "compiled_"
        try:
            compiled = impl == "compiled"
            ours = nesy_smokers_case(ref.state, compiled) if problem == "smokers" else (
                nesy_problem(problem, data, ref.state, compiled))
            out[impl] = ours.step()
            g_ours = ours.grads()
            out[key + "diff"] = abs(out[impl] - out["ltn"])
            out[key + "grad_diff"] = max(float(np.max(np.abs(g_ours[k] - g_ref[k])))
                                         for k in g_ref)
            if problem == "smokers":
                out[key + "axiom_diff"] = max(abs(a - b)
                                              for a, b in zip(ours.axioms(), ref.axioms()))
        except Exception as e:  # the nesy API may not exist yet
            out[key + "error"] = f"{type(e).__name__}: {e}"
    return out


def ltn_smokers_case():
    """LTNtorch's smokers KB at its initial weights, its parameters under nesy's names."""
    import ltn_reference as ref
    import torch

    kb = ref.SmokersKB(SEED)
    people = [c.value for c in kb.g.values()]
    params = {}
    for name, pred in (("Smokes", kb.smokes), ("Friends", kb.friends), ("Cancer", kb.cancer)):
        net = pred.model.net if name == "Friends" else pred.model
        params.update({f"models.{name}.{k}": v for k, v in net.named_parameters()})
    case = fwd_bwd(kb.satisfaction, params)  # run once: the embeddings' grads start as None
    grads = case.grads
    case.grads = lambda: dict(grads(), **{"embeddings.Person": torch.stack(
        [p.grad for p in people]).numpy()})
    case.state = {k: v.detach().numpy().copy() for k, v in params.items()}
    case.state["embeddings.Person"] = torch.stack(people).detach().numpy().copy()
    case.axioms = lambda: [a.value.item() for a in kb.axioms()]
    return case


def nesy_smokers_case(state, compiled=False):
    import nesy

    kb = nesy.logic.load(SMOKERS_RULES)
    kb.load_state_dict(state)
    if compiled:
        kb.compile()
    case = fwd_bwd(kb.satisfaction, dict(kb.named_parameters()))
    case.axioms = lambda: [kb.truth(name).item() for name in kb.rules]
    return case


def child_main(args):
    """Run one measurement (``--one``) or value check (``--check``); print one JSON line."""
    if args.check:
        out = value_check(args.check)
    else:
        impl, problem, n = args.one[0], args.one[1], int(args.one[2])
        out = {"impl": impl, "problem": problem, "n": n}
        try:
            if problem == "smokers":
                out.update(SMOKERS[impl](n))
            else:
                out.update(measure(impl, problem, n, args.budget, args.max_reps))
        except Exception as e:
            traceback.print_exc()
            out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


# --- the driver (parent process) -------------------------------------------------------------
@dataclass
class Row:
    """One (problem, N): both sides' results as the children reported them."""

    problem: str
    n: int
    compiled: dict = field(default_factory=dict)
    nesy: dict = field(default_factory=dict)
    ltn: dict = field(default_factory=dict)
    target: str = ""
    passed: bool | None = None
    misses: list = field(default_factory=list)

    @staticmethod
    def _ratio(slow, fast):
        a, b = slow.get("median_s"), fast.get("median_s")
        return a / b if a and b else None

    @property
    def speedup(self):
        """LTNtorch's time over nesy eager's."""
        return self._ratio(self.ltn, self.nesy)

    @property
    def compiled_vs_ltn(self):
        return self._ratio(self.ltn, self.compiled)

    @property
    def compiled_vs_eager(self):
        return self._ratio(self.nesy, self.compiled)


def time_target(problem, n):
    if problem == "friends":
        return 3.0 if n >= 1024 else None
    return {256: 1.5, 512: 3.0}.get(n)


def compiled_targets(problem, n):
    """The compiled path's targets: (x faster than LTNtorch, seconds, MB) at this size."""
    vs_ltn = 30 if (problem, n) in (("transitivity", 512), ("friends", 4096)) else None
    limits = (3.0, 1024) if (problem, n) == ("transitivity", 1024) else (None, None)
    return vs_ltn, *limits


def judge(row):
    """Eager: >= x LTN where set, memory <= LTN's. Compiled: >= 10x eager where eager ran,
    >= 30x LTN at the two sizes set, transitivity N = 1024 under 3 s and 1 GB."""
    need = time_target(row.problem, row.n)
    vs_ltn, seconds, mb = compiled_targets(row.problem, row.n)
    targets = []
    if "median_s" in row.nesy and "median_s" in row.ltn:
        targets.append((f"eager >= {need:g}x LTN" if need else "",
                        not need or row.speedup >= need, "eager time"))
        targets.append(("eager mem <= LTN", row.nesy["peak_bytes"] <= row.ltn["peak_bytes"],
                        "eager memory"))
    comp = row.compiled.get("median_s")
    if comp and "median_s" in row.nesy:
        targets.append(("compiled >= 10x eager", row.compiled_vs_eager >= 10, "vs eager"))
    if comp and vs_ltn:
        ok = "median_s" in row.ltn and row.compiled_vs_ltn >= vs_ltn
        targets.append((f"compiled >= {vs_ltn}x LTN", ok, "vs LTN"))
    if seconds:
        ok = bool(comp) and comp < seconds and row.compiled["peak_bytes"] < mb * 2**20
        targets.append((f"compiled < {seconds:g} s, < {mb} MB", ok, "compiled limits"))
    row.target = "; ".join(t for t, _, _ in targets if t)
    if targets:
        row.misses = [why for _, ok, why in targets if not ok]
        row.passed = not row.misses
    return row


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return int(memory_gib() * 2**30)


def estimated_bytes(history, problem, n, growth=None):
    """Resident set a size needs, extrapolated from the largest size measured before."""
    if not history:
        return None
    m, res = history[-1]
    return res["base_rss_bytes"] + res["peak_bytes"] * (n / m) ** (growth or GROWTH[problem])


def run_child(ctx, argv):
    """Run a child; when other processes disturbed it, wait for quiet and run it again
    (``--retries`` times at most), keeping the least disturbed result."""
    best = None
    for _ in range(ctx.args.retries + 1):
        out = run_child_once(ctx, argv)
        if best is None or out["foreign_cores"] < best["foreign_cores"]:
            best = out
        if best["foreign_cores"] < BUSY or "error" in out:
            break
        print(f"    other processes used {out['foreign_cores']:.2f} cores: running it again",
              file=sys.stderr, flush=True)
    return best


def run_child_once(ctx, argv):
    """Run this script as a child with ``argv``; its JSON line, or an error."""
    if ctx.args.wait_idle:
        wait_until_idle(ctx.args.wait_idle, quiet_s=1.0)
    cmd = [sys.executable, os.path.abspath(__file__), *map(str, argv),
           "--budget", str(ctx.budget), "--max-reps", str(ctx.max_reps)]
    with LoadMeter() as meter:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {ctx.args.timeout} s", "foreign_cores": 0.0}
    lines = proc.stdout.strip().splitlines()
    try:
        out = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        why = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exit status {proc.returncode}")
        if proc.returncode == -9:
            why += " (out of memory?)"
        tail = proc.stderr.strip().splitlines()[-1:]
        out = {"error": why + (f": {tail[0]}" if tail else "")}
    out["foreign_cores"] = 0.0 if math.isnan(meter.foreign_cores) else meter.foreign_cores
    return out


def measure_problem(ctx, problem):
    """Every size of ``problem``: nesy, then LTNtorch, each in a fresh process."""
    rows, history = [], {impl: [] for impl in IMPLS}
    for n in ctx.sizes[problem]:
        row = Row(problem, n)
        for impl in IMPLS:
            print(f"... {problem} N={n} {impl}", file=sys.stderr, flush=True)
            need = estimated_bytes(history[impl], problem, n,
                                   COMPILED_GROWTH if impl == "compiled" else None)
            if need and need > MEMORY_SAFETY * mem_available():
                res = {"skipped": f"skipped: estimated {need / 2**30:.1f} GB"}
            else:
                res = run_child(ctx, ["--one", impl, problem, n])
                if need and "error" in res:
                    res["error"] = f"estimated {need / 2**30:.1f} GB; {res['error']}"
            if "peak_bytes" in res:
                history[impl].append((n, res))
            setattr(row, impl, res)
        rows.append(judge(row))
    return rows


def run_smokers(ctx):
    out = {}
    for impl in IMPLS:
        print(f"... smokers {ctx.epochs} epochs {impl}", file=sys.stderr, flush=True)
        out[impl] = run_child(ctx, ["--one", impl, "smokers", ctx.epochs])
    nesy, ltn = out["nesy"], out["ltn"]
    out["target"] = "sat within 0.02 of LTN's, >= 2x faster"
    out["passed"] = None
    if "sat" in nesy and "sat" in ltn:
        out["speedup"] = ltn["time_s"] / nesy["time_s"]
        out["passed"] = abs(nesy["sat"] - ltn["sat"]) <= 0.02 and out["speedup"] >= 2
    return out


# --- reporting ------------------------------------------------------------------------------
def fmt_mb(res):
    return "-" if "peak_bytes" not in res else f"{res['peak_bytes'] / 2**20:.1f}"


def cell_time(res):
    return fmt_time(res.get("median_s") or res.get("time_s"))


def status(passed, misses=()):
    if passed is None:
        return "-"
    return "PASS" if passed else "MISS" + (f" ({', '.join(misses)})" if misses else "")


def row_note(row):
    notes = []
    for impl, res in (("compiled", row.compiled), ("eager", row.nesy), ("LTN", row.ltn)):
        why = res.get("error") or res.get("skipped")
        if why:
            notes.append(f"{impl}: {why[:120]}")
        if res.get("foreign_cores", 0) > BUSY:
            notes.append(f"{impl}: machine busy ({res['foreign_cores']:.2f} cores)")
    return "; ".join(notes)


def fmt_ratio(x):
    return "-" if x is None else f"{x:.1f}x"


def render_rows(rows):
    md = ["| problem | N | compiled | nesy eager | LTNtorch | compiled vs LTN | compiled vs"
          " eager | eager vs LTN | compiled MB | eager MB | LTN MB | targets | status | note |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        note = row_note(r).replace("|", "\\|")
        md.append(f"| {r.problem} | {r.n} | {cell_time(r.compiled)} | {cell_time(r.nesy)}"
                  f" | {cell_time(r.ltn)} | {fmt_ratio(r.compiled_vs_ltn)}"
                  f" | {fmt_ratio(r.compiled_vs_eager)} | {fmt_ratio(r.speedup)}"
                  f" | {fmt_mb(r.compiled)} | {fmt_mb(r.nesy)} | {fmt_mb(r.ltn)} | {r.target}"
                  f" | {status(r.passed, r.misses)} | {note} |")
    return md


def render_smokers(sm, epochs):
    nesy, ltn = sm["nesy"], sm["ltn"]
    md = [f"| smokers-friends-cancer, {epochs} epochs, Adam lr={LR} | nesy | LTNtorch"
          " | nesy - LTN |", "|---|---:|---:|---:|"]
    speed = f"{sm['speedup']:.2f}x faster" if sm.get("speedup") else "-"
    md.append(f"| training wall time | {cell_time(nesy)} | {cell_time(ltn)} | {speed} |")
    md.append("| final satisfaction | " + " | ".join(_values(nesy.get("sat"), ltn.get("sat")))
              + " |")
    ours, theirs = nesy.get("axioms", []), ltn.get("axioms", [])
    for i in range(max(len(ours), len(theirs))):
        name_n, v_n = ours[i] if i < len(ours) else (None, None)
        name_l, v_l = theirs[i] if i < len(theirs) else (None, None)
        name = name_l if name_n in (None, name_l) else f"{name_l} / nesy: {name_n}"
        md.append(f"| {i + 1}. {name} | " + " | ".join(_values(v_n, v_l)) + " |")
    comp = sm.get("compiled", {})
    if "time_s" in comp:
        md += ["", f"Compiled (kb.compile()): training wall time {cell_time(comp)}, final"
               f" satisfaction {comp['sat']:.4f} (eager {nesy.get('sat', float('nan')):.4f})."]
    elif "error" in comp:
        md += ["", f"Compiled side failed: {comp['error']}"]
    md += ["", f"Target: {sm['target']}: {status(sm['passed'])}."]
    if "error" in nesy:
        md.append(f"nesy side unavailable: {nesy['error']}")
    if "error" in ltn:
        md.append(f"LTNtorch side failed: {ltn['error']}")
    return md


def _values(a, b):
    fmt = (lambda v: "-" if v is None else f"{v:.4f}")
    diff = "-" if a is None or b is None else f"{a - b:+.4f}"
    return fmt(a), fmt(b), diff


def render_checks(checks):
    lines = []
    for c in checks:
        where = f"N={c['n']}" if c.get("n") else "LTN's initial weights"
        head = f"{c.get('problem')} ({where}): LTNtorch sat {c.get('ltn', float('nan')):.6f}"
        if "diff" in c:
            axioms = (f"; axiom truths max |diff| {c['axiom_diff']:.2e}" if "axiom_diff" in c
                      else "")
            lines.append(f"- {head}, nesy {c['nesy']:.6f}, |diff| {c['diff']:.2e}{axioms};"
                         f" gradients max |diff| {c['grad_diff']:.2e} (largest |grad| "
                         f"{c['grad_scale']:.2e})")
        elif "ltn" in c:
            lines.append(f"- {head}; nesy side unavailable: {c.get('error')}")
        if "compiled_diff" in c:
            axioms = (f"; axiom truths max |diff| {c['compiled_axiom_diff']:.2e}"
                      if "compiled_axiom_diff" in c else "")
            lines.append(f"  - compiled: sat {c['compiled']:.6f}, |diff| {c['compiled_diff']:.2e}"
                         f"{axioms}; gradients max |diff| {c['compiled_grad_diff']:.2e}")
        elif "compiled_error" in c:
            lines.append(f"  - compiled side unavailable: {c['compiled_error']}")
        else:
            lines.append(f"- {c.get('problem', '?')}: check failed: {c.get('error')}")
    return lines


def version(dist):
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(dist)
    except PackageNotFoundError:
        return "(not installed)"


def header_lines(ctx):
    return [
        f"machine: {cpu_model()}, {usable_cores()} usable cores, {memory_gib():.1f} GiB RAM,"
        f" {platform.system()} {platform.release()}",
        f"versions: Python {platform.python_version()}, nesy {version('nesy')}, LTNtorch"
        f" {version('LTNtorch')}, PyTorch {version('torch')}, NumPy {np.__version__}",
        f"threads: torch.set_num_threads({usable_cores()}); nesy its own (Numba default);"
        f" GOMP_SPINCOUNT={os.environ['GOMP_SPINCOUNT']}",
        "method: each (implementation, problem, N) in a fresh process; time = median of"
        f" fwd+bwd calls after 1 warm-up (at most {ctx.max_reps} calls, about {ctx.budget:g} s"
        " each measurement); peak = max RSS over warm-up and timed calls minus the RSS before"
        " the warm-up (after imports, a compile run at small N, and data setup)",
        "semantics: LTN stable product (AndProd, ImpliesReichenbach, NotStandard, Forall ="
        " pMeanError p=2, eps 1e-4); LTNtorch index variables share labels with the feature"
        " variables; Friends/R are table look-ups",
    ]


def report(ctx, rows, checks, smokers):
    md = ["# nesy rule engine vs LTNtorch", ""] + [f"- {h}" for h in ctx.header] + [""]
    if checks:
        md += ["Value check (both sides on identical inputs):", ""] + render_checks(checks) + [""]
    if rows:
        md += render_rows(rows) + [""]
    if smokers:
        md += render_smokers(smokers, ctx.epochs) + [""]
    judged = [r.passed for r in rows] + [smokers.get("passed") if smokers else None]
    judged = [p for p in judged if p is not None]
    summary = f"targets: {sum(judged)} PASS, {len(judged) - sum(judged)} MISS"
    unjudged = len(rows) + bool(smokers) - len(judged)
    if unjudged:
        summary += f", {unjudged} not judged (a side missing)"
    return "\n".join(md + [summary]), summary


def write_json(path, ctx, rows, checks, smokers, summary):
    """Write atomically: a temporary file beside ``path``, then a rename."""
    data = {"header": ctx.header, "summary": summary, "checks": checks,
            "rows": [dict(asdict(r), speedup=r.speedup) for r in rows], "smokers": smokers}
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bench_logic.", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, default=str)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a result file is not
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None):
    args = parse_args(argv)
    if args.one or args.check:
        return child_main(args)
    limit = QUICK_MAX if args.quick else {p: math.inf for p in SIZES}
    ctx = SimpleNamespace(
        args=args, epochs=args.epochs, budget=args.budget, max_reps=args.max_reps,
        sizes={p: [n for n in ns if n <= limit[p]] for p, ns in SIZES.items()})
    ctx.header = header_lines(ctx)
    checks, rows, smokers = [], [], None
    if "check" in args.only:
        checks = [{"problem": p, **run_child(ctx, ["--check", p])}
                  for p in ("friends", "transitivity", "smokers")]
    for problem in ("friends", "transitivity"):
        if problem in args.only:
            rows += measure_problem(ctx, problem)
    if "smokers" in args.only:
        smokers = run_smokers(ctx)
    text, summary = report(ctx, rows, checks, smokers)
    print(text)
    if args.json:
        write_json(args.json, ctx, rows, checks, smokers, summary)
        print(f"wrote {args.json}")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="N up to 2048 (friends) and 256 (transitivity)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections out of {','.join(SECTIONS)}")
    p.add_argument("--epochs", type=int, default=EPOCHS, help="smokers training epochs")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per measurement (default 10, quick 3)")
    p.add_argument("--max-reps", type=int, default=None, help="timed calls at most (15/7)")
    p.add_argument("--wait-idle", type=float, default=3, metavar="SECONDS",
                   help="before each child, wait up to SECONDS for other processes to go quiet")
    p.add_argument("--retries", type=int, default=1,
                   help="runs of a measurement again when other processes disturbed it")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per child process")
    p.add_argument("--one", nargs=3, metavar=("IMPL", "PROBLEM", "N"),
                   help="child: measure one case (IMPL compiled|nesy|ltn, PROBLEM friends|"
                        "transitivity|smokers; N = epochs for smokers) and print a JSON line")
    p.add_argument("--check", choices=("friends", "transitivity", "smokers"),
                   help="child: compare both sides' values on identical inputs")
    args = p.parse_args(argv)
    args.budget = args.budget or (3.0 if args.quick else 10.0)
    args.max_reps = args.max_reps or (7 if args.quick else 15)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    if set(args.only) - set(SECTIONS):
        p.error(f"unknown sections: {', '.join(sorted(set(args.only) - set(SECTIONS)))}")
    if args.one and (args.one[0] not in BUILDERS or args.one[1] not in (*SIZES, "smokers")):
        p.error("--one IMPL PROBLEM N: IMPL in compiled, nesy, ltn; PROBLEM in friends,"
                " transitivity, smokers")
    return args


if __name__ == "__main__":
    main()
