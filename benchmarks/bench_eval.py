"""Cases per second of ``nesy eval`` on smokers-sized cases, and how each case gets its copy.

    python benchmarks/bench_eval.py                  # 10,000 cases; copy strategies on 1,000
    python benchmarks/bench_eval.py --cases 2000 --subset 200   # quicker
    python benchmarks/bench_eval.py --json out.json  # also write the rows as JSON

Cases are ``rules/smokers.nesy`` (14 people, 3 neural predicates, 6 rules, 2 queries) with
0-6 random facts each (``Smokes``, ``Cancer``, ``Friends``; some negated, some graded),
seeded. Rows:

- ``nesy eval`` end to end in a subprocess, single process, wall time including the
  interpreter's start, and the same engine in this process (``nesy.evaluation.Run``);
- ``nesy eval --scheduler local:2`` (a Dask cluster of 2 worker processes started by the
  command, its start included) when ``nesy.distributed`` and Dask are installed;
- how a case gets its knowledge base (``Template(strategy=...)``), each with and without
  reuse of the truths a case does not touch, on a subset: ``fork`` copies only the
  containers a case changes, ``deepcopy`` copies the whole template, ``rebuild`` makes a new
  ``KnowledgeBase`` from the checked program and loads the parameters; ``load`` is the naive
  way, ``nesy.logic.load`` per case (parsing the rule file each time), on 50 cases.

Checks: every strategy gives the same rows, and ``local:2`` writes the same file byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import nesy  # noqa: E402
from nesy import evaluation as ev  # noqa: E402

SMOKERS = os.path.join(ROOT, "rules", "smokers.nesy")
PEOPLE = "abcdefghijklmn"


def make_cases(n, seed=0):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        facts = []
        for _ in range(rng.randint(0, 6)):
            predicate = rng.choice(["Smokes", "Cancer", "Friends"])
            args = rng.choice(PEOPLE)
            if predicate == "Friends":
                args += ", " + rng.choice(PEOPLE)
            prefix = rng.choice(["", "", "", "not ", f"{rng.randint(1, 9) / 10} :: "])
            facts.append(f"{prefix}{predicate}({args}).")
        lines.append(json.dumps({"id": f"case{i}", "facts": " ".join(facts)}))
    return lines


def cli(cases, out, *extra):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "nesy", "eval", SMOKERS, "--data", cases,
                             "--out", out, "--quiet", *extra], capture_output=True, text=True,
                            cwd=ROOT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"nesy eval {' '.join(extra)} failed:\n{result.stderr}")
    return seconds


def in_process(cases, out):
    start = time.perf_counter()
    template = ev.Template.load(SMOKERS)
    ev.Run(template, cases, out).run()
    return time.perf_counter() - start


def strategy(lines, name, reuse):
    template = ev.Template.load(SMOKERS, strategy=name, reuse=reuse)
    chunk = [(i, ev.CaseSource(line, "json", f"case:{i}", i)) for i, line in enumerate(lines)]
    ev.evaluate_chunk(template, chunk[:5])  # warm-up: kernels compiled, caches filled
    start = time.perf_counter()
    rows = ev.evaluate_chunk(template, chunk)
    return time.perf_counter() - start, rows


def naive(lines):
    """``nesy.logic.load`` per case, facts added with ``kb.add_fact``."""
    start = time.perf_counter()
    for line in lines:
        nesy.manual_seed(0)
        kb = nesy.logic.load(SMOKERS)
        kb.eval()
        for predicate, names, degree, _ in ev.parse_case(
                ev.CaseSource(line, "json", "", 0)).facts:
            kb.add_fact(predicate, *names, degree=degree)
        with nesy.no_grad():
            kb.satisfaction()
            kb.rule_truths()
            for query in kb.queries:
                kb.truth(query)
    return time.perf_counter() - start


def has_dask():
    try:
        import distributed  # noqa: F401

        import nesy.distributed  # noqa: F401
    except ImportError as e:
        return str(e)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases (default 10,000)")
    parser.add_argument("--subset", type=int, default=1_000,
                        help="cases for the strategy comparison (default 1,000)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    rows, checks, notes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        lines = make_cases(args.cases)
        cases = os.path.join(tmp, "cases.jsonl")
        with open(cases, "w") as f:
            f.write("\n".join(lines) + "\n")
        n = args.cases
        seconds = cli(cases, os.path.join(tmp, "single.jsonl"))
        rows.append(("nesy eval, single process (wall, with start-up)", n, seconds))
        seconds = in_process(cases, os.path.join(tmp, "engine.jsonl"))
        rows.append(("nesy.evaluation.Run in process (template + cases)", n, seconds))
        missing = has_dask()
        if missing is None:
            seconds = cli(cases, os.path.join(tmp, "local2.jsonl"), "--scheduler", "local:2",
                          "--chunk-size", "250")
            rows.append(("nesy eval --scheduler local:2 (wall, cluster start-up included)",
                         n, seconds))
            same = _same(os.path.join(tmp, "single.jsonl"), os.path.join(tmp, "local2.jsonl"))
            checks.append(("local:2 writes the same file as one process", same))
        else:
            notes.append(f"local:2 row skipped: {missing}")
        subset = lines[: args.subset]
        reference = None
        for name in ev.STRATEGIES:
            for reuse in (True, False):
                seconds, result = strategy(subset, name, reuse)
                label = f"per case: {name}" + (" + reuse untouched truths" if reuse else "")
                rows.append((label, len(subset), seconds))
                reference = reference or result
                checks.append((f"{label}: same rows", result == reference))
        few = lines[:50]
        rows.append(("per case: nesy.logic.load (naive)", len(few), naive(few)))
    print(_table(rows, checks, notes))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": [{"what": w, "cases": c, "seconds": s} for w, c, s in rows],
                       "checks": dict(checks), "notes": notes}, f, indent=2)
    return 0 if all(ok for _, ok in checks) else 1


def _same(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def _table(rows, checks, notes):
    lines = [
        f"# nesy eval: smokers-sized cases ({platform.python_version()}, NumPy "
        f"{np.__version__}, {os.cpu_count()} CPUs)",
        "",
        "| what | cases | seconds | cases/s | ms/case |",
        "|---|---:|---:|---:|---:|",
    ]
    for what, n, seconds in rows:
        lines.append(f"| {what} | {n:,} | {seconds:.2f} | {n / seconds:,.0f} | "
                     f"{1000 * seconds / n:.2f} |")
    lines.append("")
    lines.extend(f"- {'PASS' if ok else 'FAIL'}: {what}" for what, ok in checks)
    lines.extend(f"- note: {note}" for note in notes)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
