"""End-to-end learning with hand-written loops: opt.zero_grad(); loss.backward(); opt.step().
(The quick-start loop, examples/train_digits.py, is run by tests/test_examples.py.)"""


import numpy as np

import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Input

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float32)


def test_mlp_solves_xor_with_a_hand_written_loop():
    # 8 hidden units: with 4, a few seeds land in XOR's classic local minimum (loss ln(2)/2).
    fnn.manual_seed(0)
    model = fnn.Sequential([Input((2,)), Dense(8, activation="tanh"), Dense(1)])
    opt = fnn.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = F.binary_crossentropy(model(XOR_X), XOR_Y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    predictions = (F.sigmoid(model(XOR_X)).numpy() > 0.5).astype(np.float32)
    np.testing.assert_array_equal(predictions, XOR_Y)
    assert loss.item() < 0.05 < first


def test_xor_from_raw_tensors_and_functional_ops():
    """The same lesson without layers: weights are leaf tensors, the forward pass is two F.linear calls."""
    fnn.manual_seed(1)
    w1 = fnn.init.glorot_uniform((2, 3))
    w1.requires_grad = True
    b1 = fnn.zeros(3, requires_grad=True)
    w2 = fnn.init.glorot_uniform((3, 1))
    w2.requires_grad = True
    b2 = fnn.zeros(1, requires_grad=True)
    opt = fnn.optim.Adam([w1, b1, w2, b2], lr=0.1)
    x, y = fnn.tensor(XOR_X), fnn.tensor(XOR_Y)
    for _ in range(400):
        opt.zero_grad()
        logits = F.linear(F.linear(x, w1, b1, activation="sigmoid"), w2, b2)
        loss = F.binary_crossentropy(logits, y)
        loss.backward()
        opt.step()
    np.testing.assert_array_equal((logits.numpy() > 0).astype(np.float32), XOR_Y)
