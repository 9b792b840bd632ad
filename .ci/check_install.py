"""Run by `make check-install`: the package installed without -e into a
scratch venv, imported with that venv's Python in isolated mode (-I) from a
directory outside the source tree, so nothing in src/ can stand in for it.
An editable install hides packaging mistakes (a subpackage or a data file
left out of the wheel); this catches them."""

# SPDX-License-Identifier: MIT
import os
import sys
import sysconfig

import cgrad as cg
import cgrad.nn
import cgrad.nn.functional
import cgrad.optim
from cgrad import _ckernels, _tape

x = cg.tensor([1.0, 2.0], requires_grad=True)
(x * x).sum().backward()
assert x.grad.tolist() == [2.0, 4.0], x.grad.tolist()

cg.show_config()
assert cg.get_backend() == "c", cg.get_backend()

# Every module, the compiled ones too, from this venv's site-packages.
assert sys.prefix != sys.base_prefix, "not running in a venv"
site = {os.path.realpath(sysconfig.get_paths()[k]) + os.sep for k in ("purelib", "platlib")}
for mod in (cg, cgrad.nn, cgrad.nn.functional, cgrad.optim, _ckernels, _tape):
    path = os.path.realpath(mod.__file__)
    assert any(path.startswith(s) for s in site), f"{mod.__name__} from {path}, not from {site}"
print(
    f"check-install: cgrad {cg.__version__} from {os.path.dirname(os.path.realpath(cg.__file__))}"
)
