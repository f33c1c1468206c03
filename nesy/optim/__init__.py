"""``nesy.optim``: optimizers with PyTorch's names, update formulas and state dicts.

>>> import nesy
>>> net = nesy.nn.Linear(3, 1)
>>> opt = nesy.optim.Adam(net.parameters(), lr=1e-2)
>>> loss = net(nesy.ones(4, 3)).square().mean()
>>> opt.zero_grad(); loss.backward(); opt.step()
"""

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
