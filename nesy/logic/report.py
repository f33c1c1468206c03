"""How a knowledge base prints: its domains, predicates and rules with their truth."""

from __future__ import annotations

import html


def _domains(kb):
    out = []
    for name in kb.signature.domains:
        size = kb._sizes.get(name, "?")
        extra = ""
        if name in kb.embeddings._parameters:
            extra = f", embedding {kb.embeddings._parameters[name].shape[1]}"
        elif name in kb._features:
            extra = f", {kb._features[name].shape[1]} features"
        out.append((name, f"{size} individuals{extra}"))
    return out


def _predicates(kb):
    out = []
    for name, info in kb.signature.predicates.items():
        kind = info.kind
        if info.model is not None and info.model.kind == "mlp":
            kind = "neural mlp"
        out.append((f"{name}({', '.join(info.arg_types)})", kind))
    for name, info in kb.signature.functions.items():
        out.append(
            (f"{name}({', '.join(info.arg_types)}) -> {info.result}", f"function {info.kind}")
        )
    return out


def _rules(kb):
    status = kb.rule_status()
    rows = []
    for name, rule in kb.rules.items():
        t, why = status[name]
        shown = f"? ({why})" if t is None else f"{t:.4f}"
        rows.append((name, kb.weights[name], shown, str(rule)))
    return rows


def kb_text(kb):
    lines = [f"KnowledgeBase(semantics={kb.semantics.name})", "  domains:"]
    lines += [f"    {n}: {d}" for n, d in _domains(kb)]
    lines.append("  predicates:")
    lines += [f"    {p}: {k}" for p, k in _predicates(kb)]
    if kb.rules:
        lines.append("  rules (weight, truth):")
        rows = _rules(kb)
        width = max(len(r[0]) for r in rows)
        lines += [f"    {n:<{width}}  {w:g}  {t}  {f}" for n, w, t, f in rows]
    if kb.queries:
        lines.append("  queries: " + ", ".join(kb.queries))
    return "\n".join(lines)


def kb_html(kb):
    esc = html.escape
    parts = [f"<p><b>KnowledgeBase</b> (semantics: {esc(kb.semantics.name)})</p>"]
    parts.append("<table><tr><th>domain</th><th>individuals</th></tr>")
    parts += [f"<tr><td>{esc(n)}</td><td>{esc(d)}</td></tr>" for n, d in _domains(kb)]
    parts.append("</table><table><tr><th>predicate</th><th>kind</th></tr>")
    parts += [f"<tr><td>{esc(p)}</td><td>{esc(k)}</td></tr>" for p, k in _predicates(kb)]
    parts.append("</table>")
    if kb.rules:
        parts.append("<table><tr><th>rule</th><th>weight</th><th>truth</th><th>formula</th></tr>")
        parts += [
            f"<tr><td>{esc(n)}</td><td>{w:g}</td><td>{esc(t)}</td><td><code>{esc(f)}</code></td></tr>"
            for n, w, t, f in _rules(kb)
        ]
        parts.append("</table>")
    return "".join(parts)
