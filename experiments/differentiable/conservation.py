"""Hard conservation constraints on a neural operator: with and without the projection.

Panel 1 (mass): 1-D viscous Burgers on the periodic unit interval (conservation form: the
integral of u is an invariant), the map u(0) → u(T). An FNO is trained twice with the same
seed, initial weights, data, optimiser and budget: plain, and wrapped in
`Constrained(fno, MassConserving())` (the output is projected so that ∫u_pred = ∫u(0):
ProbConserv's update with uniform variance, Hansen et al., ICML 2023). The plain model
projected after training (no retraining) is a third row. Reported: test relative L2 error
and the conservation error |∫u_pred − ∫u_true| / ∫|u_true| per test sample (median, max).

Panel 2 (divergence): 2-D Navier–Stokes (FNO-paper forcing and initial vorticity), the map
velocity(0) → velocity(T), both divergence-free: the same three rows with
`DivergenceFree()` (Leray projection). Reported: relative L2 and ‖∇·u_pred‖ / ‖∇u_true‖
(spectral derivatives).

Models train in physical units (`normalizer="none"`): the projection acts on the physical
field. Run: `python -m experiments.differentiable.conservation [--epochs N ...]`.
"""

import argparse

import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib
import numpy as np
import optax

from jaxops import layers, models, pde, train

from ._common import script_parser, wall_time, write_results

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def burgers_data(key, n_samples: int, n: int, nu: float, t_end: float, dt: float):
    """Pairs (u(0), u(T)) `(N, 1, n)`: smooth random initial data with a random mean."""
    equation = pde.Burgers(n=n, length=1.0, nu=nu)
    k_field, k_mean = jr.split(key)
    fields = jax.vmap(lambda k: pde.periodic_grf(k, (n,), alpha=2.5, tau=5.0))(
        jr.split(k_field, n_samples)
    )
    fields = fields / jnp.std(fields, axis=1, keepdims=True)
    u0 = (0.5 * fields + jr.uniform(k_mean, (n_samples, 1), minval=-0.5, maxval=0.5))[:, None]
    ts = np.array([0.0, t_end])
    solve = jax.jit(jax.vmap(lambda u: pde.simulate(equation, u, ts, dt=dt)[-1]))
    return u0, solve(u0)


def navier_stokes_data(key, n_samples: int, n: int, nu: float, t_end: float, dt: float):
    """Pairs (velocity(0), velocity(T)) `(N, 2, n, n)` of FNO-paper vorticity fields."""
    equation = pde.NavierStokes2D(n=n, nu=nu, forcing="fno")
    omega0 = jax.vmap(lambda k: pde.periodic_grf(k, (n, n)))(jr.split(key, n_samples))[:, None]
    ts = np.array([0.0, t_end])
    velocity = lambda w: equation.velocity(equation.grid.to_spectral(w))
    solve = jax.vmap(lambda w: (velocity(w), velocity(pde.simulate(equation, w, ts, dt=dt)[-1])))
    return jax.jit(solve)(omega0)


def train_model(model, data, test, args, key):
    schedule = optax.cosine_decay_schedule(args.lr, args.epochs * (len(data[0]) // args.batch))
    return train.fit(
        model, data, test, optimizer=optax.adam(schedule), epochs=args.epochs,
        batch_size=args.batch, key=key, normalizer="none", progress=False,
    )  # fmt: skip


def conservation_errors(model, x, y):
    """|∫ model(x) − ∫ y| / ∫ |y| per sample (all channels), and the relative L2 errors."""
    pred = train.predict(model, x)
    mass = jax.vmap(layers.integral)
    err = jnp.abs(mass(pred) - mass(y)).sum(axis=1) / mass(jnp.abs(y)).sum(axis=1)
    return np.asarray(err), np.asarray(train.evaluate_model(model, x, y))


def divergence_errors(model, x, y):
    """‖∇·u_pred‖₂ / ‖∇u_true‖₂ per sample (spectral derivatives), and relative L2 errors."""
    pred = train.predict(model, x)
    grid = pde.grids.PeriodicGrid(y.shape[2:])
    grad_norm = lambda v: jnp.sqrt(sum(jnp.sum(grid.gradient(v, a) ** 2) for a in range(2)))
    div = jax.vmap(lambda p: jnp.linalg.norm(layers.divergence(p)))(pred)
    err = div / jax.vmap(grad_norm)(y)
    return np.asarray(err), np.asarray(train.evaluate_model(model, x, y))


def summary(prefix: str, values: np.ndarray) -> dict:
    return {
        f"{prefix}_median": float(np.median(values)),
        f"{prefix}_mean": float(np.mean(values)),
        f"{prefix}_max": float(np.max(values)),
    }


def compare(tag, fno, constraint, data, test, args, key, measure, figures) -> dict:
    """Train `fno` plain and `Constrained(fno, constraint)` with the same key and budget;
    also project the plain model after training. `measure(model, x, y)` gives
    (constraint error, relative L2) per test sample."""
    results = {}
    runs = {"plain": fno, "projected_in_training": models.Constrained(fno, constraint)}
    for name, model in runs.items():
        result, seconds = wall_time(lambda model=model: train_model(model, data, test, args, key))
        results[name] = measure(result.model, *test)
        figures[f"{tag}_{name}_train_seconds"] = round(seconds, 1)
        if name == "plain":
            posthoc = models.Constrained(result.model, constraint)
            results["projected_after_training"] = measure(posthoc, *test)
    for name, (constraint_error, rel) in results.items():
        figures.update(summary(f"{tag}_{name}_constraint_error", constraint_error))
        figures.update(summary(f"{tag}_{name}_test_rel_l2", rel))
    # The target satisfies the constraint and the projection is orthogonal (in the L² norm of
    # the relative error), so projecting after training can only lower each sample's error.
    better = results["projected_after_training"][1] <= results["plain"][1] * (1 + 1e-6)
    figures[f"{tag}_after_training_not_worse_fraction"] = float(np.mean(better))
    return results


def main(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=128, help="Burgers grid points")
    parser.add_argument("--n-train", type=int, default=256, help="Burgers training samples")
    parser.add_argument("--n-test", type=int, default=64, help="Burgers test samples")
    parser.add_argument("--epochs", type=int, default=80, help="Burgers epochs")
    parser.add_argument("--batch", type=int, default=32, help="Burgers batch size")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--width", type=int, default=32, help="Burgers FNO width")
    parser.add_argument("--modes", type=int, default=16, help="Burgers FNO modes")
    parser.add_argument("--nu", type=float, default=0.02, help="Burgers viscosity")
    parser.add_argument("--t-end", type=float, default=0.4, help="Burgers time T")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--ns", type=int, default=32, help="Navier–Stokes grid (0: skip)")
    parser.add_argument("--ns-train", type=int, default=96, help="NS training samples")
    parser.add_argument("--ns-test", type=int, default=32, help="NS test samples")
    parser.add_argument("--ns-epochs", type=int, default=30, help="NS epochs")
    parser.add_argument("--ns-batch", type=int, default=8, help="NS batch size")
    parser.add_argument("--ns-width", type=int, default=16, help="NS FNO width")
    parser.add_argument("--ns-t-end", type=float, default=0.5, help="NS time T")
    parser.add_argument("--out", default=None, help="results folder (none: results/ here)")
    args = parser.parse_args(argv)
    key = jr.key(args.seed)
    k_data, k_model, k_fit, k_ns, k_ns_model = jr.split(key, 5)
    figures: dict = {"config": vars(args).copy()}

    # Panel 1: mass (Burgers 1-D, u(0) -> u(T)).
    n_samples = args.n_train + args.n_test
    (x, y), seconds = wall_time(
        lambda: burgers_data(k_data, n_samples, args.n, args.nu, args.t_end, 1e-3)
    )
    figures["burgers_data_seconds"] = round(seconds, 1)
    drift = jnp.abs(jax.vmap(layers.integral)(y) - jax.vmap(layers.integral)(x))
    figures["burgers_solver_mass_drift_max"] = float(drift.max())
    data = (x[: args.n_train], y[: args.n_train])
    test = (x[args.n_train :], y[args.n_train :])
    fno = models.FNO(1, 1, (args.modes,), args.width, depth=4, grid="periodic", key=k_model)
    mass_results = compare("mass", fno, models.MassConserving(), data, test, args, k_fit,
                           conservation_errors, figures)  # fmt: skip

    # Panel 2: divergence-free velocity (Navier–Stokes 2-D, velocity(0) -> velocity(T)).
    div_results, target_div = {}, None
    if args.ns:
        n_samples = args.ns_train + args.ns_test
        (u0, u1), seconds = wall_time(
            lambda: navier_stokes_data(k_ns, n_samples, args.ns, 1e-3, args.ns_t_end, 1e-2)
        )
        figures["ns_data_seconds"] = round(seconds, 1)
        # Velocities in units of their training rms (one scalar each for inputs and targets:
        # divergence-free fields stay divergence-free); the FNO-paper fields are ~0.02.
        u0, u1 = u0 / jnp.std(u0[: args.ns_train]), u1 / jnp.std(u1[: args.ns_train])
        data = (u0[: args.ns_train], u1[: args.ns_train])
        test = (u0[args.ns_train :], u1[args.ns_train :])
        fno2 = models.FNO(2, 2, (8, 8), args.ns_width, depth=3, grid="periodic", key=k_ns_model)
        ns_args = argparse.Namespace(**{**vars(args), "epochs": args.ns_epochs,
                                        "batch": args.ns_batch})  # fmt: skip
        div_results = compare("div", fno2, models.DivergenceFree(), data, test, ns_args, k_fit,
                              divergence_errors, figures)  # fmt: skip
        target_div = divergence_errors(lambda u: u, test[1], test[1])[0]
        figures.update(summary("div_target_divergence", target_div))

    write_results("conservation", figures, plot(mass_results, div_results, target_div), args.out)


COLORS = {"plain": "C0", "projected_after_training": "C1", "projected_in_training": "C2"}
LABELS = {
    "plain": "FNO",
    "projected_after_training": "FNO, projected\nafter training",
    "projected_in_training": "FNO + projection\nin training",
}


def plot(mass_results: dict, div_results: dict, target_div):
    rows = 1 + bool(div_results)
    fig, axes = plt.subplots(rows, 2, figsize=(11, 4.2 * rows), squeeze=False)
    floor = 1e-12  # exact zeros on a log axis
    _scatter(axes[0, 0], mass_results, floor, legend_at=0.25)
    axes[0, 0].set(title="Burgers 1-D, mass: conservation error per test sample",
                   ylabel="|∫u_pred − ∫u_true| / ∫|u_true|")  # fmt: skip
    _bars(axes[0, 1], mass_results, "Burgers 1-D, mass: test error")
    if div_results:
        _scatter(axes[1, 0], div_results, floor)
        axes[1, 0].axhline(np.median(target_div), color="k", ls="--", lw=1,
                           label="target (solver) level")  # fmt: skip
        axes[1, 0].legend(fontsize=7, loc="center right", bbox_to_anchor=(1.0, 0.5))
        axes[1, 0].set(title="Navier–Stokes 2-D, Leray: divergence per test sample",
                       ylabel="‖∇·u_pred‖ / ‖∇u_true‖")  # fmt: skip
        _bars(axes[1, 1], div_results, "Navier–Stokes 2-D, Leray: test error")
    fig.tight_layout()
    return fig


def _scatter(ax, results: dict, floor: float, legend_at: float = 0.5):
    for name, (errors, _) in results.items():
        ax.semilogy(np.maximum(errors, floor), "o", ms=3, color=COLORS[name],
                    label=LABELS[name].replace("\n", " "))  # fmt: skip
    ax.set(xlabel=f"test sample (exact zeros drawn at {floor:g})")
    ax.legend(fontsize=7, loc="center right", bbox_to_anchor=(1.0, legend_at))


def _bars(ax, results: dict, title: str):
    """Mean relative L2 with the 10–90 % range of the test samples as error bars."""
    names = list(results)
    errors = [results[k][1] for k in names]
    means = np.array([np.mean(e) for e in errors])
    low = means - np.array([np.percentile(e, 10) for e in errors])
    high = np.array([np.percentile(e, 90) for e in errors]) - means
    ax.bar(range(len(names)), means, yerr=[low, high], capsize=4,
           color=[COLORS[k] for k in names])  # fmt: skip
    ax.set_xticks(range(len(names)), [LABELS[k] for k in names], fontsize=8)
    ax.set(title=title, ylabel="test relative L2 (mean, 10–90 % bars)")


if __name__ == "__main__":
    main()
