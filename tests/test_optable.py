"""The op table's completeness test (PyTorch's OpInfo idea, our own).

For every row of the op table, every backend and both float dtypes: the
kernels exist on both backends, an op class is bound to the row, every
public form the row declares exists, the forward matches the NumPy
reference (and torch when it is installed), float64 central differences
match the recorded backward, explain shows the row's formula, docs/api.md
has the row's entry, and the kernels read no more than the row saves. A
forgotten piece fails here with the op's name; test_incomplete_rows_fail
shows it on deliberately broken rows.
"""

import dataclasses

import numpy as np
import pytest

from cgrad import ops, optable

import optable_checks as oc

ROWS = optable.rows()
IDS = [r.name for r in ROWS]


@pytest.mark.parametrize("check", oc.ROW_CHECKS, ids=[c.__name__[6:] for c in oc.ROW_CHECKS])
@pytest.mark.parametrize("r", ROWS, ids=IDS)
def test_row(r, check):
    check(r)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", ["c", "numpy"])
@pytest.mark.parametrize("r", ROWS, ids=IDS)
def test_forward(r, backend, dtype):
    oc.check_forward(r, backend, dtype)


@pytest.mark.parametrize("backend", ["c", "numpy"])
@pytest.mark.parametrize("r", ROWS, ids=IDS)
def test_gradcheck(r, backend):
    oc.check_gradcheck(r, backend)


def test_every_op_class_has_a_row_and_every_row_a_class():
    assert set(ops.OP_CLASSES) == set(optable.OPS)


def test_every_c_unary_kernel_has_a_row():
    from cgrad import _ckernels

    missing = set(_ckernels.unary_ops()) - {r.name for r in optable.rows("unary")}
    assert not missing, f"C unary kernels with no row in the op table: {sorted(missing)}"


# ---------------------------------------------------------------- broken rows
TANH = optable.row("tanh")

BROKEN = [
    # (what is broken, the row, the check that must fail, its message)
    (
        "no formula",
        dataclasses.replace(TANH, formula=""),
        oc.check_formula,
        "no derivative formula",
    ),
    (
        "a missing kernel",
        dataclasses.replace(TANH, kernels=("tanh_forward", "tanhh_backward")),
        oc.check_kernels,
        "has no kernel 'tanhh_backward'",
    ),
    (
        "saves the wrong tensor",
        dataclasses.replace(TANH, saves=("x",)),
        oc.check_saves,
        "reads 'y', the row saves",
    ),
    (
        "no module",
        dataclasses.replace(TANH, module="TanhX"),
        oc.check_surface,
        "nn.TanhX does not exist",
    ),
    (
        "no method",
        dataclasses.replace(TANH, method="tanhx"),
        oc.check_surface,
        "Tensor.tanhx does not exist",
    ),
    (
        "not documented",
        dataclasses.replace(TANH, math="y = tanh of x"),
        oc.check_docs,
        "docs/api.md has no up-to-date entry",
    ),
    (
        "a new op with nothing behind it",
        dataclasses.replace(TANH, name="softsign"),
        oc.check_op_class,
        "no op class is bound",
    ),
    (
        "a new op with no C kernel",
        dataclasses.replace(TANH, name="softsign"),
        oc.check_saves,
        "C unary table",
    ),
    (
        "a new op with no sample call",
        dataclasses.replace(TANH, name="conv9d", family="special"),
        lambda r: oc.check_forward(r, "c", np.float64),
        "no sample call",
    ),
]


@pytest.mark.parametrize("what,r,check,msg", BROKEN, ids=[b[0] for b in BROKEN])
def test_incomplete_rows_fail_naming_the_op(what, r, check, msg):
    with pytest.raises(AssertionError) as e:
        check(r)
    text = str(e.value)
    assert text.startswith(f"{r.name}: "), text
    assert msg in text, text
