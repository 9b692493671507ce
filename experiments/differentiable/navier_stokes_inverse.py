"""Recover the initial vorticity of 2D Navier–Stokes from a noisy later snapshot, through the
numerical solver (`pde.simulate`, ETDRK4, differentiated by diffrax's checkpointed adjoint)
and through a trained FNO surrogate ω0 → ω(T).

Setup: `pde.NavierStokes2D` on the unit torus, n×n, ν = 1e-3, the FNO paper's forcing (Li et
al., ICLR 2021); ω0 from `pde.periodic_grf` with the paper's covariance N(0, 7^{3/2}(−Δ +
49 I)^{−2.5}) scaled by `--scale` (the library's normalisation gives standard deviations of
a few hundredths, at which the flow barely moves within T; ×15 gives ~0.5 and a nonlinear
map). The whole snapshot ω(T) (every `stride`-th point) is observed with `noise` relative
Gaussian noise; the estimate starts from ω0 = 0, with a small H¹ (Tikhonov order 1) penalty.

Through the surrogate the data are fitted twice: with the noise σ alone, and with the
surrogate's own error added to it, σ² + (ε·rms(y))² with ε its test error (the approximation
error approach of Kaipio & Somersalo, J. Comput. Appl. Math. 2007): a surrogate 5 % off
should not be asked to match 1 % data.

    python -m experiments.differentiable.navier_stokes_inverse [--n 32 --t-end 1 --steps 300]
"""

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxops import inverse, models, pde, train

from ._common import script_parser, wall_time, write_results

FORWARDS = ("solver", "surrogate")


def parse(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=32, help="points per axis")
    parser.add_argument("--nu", type=float, default=1e-3, help="viscosity")
    parser.add_argument("--t-end", type=float, default=1.0, help="time of the snapshot")
    parser.add_argument("--dt", type=float, default=0.02, help="ETDRK4 step")
    parser.add_argument("--scale", type=float, default=15.0, help="initial field amplitude")
    parser.add_argument("--stride", type=int, default=1, help="observe every stride-th point")
    parser.add_argument("--noise", type=float, default=0.01, help="relative noise level")
    parser.add_argument("--train", type=int, default=250, help="surrogate training samples")
    parser.add_argument("--test", type=int, default=50, help="surrogate test samples")
    parser.add_argument("--epochs", type=int, default=40, help="surrogate epochs")
    parser.add_argument("--width", type=int, default=16, help="FNO width")
    parser.add_argument("--modes", type=int, default=10, help="FNO modes per axis")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    parser.add_argument("--weight", type=float, default=1e-3, help="H¹ (Tikhonov) weight")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="results folder (none: results/ here)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    keys = iter(jax.random.split(jax.random.key(args.seed), 16))
    equation = pde.NavierStokes2D(args.n, nu=args.nu, forcing="fno")
    ts = np.array([0.0, args.t_end])
    solver = jax.jit(lambda w0: pde.simulate(equation, w0, ts, dt=args.dt)[-1])
    initial = lambda key: args.scale * pde.periodic_grf(key, (args.n, args.n))[None]

    def generate(key):
        w0 = jax.vmap(initial)(jax.random.split(key, args.train + args.test))
        return w0, jax.vmap(solver)(w0)

    (w0_data, wt_data), data_seconds = wall_time(lambda: jax.jit(generate)(next(keys)))
    fno = models.FNO(1, 1, (args.modes, args.modes), args.width, 4,
                     projection_width=4 * args.width, grid="periodic", key=next(keys))  # fmt: skip
    split = args.train
    fitted, fit_seconds = wall_time(
        lambda: train.fit(
            fno,
            (w0_data[:split], wt_data[:split]),
            (w0_data[split:], wt_data[split:]),
            optimizer=optax.adam(3e-3),
            epochs=args.epochs,
            batch_size=20,
            key=next(keys),
            progress=False,
            log_every=args.epochs,
        )  # fmt: skip
    )
    surrogate = fitted.model

    w0_true = jax.jit(initial)(next(keys))
    wt_true = solver(w0_true)
    points = inverse.grid_points(wt_true.shape, args.stride)
    obs = inverse.Observations.of(next(keys), wt_true, points, args.noise)
    observed = jnp.zeros(wt_true.size).at[obs.indices].set(obs.values).reshape(wt_true.shape)
    guess = jnp.zeros_like(w0_true)
    prior = inverse.Tikhonov(order=1, grid="periodic")
    rel = lambda x, y: float(jnp.linalg.norm(x - y) / jnp.linalg.norm(y))
    figures = {
        "grid": f"{args.n}x{args.n}",
        "t_end": args.t_end,
        "observed_points": len(points),
        "noise_sigma": obs.sigma,
        "omega0_std": float(w0_true.std()),
        "data_seconds": data_seconds,
        "surrogate_fit_seconds": fit_seconds,
        "surrogate_test_rel_l2": float(np.mean(fitted.test_errors)),
        "initial_guess_rel_l2": rel(guess, w0_true),
        "snapshot_as_estimate_rel_l2": rel(wt_true, w0_true),
    }
    estimates, histories = {}, {}
    model_error = figures["surrogate_test_rel_l2"] * float(jnp.sqrt(jnp.mean(obs.values**2)))
    inflated = inverse.Observations(obs.indices, obs.values,
                                    float(np.hypot(obs.sigma, model_error)), obs.shape)  # fmt: skip
    figures["surrogate_ae_sigma"] = inflated.sigma
    runs = (("solver", solver, obs), ("surrogate", surrogate, obs),
            ("surrogate_ae", surrogate, inflated))  # fmt: skip
    for name, forward, misfit in runs:
        result = inverse.recover(forward, misfit, guess, regularizer=prior, weight=args.weight,
                                 optimizer=optax.adam(args.lr), steps=args.steps)  # fmt: skip
        estimates[name], histories[name] = result.estimate, result.history["misfit"]
        figures[f"{name}_rel_l2_omega0"] = rel(result.estimate, w0_true)
        figures[f"{name}_rel_l2_omegaT"] = rel(solver(result.estimate), wt_true)
        figures[f"{name}_final_misfit"] = float(result.history["misfit"][-1])
        figures[f"{name}_seconds"] = result.seconds
        figures[f"{name}_ms_per_step"] = 1e3 * result.seconds_per_step
        figures[f"{name}_compile_seconds"] = result.compile_seconds
    figures["speedup_per_step"] = figures["solver_ms_per_step"] / figures["surrogate_ms_per_step"]
    totals = [figures[f"{k}_seconds"] + figures[f"{k}_compile_seconds"] for k in FORWARDS]
    figures["speedup_total_with_compile"] = totals[0] / totals[1]
    figure = plot(w0_true, observed, obs, estimates, histories, figures)
    write_results("navier_stokes_inverse", figures, figure, args.out)


