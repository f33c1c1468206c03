"""The template: the knowledge base every case starts from, built once, and its checkpoint.

Why: parsing and checking the rules, loading parameters and evaluating every rule and query on
the rule file's own facts cost the same for every case; done once here, a case pays only for
its copy (:mod:`.kb_copy`) and for the rules it changes (:mod:`.dependencies`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os

import numpy as np

from .dependencies import _formula_deps, _rule_deps
from .kb_copy import fork

STRATEGIES = ("fork", "deepcopy", "rebuild")


class UnknownQuery(ValueError):
    """``--query`` named a query the rule file lacks."""


class CheckpointMismatch(ValueError):
    """The checkpoint's parameters are not the rule file's (names or shapes)."""


class Template:
    """The knowledge base every case starts from, built once; picklable (the built knowledge
    base is rebuilt from the checked program and ``state`` where it is unpickled).

    ``strategy`` is how a case gets its copy: ``fork`` (copy only what a case can change),
    ``deepcopy`` or ``rebuild`` (a new knowledge base per case); ``reuse`` keeps the truths of
    rules and queries that a case does not touch instead of evaluating them again."""

    def __init__(self, program, base_dir=None, state=None, queries=None, seed=0,
                 semantics=None, strategy="fork", reuse=True):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
        self.program, self.base_dir, self.seed = program, base_dir, seed
        self.semantics = semantics
        self.strategy, self.reuse = strategy, reuse
        kb, deferred = self._build(state, {})
        self._kb, self.checkpointed = kb, state is not None
        self.state = {k: _array(v).copy() for k, v in kb.state_dict().items()}
        self.deferred = {k: _array(v).copy() for k, v in deferred.items()}
        self.waiting = sorted({k.split(".")[1] for k in deferred} | _waiting(kb))
        available = list(kb.queries)
        unknown = [q for q in queries or () if q not in available]
        if unknown:
            raise UnknownQuery(
                f"unknown query {unknown[0]!r}; the rule file has "
                + (", ".join(available) if available else "no queries"))
        self.query_names = list(dict.fromkeys(queries)) if queries else available
        self.rule_columns = list(kb.rules) + [
            g for name, info in kb.signature.predicates.items() if info.learned
            for g in (f"facts({name})", f"facts(not {name})") if g not in kb.rules]
        self.deps = {name: _rule_deps(kb, name) for name in kb.rules}
        self.deps.update({name: _formula_deps(kb, kb.queries[name].formula)
                          for name in self.query_names})
        self.baseline = self._baseline(kb) if reuse else {}
        self.fingerprint = self._fingerprint(queries)

    @classmethod
    def load(cls, rules, checkpoint=None, **options):
        """A template from the rule file ``rules`` and, optionally, a checkpoint file."""
        from nesy.logic.api import parse_path

        program = parse_path(rules)
        state = None
        if checkpoint is not None:
            state, semantics = read_checkpoint(checkpoint)
            options.setdefault("semantics", semantics)
        folder = os.path.dirname(os.path.abspath(os.fspath(rules)))
        try:
            return cls(program, base_dir=folder, state=state, **options)
        except CheckpointMismatch as e:
            raise CheckpointMismatch(f"checkpoint {checkpoint} does not fit {rules}: {e}") \
                from None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_kb"}

    def __setstate__(self, state):
        self.__dict__.update(state, _kb=None)

    @property
    def kb(self):
        """The template's knowledge base (built where the template was unpickled)."""
        if self._kb is None:
            self._kb, _ = self._build(self.state, self.deferred)
        return self._kb

    def _build(self, state, deferred):
        import nesy
        from nesy.logic.knowledge_base import KnowledgeBase

        nesy.manual_seed(self.seed)
        kb = KnowledgeBase(self.program, semantics=self.semantics, base_dir=self.base_dir)
        kb.eval()
        if state is not None:
            deferred = _load_state(kb, {**state, **deferred})
        return kb, deferred

    def fresh(self):
        """A knowledge base for one case: changing it leaves the template as it was."""
        if self.strategy == "fork":
            return fork(self.kb)
        if self.strategy == "deepcopy":
            return copy.deepcopy(self.kb)
        return self._build(self.state, self.deferred)[0]

    def _baseline(self, kb):
        import nesy

        out = {}
        with nesy.no_grad():
            for name in list(kb.rules) + self.query_names:
                try:
                    out[name] = _truth(kb, name)
                except (ValueError, TypeError, KeyError, IndexError):
                    pass  # depends on data only cases give: evaluated per case
        return out

    def _fingerprint(self, queries):
        h = hashlib.sha256()
        base = self.base_dir or os.getcwd()
        for name, text in self.program.sources:  # paths relative: a moved project resumes
            name = os.path.relpath(name, base) if os.path.isabs(name) else name
            h.update(f"{name}\0{text}\0".encode())
        for key in sorted(self.state):
            h.update(key.encode() + self.state[key].tobytes())
        h.update(json.dumps([queries or [], self.seed, str(self.semantics),
                             self.rule_columns]).encode())
        for path in sorted(self._kb.data_files):  # the data files the rules name, by content
            h.update(os.path.relpath(path, base).encode() + b"\0")
            _hash_file(h, path)
        return h.hexdigest()[:32]


def read_checkpoint(path):
    """``(state dict, semantics or None)`` of a checkpoint: a ``nesy train --checkpoint``
    file (the state under ``"model"``, its semantics under ``"semantics"``), or a
    ``nesy.save`` file of a state dict itself."""
    import nesy

    data = nesy.load(path)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        semantics = data.get("semantics")
        return data["model"], semantics if isinstance(semantics, (str, dict)) else None
    if isinstance(data, dict) and data and all(
            isinstance(v, (nesy.Tensor, np.ndarray)) for v in data.values()):
        return data, None
    raise ValueError(f"{path} holds no knowledge-base state (a state dict, or one under "
                     "'model' as nesy train --checkpoint writes)")


def _hash_file(h, path):
    """Feed a file's bytes to ``h`` (a missing file hashes as a marker: loading fails later
    with its own message)."""
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        h.update(b"\0missing")


def _array(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def _waiting(kb):
    """Neural models not built yet: their domains get features only from cases."""
    return {n for n, i in list(kb.signature.predicates.items())
            + list(kb.signature.functions.items())
            if i.kind == "neural" and n not in kb.models._modules}


def _load_state(kb, state):
    """Load ``state``; entries for models that only a case's features can build are kept
    aside (returned) and loaded into each case's copy once built."""
    waiting = _waiting(kb)
    deferred = {k: v for k, v in state.items()
                if k.startswith("models.") and k.split(".")[1] in waiting}
    given = {k: v for k, v in state.items() if k not in deferred}
    own = kb.state_dict()
    problems = [f"missing {', '.join(k for k in own if k not in given)}",
                f"unexpected {', '.join(k for k in given if k not in own)}"]
    problems = [p for p in problems if not p.endswith(" ")] + [
        f"{k} has shape {tuple(_array(v).shape)}, the rules need {tuple(own[k].shape)}"
        for k, v in given.items() if k in own and tuple(_array(v).shape) != own[k].shape]
    if problems:
        raise CheckpointMismatch("; ".join(problems))
    kb.load_state_dict(given)
    return deferred


def _truth(kb, name):
    """A rule's or query's truth as a float, or a table as a NumPy array."""
    tensor = kb.rule_truth(name) if name in kb.rules else kb.truth(name)
    array = tensor.detach().numpy()
    return float(array) if array.ndim == 0 else array.copy()
