"""The ``nesy`` command line.

``nesy demo`` trains the engine demo on bundled data; the rule-file commands live in
:mod:`nesy.commands`, one module each. Errors print without a traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import sys


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nesy",
        description="Neuro-symbolic expert systems: rules as differentiable losses.",
        epilog="Run 'nesy COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    parser.add_argument("--version", action="version", version=_version())
    from .commands import int_at_least, modules

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="train the bundled smokers rules and evaluate them on what-if cases",
        description="The main job: 'nesy train' the bundled smokers-friends-cancer rules "
        "(rules/smokers.nesy), then 'nesy eval' them on the bundled what-if cases "
        "(rules/smokers_cases.jsonl) and print the result table. With --engine: train an MLP "
        "(2-32-32-2, Adam) on the bundled two-moons data instead, with nesy's autograd only.",
        epilog="Examples: nesy demo; nesy demo --epochs 1000 --lr 0.003; "
        "nesy demo --engine --epochs 500 --lr 0.005",
    )
    demo.add_argument("--engine", action="store_true", help="run the two-moons MLP demo")
    demo.add_argument("--epochs", type=int_at_least(1), default=300, help="epochs (default 300)")
    demo.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--hidden", type=int_at_least(1), default=32,
                      help="hidden units of the --engine MLP (default 32)")
    demo.set_defaults(handler=_demo)

    for module in modules():
        module.add_parser(commands)
    return parser


def _version():
    from . import __version__

    return f"nesy {__version__}"


def _demo(args):
    from . import demo

    if not args.engine:
        return demo.run_rules(epochs=args.epochs, lr=args.lr, seed=args.seed)
    accuracy = demo.run(epochs=args.epochs, lr=args.lr, seed=args.seed, hidden=args.hidden)
    print(f"test accuracy: {accuracy:.3f}")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .logic.errors import RuleError

    try:
        return args.handler(args)
    except RuleError as e:  # already file:line:col: error: ... with the source line
        if args.debug:
            raise
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nesy: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line for users; the traceback with --debug
        if args.debug:
            raise
        print(f"nesy: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
