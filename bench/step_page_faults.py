#!/usr/bin/env python3
"""Where a small training step's time goes beyond its layers: the same MLP (784-512-512-10,
Adam, cross-entropy, one thread) timed as a whole step, as its forward and backward alone, as
its update alone and layer by layer, with the minor page faults each one takes.

    /usr/bin/python3 bench/step_page_faults.py
"""
import resource
import time

import torch

torch.set_num_threads(1)


def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(fn, n=100):
    """Milliseconds and minor page faults per call, after ten calls of warm-up."""
    for _ in range(10):
        fn()
    f0, t0 = faults(), time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e3, (faults() - f0) / n


def parts(batch):
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512),
                          nn.ReLU(), nn.Linear(512, 10))
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))

    def whole():
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    def forward_backward():
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()

    # The update alone, over gradients handed over as backward hands them.
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    grads = [torch.randn_like(p) for p in params]
    alone = torch.optim.Adam(params, 1e-4)

    def update():
        for p, g in zip(params, grads):
            p.grad = g
        alone.step()
        for p in params:
            p.grad = None

    # Each layer alone, as a layer job runs it: forward, and backward from its output's gradient.
    layers, inputs, h = [], [], x
    with torch.no_grad():
        for layer in model:
            inputs.append(h.clone())
            h = layer(h)
    for layer, inp in zip(model, inputs):
        inp.requires_grad_(True)
        grad = torch.ones_like(layer(inp).detach())

        def step(layer=layer, inp=inp, grad=grad):
            layer.zero_grad(set_to_none=True)
            inp.grad = None
            layer(inp).backward(grad)

        layers.append(step)
    return whole, forward_backward, update, layers


for batch in (2, 8):
    whole, forward_backward, update, layers = parts(batch)
    for _ in range(3):
        w, fb, u = timed(whole), timed(forward_backward), timed(update)
        each = [timed(f) for f in layers]
        lt, lf = sum(t for t, _ in each), sum(f for _, f in each)
        print(f"batch {batch}: whole step {w[0]:.2f} ms ({w[1]:.0f} faults), "
              f"forward+backward {fb[0]:.2f} ({fb[1]:.0f}), update {u[0]:.2f} ({u[1]:.0f}), "
              f"layers alone {lt:.2f} ({lf:.0f}); layers + update {lt + u[0]:.2f} ms")
