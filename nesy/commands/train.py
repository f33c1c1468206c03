"""``nesy train RULES``: train a rule file's learned parameters, with checkpoints to resume.

The loop is ``nesy.train``'s (``zero_grad``, ``loss``, ``backward``, ``step``) with two
additions: epochs are counted across resumed runs, and Ctrl-C never lands inside an
optimizer step, so a checkpoint written on interrupt holds the parameters of whole epochs.

A checkpoint (``--checkpoint OUT.npz``) is one ``nesy.save`` file (an ``.npz``, no pickle,
written atomically) holding a dict::

    format       "nesy-train"             version   1
    rules        the rule file as given    epoch     epochs trained in all
    parameters   {name: shape}, of every entry of model
    fingerprint  sha256 of the sorted (name, shape) pairs: the rule file's parameters
    model        kb.state_dict()           optimizer {"name": "adam" | "sgd",
    semantics    --semantics or None                  "state": optimizer.state_dict()}
    seed         --seed                    rng       the random generator's state (dropout)
    history      {"satisfaction": [...], "loss": [...]}: float64 arrays, one value an epoch

In Python: ``kb.load_state_dict(nesy.load("OUT.npz")["model"])``. Resuming restores the
parameters, the optimizer state and the random generator, so 20 + 20 epochs end where 40
epochs in one run end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import sys

from . import int_at_least

FORMAT, VERSION = "nesy-train", 1
DEFAULT_LR = 0.01

EXAMPLES = """\
examples:
  nesy train rules/smokers.nesy                     100 epochs of Adam, lr 0.01
  nesy train rules/smokers.nesy --epochs 1000 --lr 0.001 --seed 1
  nesy train rules/smokers.nesy --semantics godel --optimizer sgd --lr 0.1
  nesy train rules/smokers.nesy --epochs 500 --checkpoint smokers.npz
  nesy train rules/smokers.nesy --epochs 500 --resume smokers.npz --checkpoint smokers.npz
  nesy train rules/smokers.nesy --resume smokers.npz --epochs 0    only print the truths

output: a progress bar on stderr (only on a terminal; --quiet hides it, --progress forces
it), then on stdout every rule with its weight and truth, and the satisfaction.

checkpoints: --checkpoint writes an .npz (nesy.save; atomic, no pickle) with the knowledge
base's state_dict ('model'), the optimizer state, the epoch count and a fingerprint of the
rule file's parameter names and shapes; load it in Python with nesy.load(PATH). --resume
continues from one: epochs count on from it, and the optimizer, its learning rate and the
semantics default to the checkpoint's. Ctrl-C stops training (never inside an optimizer
step), writes the checkpoint of the epochs done (with --checkpoint) and exits with 130.

