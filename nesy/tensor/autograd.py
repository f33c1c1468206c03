"""The backward pass: an iterative walk over the graph in reverse topological order.

Recursion would break on long chains (deep forward chaining, long training graphs), so the
walk uses explicit stacks: one pass counts, for each node, how many consumers will send it a
gradient; a second pass (Kahn's algorithm) runs a node's ``backward`` once all of them have.

Gradients are fitted to their input in one place, :func:`_fit`: summed back over broadcast
axes (HIPS autograd's ``unbroadcast``) and cast to the input's dtype.
"""

from __future__ import annotations

import weakref


def backward(roots, root_grads, retain_graph=False, inputs=None):
    """Accumulate d(roots)/d(leaf) . root_grads into every leaf's ``.grad``.

    With ``inputs`` (a sequence of tensors), return their gradients instead and leave every
    ``.grad`` untouched (the engine behind :func:`grad`).
    """
    capture = None if inputs is None else {id(t): None for t in inputs}
    pending, buffers = {}, {}
    for t, g in zip(roots, root_grads):
        if t._node is None:
            _deliver_leaf(t, g, capture)
        else:
            _add_to_buffer(buffers, t._node, t._output_index, g)
    order = _count_consumers([t._node for t in roots if t._node is not None], pending)
    ready = [n for n in order if pending.get(n, 0) == 0]
    given = set()
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        if grads is not None:
            if node.retained or capture:
                _serve_retained_and_captured(node, grads, capture)
            if node.released:
                raise freed_error(node)
            if node.raw:  # primitives: one output, a tuple of array grads back
                input_grads = type(node).backward(node, grads[0])
            else:
                input_grads = node.run_backward(_complete(node, grads))
            if not retain_graph:
                node.release()
        else:
            input_grads = (None,) * len(node.inputs)
        for inp, g, need in zip(node.inputs, input_grads, node.needs_input_grad):
            if not need:
                continue
            if g is not None:
                data = inp._data
                if g.shape != data.shape or g.dtype != data.dtype:
                    g = _fit(g, inp, node)
            parent = inp._node
            if parent is None:
                if g is not None:
                    if id(g) in given:
                        g = g.copy()  # one array handed to two leaves must not be aliased
                    given.add(id(g))
                    _deliver_leaf(inp, g, capture)
                continue
            if g is not None:
                _add_to_buffer(buffers, parent, inp._output_index, g)
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)
    if capture is not None:
        return [capture[id(t)] for t in inputs]
    return None


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Mirrors ``torch.autograd.grad``: returns a tuple of tensors, one per input; an input that
    the outputs do not depend on is an error unless ``allow_unused=True`` (then ``None``).
    """
    from .tensor import Tensor, _as_sequence, _root_gradient

    outputs, inputs = _as_sequence(outputs), _as_sequence(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = _as_sequence(grad_outputs)
    roots = [_root_gradient(o, g) for o, g in zip(outputs, grad_outputs)]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: every input must require grad; one does not")
        if t._node is not None:
            register_capture_target(t)
    found = backward(outputs, roots, retain_graph=retain_graph, inputs=inputs)
    result = []
    for t, g in zip(inputs, found):
        if g is None and not allow_unused:
            raise RuntimeError(
                "grad: one of the inputs was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        result.append(None if g is None else Tensor._from_op(g, None, t.device))
    return tuple(result)


def _count_consumers(start_nodes, pending):
    """Visit every node reachable from ``start_nodes``; count each node's consumers."""
    seen = set(start_nodes)
    stack = list(seen)
    order = list(seen)
    while stack:
        node = stack.pop()
        for inp, need in zip(node.inputs, node.needs_input_grad):
            if not need or inp._node is None:
                continue
            parent = inp._node
            pending[parent] = pending.get(parent, 0) + 1
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
                order.append(parent)
    return order


def _add_to_buffer(buffers, node, index, g):
    slots = buffers.get(node)
    if slots is None:
        slots = buffers[node] = [None] * node.n_outputs
    slots[index] = g if slots[index] is None else slots[index] + g


def _complete(node, grads):
    """Outputs that received no gradient get zeros (only multi-output user functions)."""
    if node.n_outputs == 1:
        return grads
    be = node.backend
    return [
        be.zeros(shape, dtype) if g is None else g
        for g, (shape, dtype) in zip(grads, node.output_meta)
    ]


def _serve_retained_and_captured(node, grads, capture):
    if node.retained:
        from .tensor import Tensor

        for index, ref in node.retained.items():
            t = ref()
            if t is not None and grads[index] is not None:
                t.grad = Tensor._from_op(grads[index], None, t.device)
    if capture and node.outputs_by_id:
        for index, tid in node.outputs_by_id.items():
            if tid in capture and grads[index] is not None:
                capture[tid] = grads[index] if capture[tid] is None else capture[tid] + grads[index]


def _deliver_leaf(leaf, g, capture):
    if capture is not None:
        key = id(leaf)
        if key in capture:
            capture[key] = g if capture[key] is None else capture[key] + g
        return
    if not leaf.requires_grad:
        return
    if leaf.grad is None:
        from .tensor import Tensor

        if not g.flags.writeable or not g.flags.c_contiguous:
            g = g.copy()
        leaf.grad = Tensor._from_op(g, None, leaf.device)
    else:
        leaf.grad._data = leaf.grad._data + g


def _fit(g, inp, node):
    """Sum ``g`` over the axes that were broadcast and cast it to the input's dtype."""
    shape = inp._data.shape
    if g.shape != shape:
        g = node.backend.sum_to_shape(g, shape, type(node).__name__)
    if g.dtype != inp._data.dtype:
        g = g.astype(inp._data.dtype)
    return g


def retain(tensor):
    """Ask the engine to store this non-leaf tensor's gradient in ``.grad``."""
    node = tensor._node
    if node.retained is None:
        node.retained = {}
    node.retained[tensor._output_index] = weakref.ref(tensor)


def register_capture_target(tensor):
    """Let :func:`grad` capture the gradient flowing into a non-leaf ``tensor``."""
    node = tensor._node
    if node.outputs_by_id is None:
        node.outputs_by_id = {}
    node.outputs_by_id[tensor._output_index] = id(tensor)


def freed_error(node):
    return RuntimeError(_FREED_MESSAGE.format(name=type(node).__name__))


_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved values of {name} "
    "after they were freed). Pass retain_graph=True to the first backward() to keep them."
)
