"""cgrad.optim: SGD, Adam and AdamW with torch's update rules and API.

Each step is one fused kernel pass per parameter (backend `sgd_step` /
`adam_step`, docs/kernels.md), updating the parameter and its state buffers
in place. Parameter groups, zero_grad(set_to_none), state_dict() and
load_state_dict() behave as in torch.
"""

import copy

import numpy as np

from . import _tape
from . import backend as _bk
from .tensor import Tensor, zero_grads


class Optimizer:
    """Holds parameter groups (lists of tensors with their options) and per-parameter state."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # id(param) -> dict of state
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors "
                "or dicts, got a Tensor"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: optimizer can only optimize Tensors, "
                    f"got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor")
            if id(p) in seen:
                raise ValueError(
                    f"{type(self).__name__}: some parameters appear in more than "
                    "one parameter group"
                )
        group["params"] = ps
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group):
        if group["lr"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}")
        if group.get("weight_decay", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {group['weight_decay']}")

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            zero_grads(g["params"], set_to_none)

    def _params_with_grad(self, group):
        """[(p, gradient array)] for the group's parameters that have a gradient (checked)."""
        return _tape.grad_pairs(group["params"], f"{type(self).__name__}.step")

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{options, 'params': [indices]}]}"""
        index, groups, i = {}, [], 0
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index[id(p)] = i
                ids.append(i)
                i += 1
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {
            index[pid]: {
                k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                for k, v in s.items()
            }
            for pid, s in self.state.items()
            if pid in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: {len(groups)} parameter "
                f"groups in the state, {len(self.param_groups)} in the optimizer"
            )
        params = []
        for mine, theirs in zip(self.param_groups, groups):
            if len(mine["params"]) != len(theirs["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: a parameter group has "
                    f"{len(theirs['params'])} parameters in the state and "
                    f"{len(mine['params'])} in the optimizer"
                )
            for k, v in theirs.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
            params.extend(zip(theirs["params"], mine["params"]))
        self.state = {}
        saved = {int(k): v for k, v in state_dict["state"].items()}
        for idx, p in params:
            if idx in saved:
                s = {}
                for k, v in saved[idx].items():
                    if isinstance(v, np.ndarray) and v.shape == p.shape:
                        v = np.array(v, dtype=p.data.dtype, copy=True)
                    s[k] = v
                self.state[id(p)] = s


class SGD(Optimizer):
    """p -= lr * d, where d = g + weight_decay p, smoothed by momentum (torch's rule)."""

    def __init__(
        self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False
    ):
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum value {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires a momentum and zero dampening")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
            ),
        )

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        step = _bk.K.sgd_step
        for group in self.param_groups:
            lr, mom = float(group["lr"]), float(group["momentum"])
            damp, wd = float(group["dampening"]), float(group["weight_decay"])
            nesterov = bool(group["nesterov"])
            for p, g in self._params_with_grad(group):
                buf, first = None, False
                if mom != 0.0:
                    st = self.state.setdefault(id(p), {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.empty_like(p.data)
                        first = True
                step(p.data, g, buf, lr, mom, damp, wd, nesterov, first)
                p._vc[0] += 1
        return loss


class Adam(Optimizer):
    """Adam (Kingma & Ba) with torch's bias correction; weight_decay adds wd*p to the gradient."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        b1, b2 = betas
        if not 0.0 <= b1 < 1.0 or not 0.0 <= b2 < 1.0:
            raise ValueError(f"{type(self).__name__}: invalid betas {betas}")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: invalid epsilon {eps}")
        super().__init__(
            params, dict(lr=lr, betas=(float(b1), float(b2)), eps=eps, weight_decay=weight_decay)
        )

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p, g in self._params_with_grad(group):
                st = self.state.get(id(p))
                if st is None:
                    st = self.state[id(p)] = {
                        "step": 0,
                        "exp_avg": np.zeros_like(p.data),
                        "exp_avg_sq": np.zeros_like(p.data),
                    }
                st["step"] += 1
                _bk.K.adam_step(
                    p.data,
                    g,
                    st["exp_avg"],
                    st["exp_avg_sq"],
                    float(group["lr"]),
                    b1,
                    b2,
                    float(group["eps"]),
                    float(group["weight_decay"]),
                    int(st["step"]),
                    self.decoupled,
                )
                p._vc[0] += 1
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam update."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
