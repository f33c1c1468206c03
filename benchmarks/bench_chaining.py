"""Transitive closure by forward chaining: nesy vs clingo vs a NumPy bit-matrix fixpoint.

    python benchmarks/bench_chaining.py                  # 1,000, 5,000 and 20,000 nodes
    python benchmarks/bench_chaining.py --quick          # 1,000 and 5,000; clingo at 1,000 only
    python benchmarks/bench_chaining.py --engine dense --sizes 200,500
    python benchmarks/bench_chaining.py --only clingo,numpy --sizes 1000,5000
    python benchmarks/bench_chaining.py --load text      # nesy reads the edges as rule text
    python benchmarks/bench_chaining.py --one nesy 1000  # one measurement, a JSON line

The program, on a random directed graph of N nodes and 3N edges (seeded; no duplicate edges,
no self-loops)::

    Path(x, y) :- Edge(x, y).
    Path(x, z) :- Edge(x, y), Path(y, z).

Runs (``--only`` picks sections):

- ``nesy``: crisp edges, ``kb.infer(engine=...)`` (default semantics), the edges loaded as
  ``--load`` says (default ``rows``, ``kb.add_facts``);
- ``godel``: ``semantics godel.``, each edge with a random degree in {0.01, ..., 1.00};
- ``clingo``: the same rules and facts, ground + solve with clingo's Python API (``--clingo-max``
  caps the size: at 5,000 nodes it needs minutes and gigabytes, at 20,000 it does not fit);
- ``numpy``: the crisp closure as bit-packed rows (``uint64``), semi-naive:
  ``R[x] |= OR_{y in succ(x)} delta[y]``, column block by column block; at sizes up to
  ``--check-max`` also a dense max-min fixpoint over the degrees, to check nesy's Goedel values;
- ``loads``: how long nesy takes to load the 3N edges, per ``--load-modes``: ``text`` (facts
  in the rule text), ``facts`` (``kb.add_fact`` per edge), ``rows`` (``kb.add_facts`` with an
  (E, 2) array of indices), ``truths`` (``kb.set_truths`` with a dense N x N array).

Each (run, N) is a fresh subprocess: nesy first runs the same problem on a 64-node graph (Numba
compiles there), then the graph for N is built, the memory released, and the peak counted
from there: peak = max RSS over loading and inference minus the RSS before loading. A size
whose footprint, extrapolated from the last size (~N^2 atoms), would not fit is not run
(``--ignore-memory-estimate`` runs it anyway). Load time
is measured once; inference is repeated while ``--budget`` allows (at most ``--max-reps``
calls) and the median reported. Path atoms are counted after the timings (nesy: truth >= 0.5
crisp, > 0 Goedel; clingo: its symbolic atoms minus the edges). All runs must give the same
count; up to ``--check-max`` nodes the sets themselves are compared (nesy's from
``kb.relation``), and nesy's Goedel truths with the NumPy max-min closure.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from types import SimpleNamespace

import numpy as np
from bench_logic import (
    current_rss,
    mem_available,
    peak_rss,
    release_memory,
    reset_peak,
    timed,
    version,
)
from benchlib import LoadMeter, cpu_model, fmt_time, memory_gib, usable_cores, wait_until_idle

SIZES = (1000, 5000, 20000)
QUICK_SIZES = (1000, 5000)
SECTIONS = ("nesy", "godel", "clingo", "numpy", "loads")
LOAD_MODES = ("text", "facts", "rows", "truths")
KINDS = ("nesy", "godel", "clingo", "numpy", "numpy-godel", "load")
PREWARM = 64  # nodes of the graph nesy runs first, so that Numba compiles outside the timing
BLOCK_WORDS = 16  # uint64 columns per block of the bit fixpoint: 16 x 8 B rows stay in cache
BLOCK_FLOATS = 1024  # float32 columns per block of the max-min fixpoint
MEMORY_SAFETY = 0.85  # run a size only when its estimated footprint fits in this much RAM
BUSY = 0.2  # cores used by other processes above which a timing is marked suspect
RULES = "Path(x, y) :- Edge(x, y).\nPath(x, z) :- Edge(x, y), Path(y, z).\n"
CLINGO_RULES = "path(X, Y) :- edge(X, Y).\npath(X, Z) :- edge(X, Y), path(Y, Z).\n"


# --- the graph ---------------------------------------------------------------------------
def random_graph(n, degree=3, seed=0):
    """``degree * n`` distinct edges without self-loops, sorted by (source, target), and a
    degree in {0.01, ..., 1.00} for each (float32): ``(src, dst, weight)``."""
    rng = np.random.default_rng([seed, n])
    m = degree * n
    keys = np.empty(0, np.int64)
    while keys.size < m:  # draw more than needed; keep the first occurrence of each pair
        src, dst = rng.integers(0, n, (2, 2 * m))
        keys = np.concatenate([keys, (src * n + dst)[src != dst]])
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)][:m]
    keys = np.sort(keys)
    weight = (rng.integers(1, 101, m) / 100).astype(np.float32)
    return keys // n, keys % n, weight


# --- NumPy reference ---------------------------------------------------------------------
def successor_slots(n, src):
    """Rows renumbered by out-degree, largest first (``rank[node]``), and per slot k the
    edges that are their source's k-th: the sources are then rows ``0 .. c_k - 1`` in order,
    so slot k updates a prefix of the rows with no scatter. Returns (rank, [edge indices])."""
    deg = np.bincount(src, minlength=n)
    rank = np.empty(n, np.intp)
    rank[np.argsort(-deg, kind="stable")] = np.arange(n)
    pos = np.arange(src.size) - np.searchsorted(src, src)  # src is sorted
    slots = []
    for k in range(int(deg.max(initial=0))):
        edges = np.flatnonzero(pos == k)
        slots.append(edges[np.argsort(rank[src[edges]])])
    return rank, slots


def bits_setup(n, src, dst):
    """The edge matrix as bit-packed rows (rows in rank order) and each slot's targets."""
    rank, slots = successor_slots(n, src)
    edges = np.zeros((n, (n + 63) // 64), np.uint64)
    np.bitwise_or.at(edges, (rank[src], dst >> 6), np.uint64(1) << (dst & 63).astype(np.uint64))
    return SimpleNamespace(n=n, rank=rank, edges=edges, targets=[rank[dst[s]] for s in slots])


def bits_closure(g):
    """Least fixpoint of ``R[x] = E[x] | OR_{y in succ(x)} R[y]``, semi-naive, as packed rows
    in node order. Columns are independent, so each block of ``BLOCK_WORDS`` words runs to its
    own fixpoint with its rows in cache."""
    out = np.empty_like(g.edges)
    rounds = 0
    for lo in range(0, g.edges.shape[1], BLOCK_WORDS):
        reach = g.edges[:, lo:lo + BLOCK_WORDS].copy()  # C order; never a view of E
        delta, new, tmp = reach.copy(), np.empty_like(reach), np.empty_like(reach)
        while True:
            rounds += 1
            new[:] = 0
            for targets in g.targets:  # new[x] |= delta[k-th successor of x]
                c = targets.size
                np.take(delta, targets, axis=0, out=tmp[:c])
                new[:c] |= tmp[:c]
            np.bitwise_not(reach, out=tmp)
            new &= tmp  # only what is not known yet
            if not new.any():
                break
            reach |= new
            delta, new = new, delta
        out[:, lo:lo + BLOCK_WORDS] = reach
    return out[g.rank], rounds


def maxmin_setup(n, src, dst, weight):
    rank, slots = successor_slots(n, src)
    edges = np.zeros((n, n), np.float32)
    edges[rank[src], dst] = weight
    return SimpleNamespace(n=n, rank=rank, edges=edges, targets=[rank[dst[s]] for s in slots],
                           weights=[weight[s][:, None] for s in slots])


def maxmin_closure(g):
    """Goedel closure ``P = max(E, max_y min(w(x, y), P[y]))``, dense float32, by rounds
    until nothing changes (only for checking nesy's values)."""
    out = np.empty_like(g.edges)
    rounds = 0
    for lo in range(0, g.n, BLOCK_FLOATS):
        path = g.edges[:, lo:lo + BLOCK_FLOATS].copy()
        while True:
            rounds += 1
            new = path.copy()
            for targets, w in zip(g.targets, g.weights):
                c = targets.size
                np.maximum(new[:c], np.minimum(path[targets], w), out=new[:c])
            if np.array_equal(new, path):
                break
            path = new
        out[:, lo:lo + BLOCK_FLOATS] = path
    return out[g.rank], rounds


# --- the runs (in the child) ---------------------------------------------------------------
def nesy_program(n, godel, edges=None):
    """The rule text; with ``edges`` = (src, dst, weight) the edges as facts in it."""
    text = ("semantics godel.\n" if godel else "") + (
        f"domain Node size {n}.\npredicate Edge(Node, Node).\n" + RULES)
    if edges is None:
        return text
    src, dst, w = (a.tolist() for a in edges)
    if godel:
        return text + "".join(f"{d:.2f} :: Edge({a}, {b}).\n" for a, b, d in zip(src, dst, w))
    return text + "".join(f"Edge({a}, {b}).\n" for a, b in zip(src, dst))


def nesy_load(mode, n, godel, src, dst, weight):
    """A knowledge base with the graph's edges, loaded the way ``mode`` says."""
    import nesy

    w = weight if godel else np.ones_like(weight)
    if mode == "text":
        return nesy.logic.loads(nesy_program(n, godel, (src, dst, w)))
    kb = nesy.logic.loads(nesy_program(n, godel))
    if mode == "facts":
        for a, b, d in zip(src.tolist(), dst.tolist(), w.tolist()):
            kb.add_fact("Edge", a, b, degree=d)
    elif mode == "rows":
        kb.add_facts("Edge", np.stack([src, dst], axis=1), w)
    else:
        table = np.zeros((n, n), np.float32)
        table[src, dst] = w
        kb.set_truths("Edge", table)
    return kb


def nesy_infer(kb, engine):
    import nesy

    with nesy.no_grad():
        return kb.infer(engine=engine)


def nesy_count(kb, godel):
    """Path atoms with truth > 0 (Goedel) or >= 0.5 (crisp), counted without listing them."""
    return kb.count("Path") if godel else kb.count("Path", min_truth=0.5)


def nesy_table(kb, n):
    """Path's truths as a dense N x N array."""
    rows, truths = kb.relation("Path")
    table = np.zeros((n, n), np.float32)
    table[rows[:, 0], rows[:, 1]] = truths
    return table


def measured(load, infer, args, reload=False):
    """Run ``load()`` and time ``infer(state)``, again while ``args.budget`` seconds of
    inference allow (at most ``args.max_reps`` calls; ``reload``: a fresh ``load()`` before
    each call). Times, and the peak above the RSS before the first load; (out, state, result)."""
    release_memory()
    base = current_rss()
    reset_ok = reset_peak()
    loads, infers, state, result = [], [], None, None
    while True:
        if reload or state is None:
            state = None  # free the last one before building the next
            release_memory()
            seconds, state = timed(load)
            loads.append(seconds)
        seconds, result = timed(functools.partial(infer, state))
        infers.append(seconds)
        if len(infers) >= args.max_reps or sum(infers) + infers[-1] > args.budget:
            break
        release_memory()
    return {"load_s": statistics.median(loads), "infer_s": statistics.median(infers),
            "load_times_s": loads, "infer_times_s": infers, "peak_bytes": peak_rss() - base,
            "base_rss_bytes": base, "peak_reset": reset_ok}, state, result


def run_nesy(args, n, godel):
    prewarm = random_graph(PREWARM, args.degree, args.seed)
    nesy_infer(nesy_load(args.load, PREWARM, godel, *prewarm), args.engine)
    src, dst, weight = random_graph(n, args.degree, args.seed)
    out, kb, report = measured(lambda: nesy_load(args.load, n, godel, src, dst, weight),
                               lambda kb: nesy_infer(kb, args.engine), args)
    out["rounds"] = getattr(report, "iterations", None)
    out["engine"] = getattr(report, "engine", args.engine)
    out["atoms"] = nesy_count(kb, godel)
    if args.dump:
        table = nesy_table(kb, n)
        save(args, f"godel-{n}" if godel else f"nesy-{n}",
             table if godel else np.packbits(table >= 0.5, 1, bitorder="little"))
    return out


def run_clingo(args, n):
    import clingo

    src, dst, _ = random_graph(n, args.degree, args.seed)

    def load():
        ctl = clingo.Control(["--warn=none"])
        facts = "".join(f"edge({a},{b}).\n" for a, b in zip(src.tolist(), dst.tolist()))
        ctl.add("base", [], facts + CLINGO_RULES)
        return ctl

    def ground_solve(ctl):
        ctl.ground([("base", [])])
        return str(ctl.solve())

    # a second ground() of the same Control adds nothing: each call gets a fresh one
    out, ctl, result = measured(load, ground_solve, args, reload=True)
    out["result"] = result
    out["atoms"] = len(ctl.symbolic_atoms) - src.size  # every edge is a fact: one atom each
    if args.dump:
        pairs = np.array([[int(a.symbol.arguments[0].number), int(a.symbol.arguments[1].number)]
                          for a in ctl.symbolic_atoms.by_signature("path", 2)]).reshape(-1, 2)
        found = np.zeros((n, n), bool)
        found[pairs[:, 0], pairs[:, 1]] = True
        save(args, f"clingo-{n}", np.packbits(found, 1, bitorder="little"))
    return out


def run_numpy(args, n):
    src, dst, _ = random_graph(n, args.degree, args.seed)
    out, _, (reach, rounds) = measured(lambda: bits_setup(n, src, dst), bits_closure, args)
    out["rounds"] = rounds
    out["atoms"] = int(np.bitwise_count(reach).sum())
    # as uint8 rows, bit j = column j (little order), the format every run's set is saved in
    save(args, f"numpy-{n}", np.ascontiguousarray(reach.view(np.uint8)[:, :(n + 7) // 8]))
    return out


def run_numpy_godel(args, n):
    src, dst, weight = random_graph(n, args.degree, args.seed)
    out, _, (path, rounds) = measured(lambda: maxmin_setup(n, src, dst, weight),
                                      maxmin_closure, args)
    out["rounds"] = rounds
    out["atoms"] = int(np.count_nonzero(path))
    save(args, f"numpy-godel-{n}", path)
    return out


def run_load(args, n):
    """Loading alone (crisp), the way ``--load`` says, after a small load (the parser)."""
    nesy_load(args.load, PREWARM, False, *random_graph(PREWARM, args.degree, args.seed))
    src, dst, weight = random_graph(n, args.degree, args.seed)
    out, _, _ = measured(lambda: nesy_load(args.load, n, False, src, dst, weight),
                         lambda kb: None, SimpleNamespace(budget=0, max_reps=1))
    return out


def save(args, name, array):
    if args.dump:
        np.save(os.path.join(args.dump, name + ".npy"), array)


RUNS = {"nesy": lambda a, n: run_nesy(a, n, False), "godel": lambda a, n: run_nesy(a, n, True),
        "clingo": run_clingo, "numpy": run_numpy, "numpy-godel": run_numpy_godel,
        "load": run_load}


def child_main(args):
    """Run one measurement (``--one KIND N``) and print it as one JSON line."""
    kind, n = args.one[0], int(args.one[1])
    out = {"kind": kind, "n": n}
    try:
        out.update(RUNS[kind](args, n))
    except Exception as e:
        traceback.print_exc()
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out))


# --- the driver (parent process) -----------------------------------------------------------
LABELS = {"nesy": "nesy crisp", "godel": "nesy Goedel", "clingo": "clingo",
          "numpy": "NumPy bits", "numpy-godel": "NumPy max-min (check)"}
RATIO_TO = {"godel": ("nesy", "Goedel/crisp"), "clingo": ("nesy", "clingo/nesy"),
            "numpy": ("nesy", "numpy/nesy"), "numpy-godel": ("godel", "numpy/nesy Goedel")}


def run_child(ctx, kind, n, load=None, dump=None):
    """This script as a child, ``--one kind n``: its JSON line (or an error), the wall time
    and the cores other processes used meanwhile."""
    a = ctx.args
    if a.wait_idle:
        wait_until_idle(a.wait_idle, quiet_s=1.0)
    cmd = [sys.executable, os.path.abspath(__file__), "--one", kind, str(n),
           "--engine", a.engine, "--load", load or a.load, "--budget", str(a.budget),
           "--max-reps", str(a.max_reps), "--seed", str(a.seed), "--degree", str(a.degree)]
    cmd += ["--dump", dump] if dump else []
    t0 = time.perf_counter()
    with LoadMeter() as meter:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
        except subprocess.TimeoutExpired:
            proc = None
    if proc is None:
        out = {"error": f"timed out after {a.timeout} s (--timeout)"}
    else:
        try:
            out = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            why = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
                   else f"exit status {proc.returncode}")
            why += " (out of memory?)" if proc.returncode == -9 else ""
            tail = proc.stderr.strip().splitlines()[-1:]
            out = {"error": why + (f": {tail[0]}" if tail else "")}
    out["wall_s"] = time.perf_counter() - t0
    out["foreign_cores"] = 0.0 if math.isnan(meter.foreign_cores) else meter.foreign_cores
    return out


def skip_reason(ctx, kind, n, history):
    """Why ``kind`` does not run at ``n`` (None: it runs)."""
    past = history.get(kind, [])
    if kind == "clingo" and n > ctx.args.clingo_max:
        why = f"not run: clingo above --clingo-max={ctx.args.clingo_max} nodes"
        if past:
            m, res = past[-1]
            why += (f" (at {m:,} it took {fmt_time(res['load_s'] + res['infer_s'])} and"
                    f" {res['peak_bytes'] / 2**30:.1f} GB here; its ground program grows as the"
                    f" path atoms, ~N^2: ~{res['peak_bytes'] * (n / m) ** 2 / 2**30:.0f} GB)")
        return why
    if not past or ctx.args.ignore_memory_estimate:
        return None
    m, res = past[-1]
    growth = 3 if kind in ("nesy", "godel") and ctx.args.engine == "dense" else 2
    need = res["base_rss_bytes"] + res["peak_bytes"] * (n / m) ** growth
    if need > MEMORY_SAFETY * mem_available():
        return (f"not run: ~{need / 2**30:.0f} GB by extrapolation from {m:,} nodes (N^{growth}),"
                f" above {MEMORY_SAFETY:.0%} of the available memory")
    return None


def measure_size(ctx, n, history):
    """Every run at ``n``, each in a fresh process: {kind or 'load:mode': result}."""
    dump = ctx.dump if n <= ctx.args.check_max else None
    kinds = [k for k in ("nesy", "godel", "clingo", "numpy") if k in ctx.args.only]
    if dump and "godel" in ctx.args.only:
        kinds.append("numpy-godel")
    jobs = [(k, None) for k in kinds]
    if "loads" in ctx.args.only:
        jobs += [("load", mode) for mode in ctx.args.load_modes]
    results = {}
    for kind, mode in jobs:
        key = f"load:{mode}" if mode else kind
        why = skip_reason(ctx, key, n, history)
        if why:
            results[key] = {"skipped": why}
            continue
        print(f"... N={n} {key}", file=sys.stderr, flush=True)
        res = run_child(ctx, kind, n, load=mode, dump=dump)
        if "peak_bytes" in res:
            history.setdefault(key, []).append((n, res))
        results[key] = res
    return results


def check_size(ctx, n, results):
    """Lines saying whether the runs at ``n`` agree: counts; sets and values when dumped."""
    counts = {k: r["atoms"] for k, r in results.items() if "atoms" in r}
    if not counts:
        return []
    shown = ", ".join(f"{LABELS[k]} {v:,}" for k, v in counts.items())
    same = len(set(counts.values())) == 1
    lines = [f"{'PASS' if same else 'MISS'}: N={n:,} path atoms: {shown}"]
    if n > ctx.args.check_max:
        return lines

    def load(name):
        path = os.path.join(ctx.dump, f"{name}-{n}.npy")
        return np.load(path) if os.path.exists(path) else None

    ref = load("numpy")
    for name in ("nesy", "clingo"):
        got = load(name)
        if ref is not None and got is not None:
            ok = got.shape == ref.shape and bool((got == ref).all())
            lines.append(f"{'PASS' if ok else 'MISS'}: N={n:,} {LABELS[name]} gives the same"
                         f" set of path atoms as NumPy" + ("" if ok else " (it does not)"))
    ref, got = load("numpy-godel"), load("godel")
    if ref is not None and got is not None and got.shape == ref.shape:
        diff = float(np.abs(got - ref).max())
        lines.append(f"{'PASS' if diff == 0 else 'MISS'}: N={n:,} nesy Goedel truths vs the"
                     f" NumPy max-min closure: max |diff| {diff:.3g}")
    return lines


# --- reporting ------------------------------------------------------------------------------
def fmt_mb(res):
    return f"{res['peak_bytes'] / 2**20:,.0f}" if "peak_bytes" in res else "-"


def ratio(results, kind, total):
    ref_kind, label = RATIO_TO.get(kind, (None, ""))
    ours, ref = results.get(kind, {}), results.get(ref_kind, {})
    if "infer_s" not in ours or "infer_s" not in ref:
        return "-"
    a, b = ours["infer_s"], ref["infer_s"]
    if total:
        a, b = a + ours["load_s"], b + ref["load_s"]
    return f"{a / b:.3g}x ({label})"


def note(res):
    notes = [res.get("error") or res.get("skipped") or ""]
    if res.get("engine"):
        notes.append(f"{res['engine']} engine")
    if res.get("rounds") and isinstance(res["rounds"], list):
        notes.append(f"{sum(res['rounds'])} rounds")
    if len(res.get("infer_times_s", [])) > 1:
        notes.append(f"{len(res['infer_times_s'])} calls, 1st {fmt_time(res['infer_times_s'][0])}")
    if res.get("foreign_cores", 0) > BUSY:
        notes.append(f"busy: other processes used {res['foreign_cores']:.2f} cores")
    return "; ".join(x for x in notes if x).replace("|", "\\|")


def render_main(ctx, all_results):
    md = ["| nodes | edges | run | path atoms | load | inference | peak MB | ratio, inference"
          " | ratio, load + inference | note |",
          "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for n, results in all_results.items():
        for kind, res in results.items():
            if kind.startswith("load:"):
                continue
            atoms = f"{res['atoms']:,}" if "atoms" in res else "-"
            md.append(f"| {n:,} | {ctx.args.degree * n:,} | {LABELS[kind]} | {atoms}"
                      f" | {fmt_time(res.get('load_s'))} | {fmt_time(res.get('infer_s'))}"
                      f" | {fmt_mb(res)} | {ratio(results, kind, False)}"
                      f" | {ratio(results, kind, True)} | {note(res)} |")
    return md


def render_loads(all_results):
    md = ["| nodes | nesy load mode | load time | peak MB | note |", "|---:|---|---:|---:|---|"]
    for n, results in all_results.items():
        for key, res in results.items():
            if key.startswith("load:"):
                md.append(f"| {n:,} | {key[5:]} | {fmt_time(res.get('load_s'))} | {fmt_mb(res)}"
                          f" | {note(res)} |")
    return md if len(md) > 2 else []


def judge_targets(ctx, all_results):
    """(line, passed or None) per target of the issue."""
    out = []
    at = all_results.get(5000, {})
    if "infer_s" in at.get("nesy", {}) and "infer_s" in at.get("clingo", {}):
        speed = at["clingo"]["infer_s"] / at["nesy"]["infer_s"]
        out.append((f"crisp nesy >= 20x faster than clingo at 5,000 nodes (ground + solve vs"
                    f" infer): {speed:.1f}x", speed >= 20))
    else:
        out.append(("crisp nesy >= 20x faster than clingo at 5,000 nodes: not judged (a run"
                    " missing)", None))
    for n, results in all_results.items():
        crisp, godel = results.get("nesy", {}), results.get("godel", {})
        if "infer_s" in crisp and "infer_s" in godel:
            r = godel["infer_s"] / crisp["infer_s"]
            out.append((f"Goedel within 3x of crisp at {n:,} nodes: {r:.2f}x", r <= 3))
    if 20000 in all_results:
        done = [all_results[20000].get(k, {}) for k in ("nesy", "godel") if k in ctx.args.only]
        ok = all("infer_s" in r for r in done) if done else None
        peaks = ", ".join(fmt_mb(r) + " MB" for r in done if "peak_bytes" in r)
        out.append(("20,000 nodes complete within memory (nesy crisp and Goedel)"
                    + (f": peak {peaks}" if peaks else ""), ok))
    return out


def header_lines(ctx):
    a = ctx.args
    return [
        f"machine: {cpu_model()}, {usable_cores()} usable cores, {memory_gib():.1f} GiB RAM,"
        f" {platform.system()} {platform.release()}",
        f"versions: Python {platform.python_version()}, nesy {version('nesy')}, clingo"
        f" {version('clingo')}, NumPy {np.__version__}, Numba {version('numba')}, SciPy"
        f" {version('scipy')}",
        f"graph: N nodes, {a.degree}N distinct random edges without self-loops (seed {a.seed});"
        " Goedel degrees uniform in {0.01, ..., 1.00}",
        f"nesy: kb.infer(engine={a.engine!r}) under nesy.no_grad(), edges loaded as"
        f" {a.load!r}; crisp runs use the default semantics, Goedel `semantics godel.`",
        "clingo: Python API, load = fact text + Control.add, inference = ground + solve",
        f"NumPy: bit-packed uint64 rows, semi-naive, {BLOCK_WORDS}-word column blocks;"
        " load = building the bit matrix and successor lists",
        "method: each run in a fresh process; load timed once (clingo: once per call);"
        f" inference = median over calls, repeated while {a.budget:g} s allow (at most"
        f" {a.max_reps}); peak = max RSS over loading and inference minus the RSS before"
        " loading (after imports, nesy's 64-node warm-up run and building the graph)",
        "timings are noisy: 2 cores shared with other work; 'busy' marks a run during which"
        f" other processes used more than {BUSY} cores",
    ]


def report(ctx, all_results, checks, targets):
    md = ["# Transitive closure: nesy vs clingo vs NumPy", ""]
    md += [f"- {h}" for h in header_lines(ctx)] + [""] + render_main(ctx, all_results) + [""]
    loads = render_loads(all_results)
    if loads:
        md += ["Loading the edges into nesy (crisp, each mode in a fresh process):", ""]
        md += loads + [""]
    md += ["Checks:", ""] + [f"- {c}" for c in checks] + ["", "Targets:", ""]
    md += [f"- {'-' if p is None else ('PASS' if p else 'MISS')}: {t}" for t, p in targets]
    return "\n".join(md)


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        return child_main(args)
    with tempfile.TemporaryDirectory(prefix="bench_chaining.") as dump:
        ctx = SimpleNamespace(args=args, dump=dump)
        all_results, checks, history = {}, [], {}
        for n in args.sizes:
            all_results[n] = measure_size(ctx, n, history)
            checks += check_size(ctx, n, all_results[n])
    targets = judge_targets(ctx, all_results)
    print(report(ctx, all_results, checks, targets))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header_lines(ctx), "results": all_results, "checks": checks,
                       "targets": targets}, f, indent=2, default=str)
        print(f"wrote {args.json}")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", help=f"comma-separated node counts (default"
                   f" {','.join(map(str, SIZES))}; --quick {','.join(map(str, QUICK_SIZES))})")
    p.add_argument("--quick", action="store_true",
                   help="sizes 1000,5000, clingo at 1,000 only, 3 s and 3 calls per run")
    p.add_argument("--engine", default="sparse", choices=("sparse", "dense", "auto"),
                   help="nesy's inference engine, kb.infer(engine=...)")
    p.add_argument("--load", default="rows", choices=LOAD_MODES,
                   help="how nesy gets the edges in the nesy/godel runs")
    p.add_argument("--load-modes", default=",".join(LOAD_MODES),
                   help="modes the 'loads' section compares")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections out of {','.join(SECTIONS)}")
    p.add_argument("--clingo-max", type=int, default=None,
                   help="largest N clingo runs at (default 5000; --quick 1000)")
    p.add_argument("--check-max", type=int, default=1000,
                   help="largest N at which sets and Goedel truths are compared")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per child process")
    p.add_argument("--ignore-memory-estimate", action="store_true",
                   help="run a size even when extrapolating the last one says it will not fit")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of inference calls per run (default 10, --quick 3)")
    p.add_argument("--max-reps", type=int, default=None, help="calls at most (default 5/3)")
    p.add_argument("--wait-idle", type=float, default=3, metavar="SECONDS",
                   help="before each child, wait up to SECONDS for other processes to go quiet")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--degree", type=int, default=3, help="edges per node")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.add_argument("--one", nargs=2, metavar=("KIND", "N"),
                   help=f"child: one run ({', '.join(KINDS)}) at N nodes, a JSON line")
    p.add_argument("--dump", metavar="DIR", help="child: save the closure there for the checks")
    args = p.parse_args(argv)
    args.sizes = [int(x) for x in (args.sizes or ",".join(
        map(str, QUICK_SIZES if args.quick else SIZES))).split(",") if x.strip()]
    args.clingo_max = args.clingo_max or (1000 if args.quick else 5000)
    args.budget = args.budget if args.budget is not None else (3.0 if args.quick else 10.0)
    args.max_reps = args.max_reps or (3 if args.quick else 5)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    args.load_modes = [s.strip() for s in args.load_modes.split(",") if s.strip()]
    for bad, allowed, what in ((set(args.only) - set(SECTIONS), SECTIONS, "sections"),
                               (set(args.load_modes) - set(LOAD_MODES), LOAD_MODES, "load modes")):
        if bad:
            p.error(f"unknown {what}: {', '.join(sorted(bad))} (choose from {', '.join(allowed)})")
    if args.one and args.one[0] not in KINDS:
        p.error(f"--one KIND N: KIND in {', '.join(KINDS)}")
    return args


if __name__ == "__main__":
    main()
