"""MgNO at the paper's Darcy configuration: jaxops against a PyTorch implementation of the
same network (written here for the comparison; the paper's code is not packaged), same CPU.

4 layers, 24 channels, 6 levels with one pre-smoothing step per level and two on the
coarsest, zero padding, GELU — 572,661 parameters in both — on 64×64 inputs, batch 20:
a full training step (forward, backward, Adam) and inference, interleaved, medians, plus the
JAX compile times.

    python -m experiments.benchmarks mgno_torch      (needs torch: make bench installs it)
"""

import os

import jax

from jaxops import models
from jaxops.train import count_parameters

from ._jax_step import compile_step
from ._timing import interleaved, machine

BATCH, SIZE, REPEATS = 20, 64, 10
SMOOTHING = [(1, 0)] * 5 + [(2, 0)]


def torch_mgno(torch):
    """The MgNO Darcy network in PyTorch: the same cycle as `jaxops.layers.MgConv`."""
    nn = torch.nn

    def conv(c_in, c_out, stride=1):
        return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)

    class Cycle(nn.Module):
        def __init__(self, f, u):
            super().__init__()
            levels = len(SMOOTHING)
            self.S = nn.ModuleList(
                [nn.ModuleList([conv(f, u) for _ in range(pre)]) for pre, _ in SMOOTHING]
            )
            self.A = nn.ModuleList(
                [
                    nn.ModuleList([conv(u, f) for i in range(pre) if level or i])
                    for level, (pre, _) in enumerate(SMOOTHING)
                ]
            )
            self.Pi = nn.ModuleList([conv(u, u, 2) for _ in range(levels - 1)])
            self.R = nn.ModuleList([conv(f, f, 2) for _ in range(levels - 1)])
            self.P = nn.ModuleList(
                [nn.ConvTranspose2d(u, u, 4, 2, 1, bias=False) for _ in range(levels - 1)]
            )

        def forward(self, f):
            us = []
            u = None
            for level in range(len(SMOOTHING)):
                if level:
                    u, f = self.Pi[level - 1](u), self.R[level - 1](f)
                smoothers = list(self.S[level])
                operators = list(self.A[level])
                if level == 0:
                    u = smoothers.pop(0)(f)
                for S, A in zip(smoothers, operators, strict=True):
                    u = u + S(f - A(u))
                us.append(u)
            for level in range(len(SMOOTHING) - 2, -1, -1):
                u = us[level] + self.P[level](u)
            return u

    class MgNO(nn.Module):
        def __init__(self, width=24, depth=4):
            super().__init__()
            channels = [1] + [width] * (depth - 1)
            self.cycles = nn.ModuleList([Cycle(c, width) for c in channels])
            self.skips = nn.ModuleList([nn.Conv2d(c, width, 1) for c in channels])
            self.output = nn.Conv2d(width, 1, 1, bias=False)

        def forward(self, x):
            for cycle, skip in zip(self.cycles, self.skips, strict=True):
                x = nn.functional.gelu(cycle(x) + skip(x))
            return self.output(x)

    return MgNO()


def relative_l2_torch(pred, target):
    diff = (pred - target).flatten(1).norm(dim=1)
    return (diff / target.flatten(1).norm(dim=1)).mean()


def main() -> None:
    try:
        import torch
    except ImportError:
        print("mgno_torch: torch is not installed; `make bench` installs it into .venv-bench")
        return

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    key_model, key_x, key_y = jax.random.split(jax.random.key(0), 3)
    model = models.MgNO(1, 1, key=key_model)
    x = jax.random.normal(key_x, (BATCH, 1, SIZE, SIZE))
    y = jax.random.normal(key_y, (BATCH, 1, SIZE, SIZE))
    step = compile_step(model, x, y)

    net = torch_mgno(torch)
    torch_params = sum(p.numel() for p in net.parameters())
    torch_opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    tx, ty = torch.randn(BATCH, 1, SIZE, SIZE), torch.randn(BATCH, 1, SIZE, SIZE)

    def torch_step():
        torch_opt.zero_grad()
        value = relative_l2_torch(net(tx), ty)
        value.backward()
        torch_opt.step()

    def torch_infer():
        with torch.no_grad():
            net(tx)

    def jax_step():
        jax.block_until_ready(step.train())

    def jax_infer():
        jax.block_until_ready(step.infer())

    contenders = {
        "jaxops step": jax_step,
        "torch step": torch_step,
        "jaxops inference": jax_infer,
        "torch inference": torch_infer,
    }
    median = interleaved(contenders, REPEATS)

    print(
        f"\nMgNO-2D, paper Darcy configuration, {SIZE}×{SIZE}, batch {BATCH} ({machine()}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads)"
    )
    print(f"parameters: jaxops {count_parameters(model):,}, torch {torch_params:,}")
    print(f"{'':<12}{'jaxops':>18}{'torch':>18}{'ratio':>8}")
    for what in ("step", "inference"):
        ours, theirs = median[f"jaxops {what}"], median[f"torch {what}"]
        print(
            f"{what:<12}{BATCH / ours:>10.1f} smp/s{BATCH / theirs:>10.1f} smp/s"
            f"{theirs / ours:>7.2f}×"
        )
    print(
        f"jaxops compile: training step {step.compile_train:.1f} s, "
        f"inference {step.compile_infer:.1f} s"
    )
