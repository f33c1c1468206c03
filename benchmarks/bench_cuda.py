"""Benchmark nesy's CUDA backend on a real GPU, against its CPU backend and PyTorch on the GPU.

    python benchmarks/bench_cuda.py                  # needs a GPU: pip install "nesy[cuda]"
    python benchmarks/bench_cuda.py --json out.json  # also write the results as JSON
    python benchmarks/bench_cuda.py --smoke          # tiny sizes under NUMBA_ENABLE_CUDASIM=1:
                                                     # checks the script runs, measures nothing

Measured, each as the median of timed calls after a warm-up call (``cuda.synchronize()``
around each):

- bandwidth: large elementwise ops (add, sigmoid, where) and reductions (sum of everything,
  over rows, over columns), as bytes moved per second and as a fraction of a device-to-device
  copy of the same size measured in the same run;
- matmul: GFLOP/s of square float32 products;
- logic: forward and backward of ``1 - satisfaction`` for Friends/Smokes and transitivity of
  ``bench_logic.py``, growing N until the GPU runs out of memory (the largest N that fits),
  eagerly and compiled (``compiled=True``: the generated ``numba.cuda`` kernels, which keep
  no grounding tensors, so they go on where the eager path no longer fits).

Each line also gives nesy's CPU backend (eager, and compiled: the CPU's generated kernels)
and, when ``torch.cuda`` works, PyTorch on the same GPU. Without a GPU the script says so and
exits; it never reports a number it did not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
FRIENDS_SMOKES = "forall x, y: (Friends(x, y) and Smokes(x)) -> Smokes(y)"
TRANSITIVITY = "forall x, y, z: (R(x, y) and R(y, z)) -> R(x, z)"
SMOKES_SIZES = [8, 16, 16, 1]


def median_time(fn, sync, reps=10, budget_s=2.0):
    """Median seconds of ``fn()`` after one warm-up call, ``sync()`` closing each call."""
    fn()
    sync()
    times, start = [], time.perf_counter()
    while len(times) < reps and (time.perf_counter() - start < budget_s or len(times) < 3):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


# --- bandwidth -----------------------------------------------------------------------------
def bandwidth(n, sync, torch):
    from numba import cuda

    import nesy

    rng = np.random.default_rng(0)
    host = [rng.standard_normal(n).astype(np.float32) for _ in range(2)]
    a, b = (nesy.tensor(h, device="cuda") for h in host)
    ca, cb = (nesy.tensor(h) for h in host)
    src, dst = cuda.to_device(host[0]), cuda.device_array(n, np.float32)
    copy_s = median_time(lambda: dst.copy_to_device(src), sync)
    copy_bw = 2 * n * 4 / copy_s
    rows = [{"op": "device-to-device copy", "bytes": 2 * n * 4, "gpu_s": copy_s,
             "gb_s": copy_bw / 1e9, "of_copy": 1.0}]
    mat = a.reshape(-1, 4096) if n % 4096 == 0 else a.reshape(1, -1)
    cases = [
        ("add", 3, lambda x, y, m: x + y),
        ("sigmoid", 2, lambda x, y, m: x.sigmoid()),
        ("where", 4, lambda x, y, m: nesy.where(x > 0, x, y) if m is nesy else
         m.where(x > 0, x, y)),
        ("sum (all)", 1, lambda x, y, m: x.sum()),
        ("sum (rows)", 1, lambda x, y, m: (x.reshape(mat.shape)).sum(1)),
        ("sum (columns)", 1, lambda x, y, m: (x.reshape(mat.shape)).sum(0)),
    ]
    ta = tb = None
    if torch is not None:
        ta, tb = (torch.from_numpy(h).cuda() for h in host)
    for name, passes, fn in cases:
        s = median_time(lambda fn=fn: fn(a, b, nesy), sync)
        row = {"op": name, "bytes": passes * n * 4, "gpu_s": s,
               "gb_s": passes * n * 4 / s / 1e9, "of_copy": passes * n * 4 / s / copy_bw,
               "cpu_s": median_time(lambda fn=fn: fn(ca, cb, nesy), lambda: None, reps=5)}
        if torch is not None:
            row["torch_s"] = median_time(lambda fn=fn: fn(ta, tb, torch),
                                         torch.cuda.synchronize)
        rows.append(row)
    return rows


# --- matmul ----------------------------------------------------------------------------------
def matmul_rates(sizes, sync, torch):
    import nesy

    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        ha, hb = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
        a, b = nesy.tensor(ha, device="cuda"), nesy.tensor(hb, device="cuda")
        ca, cb = nesy.tensor(ha), nesy.tensor(hb)
        s = median_time(lambda a=a, b=b: a @ b, sync)
        row = {"n": n, "gpu_s": s, "gflop_s": 2 * n**3 / s / 1e9,
               "cpu_s": median_time(lambda a=ca, b=cb: a @ b, lambda: None, reps=3)}
        if torch is not None:
            ta, tb = torch.from_numpy(ha).cuda(), torch.from_numpy(hb).cuda()
            row["torch_s"] = median_time(lambda a=ta, b=tb: a @ b, torch.cuda.synchronize)
        rows.append(row)
    return rows


# --- logic -----------------------------------------------------------------------------------
def logic_step(problem, n, device, compiled=False):
    """A zero-argument step (forward + backward of 1 - satisfaction) for nesy on ``device``
    (``compiled``: by the generated kernels of the device)."""
    import nesy

    nesy.manual_seed(0)
    rng = np.random.default_rng([0, n])
    if problem == "friends":
        mlp = nesy.nn.MLP(SMOKES_SIZES, activation="elu", output_activation="sigmoid").to(device)
        feats = nesy.tensor(rng.standard_normal((n, 8), dtype=np.float32), device=device)
        friends = nesy.tensor(rng.random((n, n), dtype=np.float32), device=device)

        def step():
            mlp.zero_grad()
            smokes = mlp(feats).reshape(-1)
            sat = nesy.logic.evaluate(FRIENDS_SMOKES, {"Friends": friends, "Smokes": smokes},
                                      semantics="product", compiled=compiled)
            (1 - sat).backward()
            return sat
    else:
        R = nesy.tensor(rng.random((n, n), dtype=np.float32), requires_grad=True, device=device)

        def step():
            R.grad = None
            sat = nesy.logic.evaluate(TRANSITIVITY, {"R": R}, semantics="product",
                                      compiled=compiled)
            (1 - sat).backward()
            return sat
    return step


def torch_logic_step(problem, n, torch):
    import ltn_reference as ref

    torch.manual_seed(0)
    rng = np.random.default_rng([0, n])
    if problem == "friends":
        model = ref.mlp(SMOKES_SIZES).cuda()
        satisfaction = ref.friends_smokes(
            torch.from_numpy(rng.standard_normal((n, 8), dtype=np.float32)).cuda(),
            torch.from_numpy(rng.random((n, n), dtype=np.float32)).cuda(), model)
        params = list(model.parameters())
    else:
        R = torch.from_numpy(rng.random((n, n), dtype=np.float32)).cuda().requires_grad_()
        satisfaction, params = ref.transitivity(R), [R]

    def step():
        for p in params:
            p.grad = None
        (1 - satisfaction()).backward()

    return step


def _out_of_memory(exc):
    text = str(exc)
    return "OUT_OF_MEMORY" in text.upper() or "out of memory" in text


def logic(problem, sizes, sync, torch, cpu_max, cpu_compiled_max):
    """Per N: eager and compiled on the GPU, the same on the CPU while N is small enough,
    PyTorch; past the N where the eager GPU path runs out of memory, the compiled one only."""
    rows, eager_fits = [], True
    for n in sizes:
        row = {"n": n}
        if eager_fits:
            try:
                row["gpu_s"] = median_time(logic_step(problem, n, "cuda"), sync, reps=5)
            except Exception as exc:  # numba's out-of-memory error
                if not _out_of_memory(exc):
                    raise
                row["note"] = "eager does not fit in GPU memory"
                eager_fits = False
        try:
            row["gpu_compiled_s"] = median_time(logic_step(problem, n, "cuda", compiled=True),
                                                sync, reps=5)
        except Exception as exc:
            if not _out_of_memory(exc):
                raise
            rows.append({"n": n, "note": "does not fit in GPU memory, even compiled"})
            break
        if n <= cpu_max and eager_fits:
            row["cpu_s"] = median_time(logic_step(problem, n, "cpu"), lambda: None, reps=3)
        if n <= cpu_compiled_max:
            row["cpu_compiled_s"] = median_time(logic_step(problem, n, "cpu", compiled=True),
                                                lambda: None, reps=3)
        if torch is not None and eager_fits:
            try:
                row["torch_s"] = median_time(torch_logic_step(problem, n, torch),
                                             torch.cuda.synchronize, reps=5)
            except (RuntimeError, ImportError) as exc:  # PyTorch out of memory, or no ltn
                row["torch_note"] = str(exc).splitlines()[0][:80]
        rows.append(row)
    return rows


# --- report ----------------------------------------------------------------------------------
def _ms(s):
    return "-" if s is None else f"{s * 1e3:.3f} ms"


def report(results):
    print(f"device: {results['device']}")
    print("\nbandwidth (fraction of a device-to-device copy of the same size)")
    for r in results["bandwidth"]:
        print(f"  {r['op']:<22} {_ms(r['gpu_s']):>12} {r['gb_s']:8.1f} GB/s "
              f"{r['of_copy']:6.2f}   cpu {_ms(r.get('cpu_s')):>12}   "
              f"torch {_ms(r.get('torch_s')):>12}")
    print("\nmatmul (float32)")
    for r in results["matmul"]:
        print(f"  n={r['n']:<6} {_ms(r['gpu_s']):>12} {r['gflop_s']:9.1f} GFLOP/s   "
              f"cpu {_ms(r.get('cpu_s')):>12}   torch {_ms(r.get('torch_s')):>12}")
    for problem in ("friends", "transitivity"):
        print(f"\n{problem} (forward + backward; compiled: the generated kernels)")
        for r in results[problem]:
            if "gpu_compiled_s" not in r:
                print(f"  N={r['n']:<6} {r['note']}")
                continue
            print(f"  N={r['n']:<6} gpu {_ms(r.get('gpu_s')):>12}   "
                  f"gpu compiled {_ms(r['gpu_compiled_s']):>12}   "
                  f"cpu {_ms(r.get('cpu_s')):>12}   "
                  f"cpu compiled {_ms(r.get('cpu_compiled_s')):>12}   "
                  f"torch {_ms(r.get('torch_s')):>12} {r.get('note', '')}"
                  f"{r.get('torch_note', '')}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes under the simulator: check the script, measure nothing")
    args = parser.parse_args(argv)
    import nesy

    if args.smoke != nesy.cuda.is_simulator() or not nesy.cuda.is_available():
        print("bench_cuda: no CUDA GPU found (nesy.cuda.is_available() is False, or numba's "
              "simulator is on): nothing measured. Run on a machine with an NVIDIA GPU after "
              'pip install "nesy[cuda]" (--smoke runs tiny sizes under NUMBA_ENABLE_CUDASIM=1).',
              file=sys.stderr)
        return 0
    from numba import cuda

    torch = None if args.smoke else _torch_cuda()
    sync = nesy.cuda.synchronize
    if args.smoke:
        sizes = dict(n=1 << 12, matmul=(16,), friends=(8, 16), transitivity=(4, 8), cpu_max=16,
                     cpu_compiled_max=dict(friends=16, transitivity=8))
    else:
        sizes = dict(n=1 << 26, matmul=(1024, 4096), cpu_max=2048,
                     cpu_compiled_max=dict(friends=16384, transitivity=1024),
                     friends=(1024, 4096, 8192, 16384, 32768, 65536),
                     transitivity=(128, 256, 512, 768, 1024, 1536, 2048))
    name = "simulator" if args.smoke else cuda.get_current_device().name
    results = {"device": name.decode() if isinstance(name, bytes) else str(name)}
    results["bandwidth"] = bandwidth(sizes["n"], sync, torch)
    results["matmul"] = matmul_rates(sizes["matmul"], sync, torch)
    for problem in ("friends", "transitivity"):
        results[problem] = logic(problem, sizes[problem], sync, torch, sizes["cpu_max"],
                                 sizes["cpu_compiled_max"][problem])
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