exit status: 0 done, 1 error (a rule file with errors prints the checker's messages),
2 usage error, 130 interrupted.
"""


class TrainError(Exception):
    """A problem the user can fix (printed as one line, without a traceback)."""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train the learned predicates, functions and embeddings of a rule file",
        description="Train the learned parameters of a rule file (neural predicates and\n"
        "functions, embeddings) to satisfy its rules and facts, then print the truth of\n"
        "every rule.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rules", metavar="RULES", help="the rule file (*.nesy) to train")
    parser.add_argument("--epochs", type=int_at_least(0), default=100, metavar="N",
                        help="epochs to train (this run; default 100)")
    parser.add_argument("--lr", type=_positive_float, default=None, metavar="LR",
                        help=f"learning rate (default {DEFAULT_LR}, or the checkpoint's "
                        "with --resume)")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default=None,
                        help="adam (default) or sgd; with --resume, the checkpoint's")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="random seed for the initial parameters (default 0); the same "
                        "seed gives the same run")
    parser.add_argument("--semantics", metavar="NAME", default=None,
                        help="a semantics preset (product, godel, lukasiewicz) instead of "
                        "the file's; with --resume, the checkpoint's")
    parser.add_argument("--checkpoint", metavar="OUT.npz",
                        help="write the trained state here at the end (and on Ctrl-C)")
    parser.add_argument("--resume", metavar="CKPT.npz",
                        help="continue from a checkpoint of the same rule file")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--quiet", action="store_true",
                       help="no progress bar and no warnings on stderr")
    shown.add_argument("--progress", action="store_true",
                       help="show the progress bar even when stderr is not a terminal")
    parser.set_defaults(handler=run)
    return parser


def _positive_float(text):
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def run(args):
    import nesy

    try:
        return _run(args, nesy)
    except TrainError as e:
        if args.debug:
            raise
        print(f"nesy: error: {e}", file=sys.stderr)
        return 1


def _run(args, nesy):
    saved = read_checkpoint(args.resume) if args.resume else None
    if args.checkpoint:
        _check_writable(args.checkpoint)
    semantics = args.semantics or (saved["semantics"] if saved else None)
    nesy.manual_seed(args.seed)
    kb = _load(args.rules, semantics, args.quiet)
    params = list(kb.parameters())
    if not params:
        raise TrainError(f"nothing to train: {args.rules} has no learned parameters (declare "
                         "an embedding, or a predicate or function '= mlp')")
    name = args.optimizer or (saved["optimizer"]["name"] if saved else "adam")
    optimizer = _optimizer(nesy, name, params, args.lr or DEFAULT_LR)
    state = {"epoch": 0, "satisfaction": [], "loss": [], "seed": args.seed,
             "semantics": semantics, "optimizer": name}
    if saved:
        _restore(saved, kb, optimizer, state, args)
    try:
        with _Interrupts() as interrupts:
            _loop(kb, optimizer, args.epochs, state, interrupts, _progress(args))
    except KeyboardInterrupt:
        if args.checkpoint:
            _save(args.checkpoint, args.rules, kb, optimizer, state, nesy)
        where = f"; checkpoint written to {args.checkpoint}" if args.checkpoint else ""
        print(f"nesy: interrupted after epoch {state['epoch']}{where}", file=sys.stderr)
        return 130
    if args.checkpoint:
        _save(args.checkpoint, args.rules, kb, optimizer, state, nesy)
        if not args.quiet:
            print(f"checkpoint: {args.checkpoint} (epoch {state['epoch']})", file=sys.stderr)
    print(truth_table(kb, state["epoch"]))
    return 0


def _progress(args):
    return False if args.quiet else (True if args.progress else None)


def _load(path, semantics, quiet):
    import nesy

    try:
        kb = nesy.logic.load(path, semantics=semantics)
    except OSError as e:
        raise TrainError(f"cannot read rule file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise TrainError(f"cannot read rule file {path}: not UTF-8 text ({e.reason})") from None
    if not quiet:
        for warning in kb.program.warnings:
            print(warning.format(), file=sys.stderr)
    return kb


def _optimizer(nesy, name, params, lr):
    if name == "sgd":
        return nesy.optim.SGD(params, lr=lr)
    return nesy.optim.Adam(params, lr=lr)


def _loop(kb, optimizer, epochs, state, interrupts, progress):
    """``epochs`` steps; ``state`` counts epochs and records satisfaction and loss."""
    from nesy.progress import Progress

    bar = Progress(epochs, enabled=progress, unit="epochs")
    resumed = state["epoch"] > 0  # then the bar also shows the epoch counted from the start
    kb.train()
    try:
        for i in range(epochs):
            optimizer.zero_grad()
            loss = kb.loss()
            loss.backward()
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainError(f"the loss became {value} at epoch {state['epoch'] + 1} "
                                 "(try a smaller --lr); nothing was written")
            with interrupts.deferred():  # a checkpoint never holds half a step
                optimizer.step()
                state["epoch"] += 1
                state["loss"].append(value)
                state["satisfaction"].append(1.0 - value)
            extra = {"epoch": state["epoch"]} if resumed else {}
            bar.update(i + 1, sat=1.0 - value, loss=value, **extra)
    finally:
        bar.close()
        kb.eval()


class _Interrupts:
    """SIGINT raises ``KeyboardInterrupt`` at once, except inside ``deferred()``: there it
    waits for the block to end (an optimizer step updates the parameters one by one)."""

    def __enter__(self):
        self.critical = self.pending = False
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _handle(self, signum, frame):
        if not self.critical:
            raise KeyboardInterrupt
        self.pending = True

    def deferred(self):
        return _Deferred(self)


class _Deferred:
    def __init__(self, interrupts):
        self.interrupts = interrupts

    def __enter__(self):
        self.interrupts.critical = True

    def __exit__(self, *exc):
        self.interrupts.critical = False
        if self.interrupts.pending and exc[0] is None:
            raise KeyboardInterrupt


def truth_table(kb, epochs):
    """Every rule's weight and truth, closed queries' truths, and the satisfaction."""
    import nesy

    truths = kb.rule_truths()
    with nesy.no_grad():
        satisfaction = float(kb.satisfaction().item())
    rows = [("rule", "weight", "truth")]
    rows += [(n, f"{kb.weights[n]:g}", "?" if t is None else f"{t:.4f}") for n, t in truths.items()]
    rows += [(f"query {n}", "-", t) for n, t in _closed_queries(kb).items()]
    width = max(len(r[0]) for r in rows)
    lines = [f"{n:<{width}}  {w:>6}  {t:>6}" for n, w, t in rows]
    lines.append(f"satisfaction: {satisfaction:.4f} after {epochs} epoch{'s' * (epochs != 1)}")
    return "\n".join(lines)


def _closed_queries(kb):
    """``{name: truth as text}`` of the queries without free variables."""
    import nesy

    out = {}
    with nesy.no_grad():
        for name in kb.queries:
            try:
                truth = kb.truth(name)
            except (ValueError, TypeError):
                continue
            if truth.ndim == 0:
                out[name] = f"{float(truth.item()):.4f}"
    return out


# --- checkpoints ---------------------------------------------------------------------------


def parameter_shapes(kb):
    """``{name: [shape]}`` of every entry of ``kb.state_dict()``."""
    return {k: [int(n) for n in v.shape] for k, v in kb.state_dict().items()}


def fingerprint(shapes):
    """A sha256 of the parameters' names and shapes: equal for the same rule file."""
    text = json.dumps(sorted(shapes.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _check_writable(path):
    """Fail before training, not after it, when the checkpoint cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise TrainError(f"cannot write checkpoint {path}: it is a folder")
    if not os.path.isdir(folder):
        raise TrainError(f"cannot write checkpoint {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise TrainError(f"cannot write checkpoint {path}: no permission to write in {folder}")


def _save(path, rules, kb, optimizer, state, nesy):
    import numpy as np

    shapes = parameter_shapes(kb)
    data = {
        "format": FORMAT, "version": VERSION, "rules": rules, "epoch": state["epoch"],
        "parameters": shapes, "fingerprint": fingerprint(shapes),
        "model": dict(kb.state_dict()),
        "optimizer": {"name": state["optimizer"], "state": optimizer.state_dict()},
        "semantics": state["semantics"], "seed": state["seed"],
        "rng": nesy.generator().bit_generator.state,
        "history": {k: np.asarray(state[k], dtype=np.float64) for k in ("satisfaction", "loss")},
    }
    try:
        nesy.save(data, path)
    except OSError as e:
        raise TrainError(f"cannot write checkpoint {path}: {e.strerror or e}") from None


def read_checkpoint(path):
    """The checkpoint dict at ``path``, checked to be one ``nesy train`` wrote."""
    import nesy

    try:
        saved = nesy.load(path)
    except OSError as e:
        raise TrainError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise TrainError(f"cannot resume from {path}: {e}") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise TrainError(f"cannot resume from {path}: not a checkpoint of 'nesy train' "
                         "(write one with --checkpoint)")
    if not isinstance(saved.get("version"), int) or saved["version"] > VERSION:
        raise TrainError(f"cannot resume from {path}: checkpoint version {saved.get('version')}"
                         f" is newer than this nesy reads ({VERSION})")
    missing = [k for k in _REQUIRED if k not in saved]
    if missing:
        raise TrainError(f"cannot resume from {path}: the checkpoint lacks {', '.join(missing)}")
    return saved


_REQUIRED = ("epoch", "parameters", "fingerprint", "model", "optimizer", "semantics", "rng",
             "history")


def _restore(saved, kb, optimizer, state, args):
    import nesy

    shapes = parameter_shapes(kb)
    if saved["fingerprint"] != fingerprint(shapes):
        raise TrainError(_mismatch(args.resume, args.rules, saved["parameters"], shapes))
    kb.load_state_dict(saved["model"])
    if state["optimizer"] != saved["optimizer"]["name"]:
        raise TrainError(f"{args.resume} was trained with {saved['optimizer']['name']}; resume "
                         f"with --optimizer {saved['optimizer']['name']} (or leave it out)")
    try:
        optimizer.load_state_dict(saved["optimizer"]["state"])
    except (KeyError, ValueError) as e:
        raise TrainError(f"cannot resume from {args.resume}: bad optimizer state ({e})") from None
    if args.lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = args.lr
    nesy.generator().bit_generator.state = saved["rng"]
    state["epoch"] = int(saved["epoch"])
    for key in ("satisfaction", "loss"):
        state[key] = [float(x) for x in saved["history"][key].tolist()]


def _mismatch(checkpoint, rules, saved, current):
    """Which parameters differ between a checkpoint and a rule file, by name."""
    parts = []
    only_saved = [k for k in saved if k not in current]
    only_rules = [k for k in current if k not in saved]
    shapes = [f"{k} {tuple(saved[k])} in the checkpoint, {tuple(current[k])} in the rule file"
              for k in current if k in saved and list(saved[k]) != current[k]]
    if only_saved:
        parts.append("only in the checkpoint: " + _some(only_saved, ", "))
    if only_rules:
        parts.append("only in the rule file: " + _some(only_rules, ", "))
    if shapes:
        parts.append("different shapes: " + _some(shapes, "; "))
    return (f"checkpoint {checkpoint} does not match the parameters of {rules} ("
            + "; ".join(parts or ["a different fingerprint"]) + ")")


def _some(items, separator, limit=8):
    more = f"{separator}... ({len(items) - limit} more)" if len(items) > limit else ""
    return separator.join(items[:limit]) + more
