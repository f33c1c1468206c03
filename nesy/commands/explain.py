"""``nesy explain RULES ATOM``: how forward chaining concluded a ground atom, as a proof tree.

Loads the rules (and a checkpoint's parameters), runs ``kb.infer()`` and prints the atom's
truth, its fact degree and the ``--k`` rule groundings that contribute most to it, each body
atom explained in turn (see :mod:`nesy.logic.explain`). ``--format json`` prints the same
tree as one JSON document. Exit status 0; 1 for an unknown predicate or individual, a wrong
arity, an atom that does not parse, or rules that do not load; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from . import int_at_least

EXAMPLES = """\
examples:
  nesy explain rules/family.nesy "Ancestor(ann, dan)"          the proof tree, as text
  nesy explain rules/graph.nesy "Path(a, c)" --k 1 --depth 2   the best grounding, 2 levels
  nesy explain rules/graph.nesy "Path(a, c)" --format json     one JSON document
  nesy explain rules/smokers.nesy "Cancer(ann)" --checkpoint model.npz
  nesy explain rules/family.nesy "Parent(cid, gus)" --why       what this fact supports
  nesy explain rules/diagnosis.nesy "StayHome(ann)" --semantics certainty   MYCIN CFs
  nesy explain rules/family.nesy "Ancestor(ann, lea)" --format dot | dot -Tsvg > proof.svg

output (text), one line per atom and per rule grounding, children indented:
  Path(a, c) = 0.6
    [rule Path#2 at graph.nesy:5: Path(x, z) :- Edge(x, y), Path(y, z).  x=a, z=c, y=b  ...]
      Edge(a, b) = 0.8  [fact, degree 0.8]
      Path(b, c) = 0.6
        ...
  Path#2 is the second Horn rule with head Path. An atom already on the current path is not
  expanded again; one explained elsewhere in the tree is marked so. Negated literals show the
  negated atom's truth; comparisons show true or false.

exit status: 0 on success; 1 for an unknown predicate or individual, a wrong arity, an atom
that does not parse, rules or a checkpoint that do not load; 2 for a usage error.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "explain",
        help="explain how forward chaining derived an atom (a proof tree)",
        description="Load the rules, run forward chaining (kb.infer()) and explain one ground\n"
        "atom: its truth, its fact degree and the rule groundings that contribute most to it,\n"
        "each with its bindings, its contribution (the semantics' 'and' of the rule's\n"
        "confidence and its body truths) and its body literals, explained in turn.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("rules", metavar="RULES", help="the rule file (*.nesy)")
    parser.add_argument("atom", metavar="ATOM", help='a ground atom, e.g. "Path(a, c)"')
    parser.add_argument("--k", type=int_at_least(1), default=3,
                        help="rule groundings shown per atom, the largest contributions first "
                        "(default 3)")
    parser.add_argument("--depth", type=int_at_least(0), default=None,
                        help="levels of rules to expand (default: unbounded; 0: the atom only)")
    parser.add_argument("--checkpoint", metavar="CKPT",
                        help="trained parameters to load first (nesy train --checkpoint, or "
                        "nesy.save(kb.state_dict(), path))")
    parser.add_argument("--format", choices=("text", "json", "dot"), default="text",
                        help="text: an indented proof tree (default); json: one JSON document; "
                        "dot: a Graphviz graph (dot -Tsvg)")
    parser.add_argument("--why", action="store_true",
                        help="instead of how ATOM was derived, list the conclusions it "
                        "supports (rule groundings that use it), best first")
    parser.add_argument("--semantics", metavar="NAME",
                        help="override the file's semantics, e.g. certainty (MYCIN certainty "
                        "factors) or godel")
    parser.set_defaults(handler=run)
    return parser


def run(args):
    import nesy
    from nesy.logic.explain import explain, why

    for path, what in ((args.rules, "rule file"), (args.checkpoint, "checkpoint")):
        if path is not None and not os.path.isfile(path):
            print(f"nesy: error: no such {what}: {path}", file=sys.stderr)
            return 1
    semantics, state = None, None
    if args.checkpoint is not None:
        from nesy.evaluation.template import read_checkpoint

        state, semantics = read_checkpoint(args.checkpoint)
    kb = nesy.logic.load(args.rules, semantics=args.semantics or semantics)
    if state is not None:
        kb.load_state_dict(state)
    if args.why:
        supports = why(kb, args.atom, k=args.k)
        if args.format == "json":
            print(json.dumps([dataclasses.asdict(s) for s in supports], indent=2))
        else:
            print(supports)
        return 0
    tree = explain(kb, args.atom, k=args.k, depth=args.depth)
    print({"json": tree.to_json, "dot": tree.to_dot}.get(args.format, tree.render)())
    return 0
