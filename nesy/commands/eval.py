"""``nesy eval RULES --data CASES --out RESULTS``: evaluate one rule file on many cases.

Each case (a line of a JSONL file, or a file of a case folder) adds its facts, features,
truth tables and function values to the rule file's own; each gives one row with the
satisfaction, every constraint rule's truth and the queries' truths. The engine is
:mod:`nesy.evaluation`; this module is its command line: options, messages, the progress bar
and the summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

from . import int_at_least

EXAMPLES = """\
examples:
  nesy eval rules/smokers.nesy --data cases.jsonl --out results.jsonl
  nesy eval rules/smokers.nesy --data cases/ --out results.csv --checkpoint model.npz
  nesy eval rules/smokers.nesy --data cases.jsonl --out results.csv --query cancer_spreads
  nesy eval rules/smokers.nesy --data cases.jsonl --out results.jsonl --resume
  nesy eval rules/smokers.nesy --data cases.jsonl --out results.jsonl --scheduler local:4

cases (CASES is a JSONL file, one case a line, or a folder of *.json / *.nesy files, read in
sorted name order; every key is optional):
  {"id": "c1",                                        default: line number / file name
   "facts": "Smokes(a). 0.7 :: Friends(a, b). not Cancer(b).",   rule-language facts, added
                                                      to the rule file's (or a list of them)
   "features": {"Person": [[0.1, 0.2], ...]},         kb.set_features, one row per individual
   "truths": {"Knows": [[1, 0], [0, 1]]},             kb.set_truths of a table predicate
   "functions": {"age": [31, 45]}}                    kb.set_function of a given function
  A *.nesy case file holds only facts.

results (the format follows the extension of RESULTS):
  .jsonl  {"id": "c1", "satisfaction": 0.61, "rules": {"symmetric": 0.98, ...},
           "queries": {"cancer_spreads": 0.7, "smokers": [0.9, 0.1, ...]}}
  .csv    id,satisfaction,rule:NAME...,query:NAME...   (an open query's table as JSON text;
          an empty rule cell: that case has no such facts(...) group)
  Rows come in input order. RESULTS is replaced only when the run ends well; meanwhile the
  finished rows go to RESULTS.partial, which --resume continues from (an interrupted run
  keeps it). A malformed case is reported on stderr with its line or file and skipped.

exit status: 0 when every case was evaluated; 1 when a case failed, the rules have errors or
the checkpoint does not fit; 2 for a usage error (bad option, missing file, unknown query);
130 when interrupted.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a rule file on many cases (JSONL or a folder) into JSONL or CSV",
        description="Evaluate RULES once per case: each case's facts (and features, truth "
        "tables, function values) are added to the rule file's own, and one row records "
        "the satisfaction, the truth of every constraint rule and of the queries.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rules", metavar="RULES", help="the rule file (*.nesy)")
    parser.add_argument("--data", required=True, metavar="CASES",
                        help="a JSONL file of cases, or a folder of *.json / *.nesy case files")
    parser.add_argument("--out", required=True, metavar="RESULTS",
                        help="where the results go: *.jsonl or *.csv (written atomically)")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="trained parameters to load first (from nesy train --checkpoint "
                        "or nesy.save(kb.state_dict(), path)); a mismatch is an error")
    parser.add_argument("--query", nargs="+", action="extend", metavar="NAME",
                        help="evaluate only these queries (default: all of the rule file's); "
                        "e.g. --query cancer_spreads cancer_implies_smoking")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from RESULTS.partial (or reuse the "
                        "rows of an existing RESULTS, matched by case id); the result equals "
                        "one full run")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first malformed case instead of skipping it")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no summary table (errors still show)")
    parser.add_argument("--chunk-size", type=int_at_least(1), default=64, metavar="K",
                        help="cases per work unit (default 64): a unit of the journal in one "
                        "process, a task with --scheduler, e.g. --chunk-size 256")
    parser.add_argument("--scheduler", metavar="SPEC",
                        help="run on a Dask cluster: local:N (N worker processes here) or "
                        "tcp://HOST:PORT (a running scheduler); needs nesy[distributed]")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for parameters no checkpoint sets (default 0)")
    parser.set_defaults(handler=run, eval_parser=parser)
    return parser