def plot(w0_true, observed, obs, estimates, histories, figures):
    fig, axes = plt.subplots(2, 5, figsize=(20, 7.5), constrained_layout=True)
    limit = float(jnp.abs(w0_true).max())
    show = lambda ax, field, title, **kw: (
        fig.colorbar(
            ax.imshow(np.asarray(field).T, origin="lower", extent=(0, 1, 0, 1), **kw), ax=ax
        ),  # fmt: skip
        ax.set(title=title, xlabel="x", ylabel="y"),
    )
    signed = dict(cmap="RdBu_r", vmin=-limit, vmax=limit)
    show(axes[0, 0], w0_true[0], "true ω0", **signed)
    t = figures["t_end"]
    show(axes[1, 0], observed[0], f"observed ω(T={t:g}), σ = {obs.sigma:.2g}", cmap="RdBu_r")
    for col, name in enumerate(estimates, start=1):
        error = figures[f"{name}_rel_l2_omega0"]
        ms = figures[f"{name}_ms_per_step"]
        title = f"{name}: error {error:.3f}, {ms:.1f} ms/step"
        show(axes[0, col], estimates[name][0], title, **signed)
        show(axes[1, col], np.abs(estimates[name][0] - w0_true[0]), f"|ω0 error|, {name}",
             cmap="magma", vmin=0, vmax=0.5 * limit)  # fmt: skip
    ax = axes[0, 4]
    for name, history in histories.items():
        ax.semilogy(history, label=name)
    ax.axhline(0.5, color="k", lw=0.8, ls=":", label="noise level (½)")
    ax.set(title="data misfit (each run's own σ)", xlabel="Adam step", ylabel="misfit")
    ax.legend()
    ax = axes[1, 4]
    names = ["initial guess (0)", "snapshot ω(T)", *estimates]
    values = [figures["initial_guess_rel_l2"], figures["snapshot_as_estimate_rel_l2"]]
    values += [figures[f"{k}_rel_l2_omega0"] for k in estimates]
    ax.barh(names, values, color=["gray", "gray", "C0", "C1", "C2"])
    ax.set(title="relative L2 error of ω0", xlabel="‖ω0 − ω0_true‖ / ‖ω0_true‖")
    return fig


if __name__ == "__main__":
    main()
