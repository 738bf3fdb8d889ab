"""Every case of the table passes a float64 central-difference gradient check on the
reference backend, in each of its modes."""

import pytest

import fastnn as fnn
from fastnn.testing.table import ALL_CASES


@pytest.mark.parametrize("case,mode", [(c, m) for c in ALL_CASES for m in c.modes],
                         ids=lambda v: v.name if hasattr(v, "name") else v)
def test_reference_gradient(case, mode):
    instance = case.instance(dtype="float64", size="small", mode=mode)
    tensors = instance.tensors("numpy")
    fnn.manual_seed(1234)
    assert fnn.testing.gradcheck(instance.fn, tensors)
