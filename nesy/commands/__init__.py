"""The ``nesy`` subcommands, one module each.

A command module defines ``add_parser(subparsers)`` (its options, help and examples, and
``set_defaults(handler=run)``) and ``run(args) -> int`` (the exit status). Modules import
what they need inside ``run``, so ``nesy --help`` stays fast. ``nesy.cli`` finds them here.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def modules():
    """The command modules, by name."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def int_at_least(least):
    """An argparse ``type``: an integer >= ``least``, with a clear message otherwise."""
    words = {0: "a non-negative integer", 1: "a positive integer"}

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            wanted = words.get(least, f"an integer >= {least}")
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse
