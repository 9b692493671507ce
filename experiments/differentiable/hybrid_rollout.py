"""Solver in the loop: a coarse Kuramoto–Sivashinsky solver corrected by an FNO, against a
pure FNO surrogate and the bare coarse solver.

Kuramoto–Sivashinsky u_t + u u_x + u_xx + u_xxxx = 0 on a periodic interval of length 35
(chaotic). Reference: `pde.simulate` on 128 points (ETDRK4, dt 0.1) after a spin-up of 20
time units, spectrally truncated to the 32-point coarse grid (`hybrid.reference_trajectories`);
states every dt = 0.5. Models, all one-step maps u(t) → u(t + dt) rolled out autoregressively:

- coarse: ETDRK4 on the 32-point grid (2 steps of 0.25), no learning;
- surrogate: an FNO-1D trained by `train.fit_trajectories` (k-step unrolled, normalised);
- hybrid: the coarse step plus an FNO correction (`hybrid.CorrectedStep`), trained through
  k unrolled solver + network steps (`hybrid.fit_hybrid`): Um et al., NeurIPS 2020;
  Kochkov et al., PNAS 2021;
- neural ODE: du/dt = FNO(u), Tsit5 with adaptive steps (rtol 1e-3; Chen et al., NeurIPS
  2018), trained through 2 unrolled steps for `--ode-epochs` epochs only (each step is an
  adaptive solve: slow on a CPU).

Test: held-out initial conditions rolled out for `--test-steps` steps; relative L2 error per
step, median over test trajectories. Figure: error vs time, space–time plots of one test
trajectory. Run: `python -m experiments.differentiable.hybrid_rollout [--epochs N ...]`.
"""

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax

from jaxops import hybrid, models, pde, train
from jaxops.train import rollout
from jaxops.train.losses import relative_l2

from ._common import script_parser, wall_time, write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LENGTH, N_FINE, DT, SPIN_UP = 35.0, 128, 0.5, 20.0


def reference(key, n_samples: int, n_coarse: int, n_times: int):
    """`(N, n_times, 1, n_coarse)` fine-grid trajectories seen on the coarse grid."""
    keys = jax.random.split(key, n_samples)
    u0 = jax.vmap(lambda k: pde.periodic_grf(k, (n_coarse,), 2.5, 7.0, length=LENGTH))(keys)
    fine = pde.KuramotoSivashinsky(n=N_FINE, length=LENGTH)
    ts = np.arange(n_times) * DT
    data = hybrid.reference_trajectories(
        fine, u0[:, None], ts, t_skip=SPIN_UP, solver="etdrk4", dt=0.1
    )
    return np.asarray(data), ts


def rollouts(model, test):
    """Compiled rollouts of every test trajectory from its first state, and the seconds the
    second (compiled) call took."""
    steps = test.shape[1] - 1
    run = jax.jit(jax.vmap(lambda u: rollout.rollout(model, u[None], steps)))
    initial = jnp.asarray(test[:, 0])
    jax.block_until_ready(run(initial))
    preds, seconds = wall_time(lambda: run(initial))
    return np.asarray(preds), seconds


def errors_of(preds, test):
    """`(N, steps)` relative L2 errors of predicted states against the reference."""
    return np.asarray(jax.vmap(jax.vmap(relative_l2))(jnp.asarray(preds), jnp.asarray(test[:, 1:])))


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--n-coarse", type=int, default=32, help="coarse grid points")
    parser.add_argument("--n-train", type=int, default=32, help="training trajectories")
    parser.add_argument("--n-test", type=int, default=16, help="held-out trajectories")
    parser.add_argument(
        "--train-steps", type=int, default=16, help="dt steps per training trajectory"
    )
    parser.add_argument("--test-steps", type=int, default=40, help="dt steps of the test rollouts")
    parser.add_argument("--unroll", type=int, default=4, help="k: unrolled training steps")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs")
    parser.add_argument("--width", type=int, default=32, help="FNO width")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument(
        "--ode-epochs", type=int, default=3, help="neural ODE epochs (adaptive: slow); 0: skip"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="results folder (none: results/ here)")
    args = parser.parse_args(argv)

    key_train, key_test, key_models = jax.random.split(jax.random.key(args.seed), 3)
    (train_set, times), data_seconds = wall_time(
        lambda: reference(key_train, args.n_train, args.n_coarse, args.train_steps + 1)
    )
    test_set, _ = reference(key_test, args.n_test, args.n_coarse, args.test_steps + 1)
    monitor_set = test_set[:, : args.train_steps + 1]  # scored during training
    coarse = pde.KuramotoSivashinsky(n=args.n_coarse, length=LENGTH)
    keys = jax.random.split(key_models, 3)
    figures = {"reference data seconds": round(data_seconds, 1)}
    predictions, seconds, train_seconds = {}, {}, {}

    def fno(key):
        modes = (args.n_coarse // 2 - 2,)
        return models.FNO(
            1, 1, modes, width=args.width, depth=3, projection_width=64, grid=None, key=key
        )

    def options(epochs, unroll, key):
        """Adam with a cosine decay over the run, batches of 16 windows of 1 + unroll states."""
        steps = epochs * (args.n_train * (args.train_steps - unroll + 1) // 16)
        adam = optax.adam(optax.cosine_decay_schedule(args.lr, steps))
        return dict(optimizer=adam, epochs=epochs, batch_size=16, key=key, progress=False)

    def trained(name, fit, model, epochs, unroll, key, **kwargs):
        result, train_seconds[name] = wall_time(
            lambda: fit(
                model,
                train_set,
                monitor_set,
                times=times,
                steps=unroll,
                **options(epochs, unroll, key),
                **kwargs,
            )  # fmt: skip
        )
        predictions[name], seconds[name] = rollouts(result.model, test_set)

    bare = hybrid.CorrectedStep(coarse, None, DT, substeps=2)
    predictions["coarse solver"], seconds["coarse solver"] = rollouts(bare, test_set)
    surrogate = fno(keys[0])
    trained("FNO surrogate", train.fit_trajectories, surrogate, args.epochs, args.unroll,
            keys[0], mode="unrolled")  # fmt: skip
    corrected = hybrid.CorrectedStep(coarse, fno(keys[1]), DT, substeps=2, scale=0.1)
    trained("hybrid (solver + FNO)", hybrid.fit_hybrid, corrected, args.epochs, args.unroll,
            keys[1])  # fmt: skip
    if args.ode_epochs:
        node = hybrid.NeuralODEStep(hybrid.NeuralODE(fno(keys[2]), rtol=1e-3, atol=1e-4), DT)
        trained("neural ODE", hybrid.fit_hybrid, node, args.ode_epochs, 2, keys[2])

    fine = pde.KuramotoSivashinsky(n=N_FINE, length=LENGTH)
    ts = np.arange(args.test_steps + 1) * DT  # the reference solver itself, for its cost
    solve = lambda u: pde.simulate(fine, hybrid.resample(u, N_FINE), ts, dt=0.1)
    fine_run = jax.jit(jax.vmap(solve))
    initial = jnp.asarray(test_set[:, 0])
    jax.block_until_ready(fine_run(initial))
    _, seconds["fine solver (128 points)"] = wall_time(lambda: fine_run(initial))

    t = DT * np.arange(1, args.test_steps + 1)
    medians = {name: np.median(errors_of(p, test_set), axis=0) for name, p in predictions.items()}
    report_times = [2.5, 5.0, 10.0, 20.0]
    for name, median in medians.items():
        for tr in report_times:
            if tr <= t[-1]:
                figures[f"{name}: median rel L2 at t={tr:g}"] = round(
                    float(median[np.argmin(abs(t - tr))]), 4
                )
    for name, value in seconds.items():
        figures[f"{name}: rollout seconds ({args.n_test} x {args.test_steps} steps)"] = round(
            value, 4
        )
    for name, value in train_seconds.items():
        figures[f"{name}: training seconds"] = round(value, 1)

    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, len(predictions) + 1)
    ax = fig.add_subplot(grid[0, :])
    for name, median in medians.items():
        ax.semilogy(t, median, label=name)
    ax.set_xlabel("rollout time t")
    ax.set_ylabel("relative L2 error (median over test)")
    ax.set_title(f"KS, L={LENGTH:g}: coarse {args.n_coarse} points vs {N_FINE}-point reference")
    ax.grid(alpha=0.3)
    ax.legend()
    x = np.arange(args.n_coarse) * LENGTH / args.n_coarse
    panels = {
        "reference (128 → 32)": test_set[0, 1:, 0],
        **{n: p[0, :, 0] for n, p in predictions.items()},
    }
    limit = np.abs(test_set[0]).max()
    for i, (name, field) in enumerate(panels.items()):
        ax = fig.add_subplot(grid[1, i])
        mesh = ax.pcolormesh(x, t, field, cmap="RdBu_r", vmin=-limit, vmax=limit, shading="auto")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("x")
        if i == 0:
            ax.set_ylabel("t")
    fig.tight_layout()
    fig.colorbar(mesh, ax=fig.axes[1:], label="u (test trajectory 0)", shrink=0.8)
    write_results("hybrid_rollout", figures, fig, args.out)


if __name__ == "__main__":
    main()