def run(args):
    from nesy import evaluation as ev
    from nesy.progress import Progress

    usage = args.eval_parser.error  # prints usage and the message, exits with status 2
    _check_paths(args, usage)
    if args.scheduler is not None:
        _check_scheduler(args.scheduler, usage)
    try:
        template = ev.Template.load(args.rules, checkpoint=args.checkpoint,
                                    queries=args.query, seed=args.seed)
    except ev.UnknownQuery as e:
        usage(str(e))
    progress = Progress(0, enabled=False if args.quiet else None, unit="cases")

    def on_error(error):
        _clear(progress)
        print(f"{error}; {'stopping (--strict)' if args.strict else 'case skipped'}",
              file=sys.stderr)

    def on_progress(done, total, satisfaction):
        progress.total = total
        progress.update(done, **({} if satisfaction is None else {"sat": satisfaction}))

    job = ev.Run(template, args.data, args.out, resume=args.resume, strict=args.strict,
                 chunk_size=args.chunk_size, scheduler=args.scheduler,
                 on_error=on_error, on_progress=on_progress)
    if not args.resume and not args.quiet and os.path.exists(job.journal.path):
        print(f"nesy eval: starting over; {job.journal.path} of an interrupted run is replaced "
              "(--resume continues it)", file=sys.stderr)
    try:
        with _sigterm_interrupts():
            summary = job.run()
    except (KeyboardInterrupt, ev.CaseFailed) as e:
        progress.close()
        if os.path.exists(job.journal.path):
            print(f"nesy eval: {'interrupted' if isinstance(e, KeyboardInterrupt) else 'stopped'}"
                  f" after {job.done} of {job.total} cases; the finished rows are kept in "
                  f"{job.journal.path}: rerun with --resume to continue", file=sys.stderr)
        if isinstance(e, KeyboardInterrupt):
            raise
        return 1
    progress.close()
    if not args.quiet:
        print(summary_table(summary, job.total, args.out), file=sys.stderr)
    return 1 if summary.failed else 0


def _check_paths(args, usage):
    if not os.path.isfile(args.rules):
        usage(f"no such rule file: {args.rules}")
    if not os.path.exists(args.data):
        usage(f"no such cases file or folder: {args.data}")
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        usage(f"no such checkpoint: {args.checkpoint}")
    if os.path.splitext(args.out)[1].lower() not in (".jsonl", ".csv"):
        usage(f"RESULTS must end in .jsonl or .csv, got {args.out}")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        usage(f"cannot write {args.out}: no folder {folder}")
    if os.path.isdir(args.out):
        usage(f"cannot write {args.out}: it is a folder")
    if os.path.exists(args.out) and os.path.samefile(args.out, args.data):
        usage(f"RESULTS {args.out} is the cases file; write the results elsewhere")


def _check_scheduler(spec, usage):
    from nesy.distributed import parse_spec  # stdlib only: Dask loads when a run starts

    try:
        parse_spec(spec)
    except ValueError as e:
        usage(str(e))


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (a batch system's stop) ends the run as Ctrl-C does: the journal is kept
    and RESULTS is left as it was."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _clear(progress):
    if progress.enabled and progress.drawn:
        progress.stream.write("\r\033[K")


def summary_table(summary, total, out):
    """The end-of-run table: case counts, satisfaction statistics, each rule's mean truth."""
    lines = [f"{total} case{'s' * (total != 1)}: {summary.ok} ok, {summary.failed} failed"
             + (f" ({summary.reused} from an earlier run)" if summary.reused else "")
             + f"; results in {out}"]
    if summary.satisfaction:
        sat = summary.satisfaction
        lines.append(f"satisfaction  mean {sum(sat) / len(sat):.4f}  min {min(sat):.4f}  "
                     f"max {max(sat):.4f}")
        means = summary.rule_means
        width = max(len("rule"), *(len(n) for n in means))
        lines.append(f"{'rule':<{width}}  mean truth")
        lines.extend(f"{name:<{width}}  {value:.4f}" for name, value in means.items())
    return "\n".join(lines)
