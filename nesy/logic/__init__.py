"""The rule language: parse and check rule files, evaluate formulas as differentiable fuzzy
logic, and train knowledge bases whose predicates are neural networks.

>>> import nesy
>>> kb = nesy.logic.loads('''
...     domain Person = {ann, bob}.
...     predicate Smokes(Person).
...     Smokes(ann).
...     rule someone_smokes: exists x: Smokes(x).
... ''')
>>> round(kb.truth("someone_smokes").item(), 3)
0.707
"""

from .api import evaluate, load, loads, parse, parse_path
from .errors import Diagnostic, RuleError

__all__ = [
    "parse", "parse_path", "evaluate", "loads", "load", "RuleError", "Diagnostic",
    "KnowledgeBase", "Semantics", "train",
]


def __getattr__(name):
    if name == "KnowledgeBase":
        from .knowledge_base import KnowledgeBase

        return KnowledgeBase
    if name == "Semantics":
        from .semantics import Semantics

        return Semantics
    if name == "train":
        from .training import train

        return train
    raise AttributeError(f"module 'nesy.logic' has no attribute {name!r}")
