"""A knowledge base on ``device="cuda"``: evaluated and trained one step like on the CPU.

Collected only by ``test_cuda_sim.py`` (a subprocess under ``NUMBA_ENABLE_CUDASIM=1``).
"""

import numpy as np
import pytest

import nesy

pytestmark = pytest.mark.skipif(not nesy.cuda.is_available(), reason="no GPU, no simulator")

SMOKERS = """
semantics product.
domain Person = {a, b, c, d, e}.
features Person = embedding(4).
predicate Smokes(Person) = mlp(hidden = [8]).
predicate Friends(Person, Person) = mlp(hidden = [8]).
predicate Cancer(Person) = mlp(hidden = [8]).
predicate Knows(Person, Person).
Friends(a, b). Friends(b, c). not Friends(a, d).
Knows(a, b). Knows(c, d).
Smokes(a). not Smokes(b). Cancer(a).
forall x: Smokes(x) -> Cancer(x).
forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y).
forall x, y: Knows(x, y) -> Friends(x, y).
"""


def _run(make_kb, device):
    nesy.manual_seed(0)
    kb = make_kb(device)
    opt = nesy.optim.Adam(kb.parameters(), lr=0.01)
    before = kb.satisfaction()
    assert before.device == device
    opt.zero_grad()
    kb.loss().backward()
    opt.step()
    kb.add_fact("Knows", "e", "a")  # a fact written after the move reaches the device copy
    after = kb.satisfaction()
    return [before.item(), after.item()] + [p.detach().numpy() for p in kb.parameters()]


@pytest.mark.parametrize("make_kb", [
    lambda dev: nesy.logic.loads(SMOKERS, device=dev),
    lambda dev: nesy.logic.loads(SMOKERS).to(dev),
], ids=["device_argument", "to"])
def test_knowledge_base_trains_on_cuda_like_on_cpu(make_kb):
    cpu, gpu = _run(make_kb, "cpu"), _run(make_kb, "cuda")
    for got, expected in zip(gpu, cpu):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_fixed_features_and_tables_move_with_the_knowledge_base():
    kb = nesy.logic.loads("""
        domain Item = {p, q, r}.
        predicate Good(Item) = mlp(hidden = [4]).
        predicate Cheap(Item).
        Cheap(p). Good(p).
        forall x: Cheap(x) -> Good(x).
    """).to("cuda")
    kb.set_features("Item", np.eye(3, dtype=np.float32))
    assert all(p.device == "cuda" for p in kb.parameters())
    sat = kb.satisfaction()
    assert sat.device == "cuda" and 0.0 <= sat.item() <= 1.0
    kb.to("cpu")
    assert kb.satisfaction().device == "cpu"
