#!/usr/bin/python3
# Golden trajectories of torch.optim.RMSprop for test/peers/pytorch.test.ts, made offline with
# Debian's python3-torch (PyTorch 1.13: `apt-get install python3-torch`, then
#   /usr/bin/python3 test/peers/make-pytorch-fixtures.py > test/fixtures/pytorch-rmsprop.json).
# The grid covers what PyTorch's own RMSprop tests vary (test/test_optim.py, test_rmsprop: lr 1e-2;
# plain and centered; momentum 0 and 0.1; weight_decay 0 and 0.1; maximize), on a weight (6×4) and
# a bias (6) with seeded gradients, 5 steps, float32 and float64; after each step the parameters
# and the state (square_avg, momentum_buffer, grad_avg) are recorded.
import itertools
import json

import torch

torch.manual_seed(7)
STEPS = 5
shapes = {"weight": (6, 4), "bias": (6,)}
start = {name: torch.randn(*shape, dtype=torch.float64) for name, shape in shapes.items()}
grads = [{name: torch.randn(*shape, dtype=torch.float64) for name, shape in shapes.items()} for _ in range(STEPS)]

cases = []
for dtype, centered, momentum, weight_decay, maximize in itertools.product(
    (torch.float32, torch.float64), (False, True), (0.0, 0.1), (0.0, 0.1), (False, True)
):
    params = {name: start[name].to(dtype).clone().requires_grad_(True) for name in shapes}
    opt = torch.optim.RMSprop(
        [params["weight"], params["bias"]], lr=1e-2, momentum=momentum, weight_decay=weight_decay,
        centered=centered, maximize=maximize, foreach=False,
    )
    trajectory = []
    for k in range(STEPS):
        for name in shapes:
            params[name].grad = grads[k][name].to(dtype).clone()
        opt.step()
        record = {}
        for name in shapes:
            p = params[name]
            state = opt.state[p]
            record[name] = {
                "param": p.detach().double().flatten().tolist(),
                "square_avg": state["square_avg"].double().flatten().tolist(),
                "momentum_buffer": state["momentum_buffer"].double().flatten().tolist() if "momentum_buffer" in state else None,
                "grad_avg": state["grad_avg"].double().flatten().tolist() if "grad_avg" in state else None,
            }
        trajectory.append(record)
    cases.append({
        "dtype": "float32" if dtype == torch.float32 else "float64",
        "config": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "centered": centered, "momentum": momentum,
                   "weight_decay": weight_decay, "maximize": maximize},
        "trajectory": trajectory,
    })

print(json.dumps({
    "source": f"torch.optim.RMSprop, PyTorch {torch.__version__} (Debian python3-torch), foreach=False",
    "shapes": {name: list(shape) for name, shape in shapes.items()},
    "start": {name: t.flatten().tolist() for name, t in start.items()},
    "grads": [{name: g.flatten().tolist() for name, g in step.items()} for step in grads],
    "cases": cases,
}))
