"""Recover a Darcy coefficient field from sparse, noisy observations of the pressure, through
the numerical solver and through a trained FNO surrogate, with Tikhonov (H¹), total
variation and a learned prior (RED with a trained denoiser).

Data: the FNO paper's Darcy protocol (Li et al., ICLR 2021): a ∈ {3, 12} thresholded from a
Gaussian field, f = 1, u = 0 on the boundary, on an n×n nodal grid. The unknown is bounded,
a = 3 + 9·sigmoid(z), and starts from the constant 7.5; u is observed at every `stride`-th
interior node with `noise` relative Gaussian noise. Forward maps: `pde.solve_darcy`
(multigrid-preconditioned CG, differentiated by an adjoint solve) and an FNO fitted with
`train.fit` on `--train` solver samples. The RED prior's denoiser is a second FNO fitted on
(a + σ ξ, a) pairs of the same kind of fields. One more surrogate run (`surrogate_ae_tv`)
adds the surrogate's test error to the noise, σ² + (ε·rms(y))² (the approximation error
approach of Kaipio & Somersalo, J. Comput. Appl. Math. 2007), which also strengthens the
prior relative to the data; `solver_ae_tv` is the solver with that same objective, the
control.

    python -m experiments.differentiable.darcy_inverse [--n 33 --stride 2 --steps 400]
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

LO, HI = 3.0, 12.0
FORWARDS = ("solver", "surrogate")


def parse(argv=None):
    parser = script_parser(__doc__)
    parser.add_argument("--n", type=int, default=33, help="nodes per axis")
    parser.add_argument("--stride", type=int, default=2, help="observe every stride-th node")
    parser.add_argument("--noise", type=float, default=0.01, help="relative noise level")
    parser.add_argument("--train", type=int, default=200, help="surrogate training samples")
    parser.add_argument("--test", type=int, default=40, help="surrogate test samples")
    parser.add_argument("--epochs", type=int, default=40, help="surrogate/denoiser epochs")
    parser.add_argument("--width", type=int, default=16, help="FNO width")
    parser.add_argument("--modes", type=int, default=8, help="FNO modes per axis")
    parser.add_argument("--denoise-sigma", type=float, default=1.5, help="denoiser noise")
    parser.add_argument("--steps", type=int, default=400, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=0.2, help="Adam learning rate (latent)")
    parser.add_argument("--tikhonov", type=float, default=1e-5, help="H¹ weight")
    parser.add_argument("--tv", type=float, default=1e-2, help="total variation weight")
    parser.add_argument("--red", type=float, default=2.0, help="RED weight")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", default=None, help="results folder (none: results/ here)")
    return parser.parse_args(argv)


def fno(args, key):
    modes = (args.modes, args.modes)
    return models.FNO(1, 1, modes, args.width, 4, projection_width=4 * args.width, key=key)


def fit(model, x, y, args, key):
    split = args.train
    result = train.fit(model, (x[:split], y[:split]), (x[split:], y[split:]),
                       optimizer=optax.adam(3e-3), epochs=args.epochs, batch_size=20, key=key,
                       progress=False, log_every=args.epochs)  # fmt: skip
    return result.model, float(np.mean(result.test_errors))


def main(argv=None):
    args = parse(argv)
    keys = iter(jax.random.split(jax.random.key(args.seed), 16))
    problem = pde.DarcyFlow(n=args.n)
    n_samples = args.train + args.test
    samples, gen_seconds = wall_time(
        lambda: jax.jit(jax.vmap(problem.sample))(jax.random.split(next(keys), n_samples))
    )
    a_data, u_data = samples.inputs, samples.outputs
    (surrogate, surrogate_error), surrogate_seconds = wall_time(
        lambda: fit(fno(args, next(keys)), a_data, u_data, args, next(keys))
    )
    noisy = a_data + args.denoise_sigma * jax.random.normal(next(keys), a_data.shape)
    (denoiser, denoiser_error), denoiser_seconds = wall_time(
        lambda: fit(fno(args, next(keys)), noisy, a_data, args, next(keys))
    )

    a_true = problem.coefficient(next(keys))[None]
    solver = jax.jit(lambda a: pde.solve_darcy(a[0])[None])
    u_true = solver(a_true)
    points = inverse.grid_points(u_true.shape, args.stride, interior=True)
    obs = inverse.Observations.of(next(keys), u_true, points, args.noise)
    guess = jnp.full_like(a_true, 0.5 * (LO + HI))
    regularizers = {
        "tikhonov": (inverse.Tikhonov(order=1), args.tikhonov),
        "tv": (inverse.TotalVariation(), args.tv),
        "red": (inverse.RED(denoiser), args.red),
    }
    rel = lambda x, y: float(jnp.linalg.norm(x - y) / jnp.linalg.norm(y))
    figures = {
        "grid": f"{args.n}x{args.n}",
        "observed_points": len(points),
        "noise_sigma": obs.sigma,
        "data_seconds": gen_seconds,
        "surrogate_test_rel_l2": surrogate_error,
        "surrogate_fit_seconds": surrogate_seconds,
        "denoiser_fit_seconds": denoiser_seconds,
        "denoiser_test_rel_l2": denoiser_error,
        "denoiser_input_rel_l2": rel(noisy[args.train :], a_data[args.train :]),
        "initial_guess_rel_l2_a": rel(guess, a_true),
    }
    # The surrogate's own error added to the noise (approximation error approach, Kaipio &
    # Somersalo, J. Comput. Appl. Math. 2007), for one extra run with total variation.
    model_error = surrogate_error * float(jnp.sqrt(jnp.mean(obs.values**2)))
    inflated = inverse.Observations(obs.indices, obs.values,
                                    float(np.hypot(obs.sigma, model_error)), obs.shape)  # fmt: skip
    figures["surrogate_ae_sigma"] = inflated.sigma
    runs = [(f, forward, r, obs) for f, forward in zip(FORWARDS, (solver, surrogate), strict=True)
            for r in regularizers]  # fmt: skip
    runs.append(("surrogate_ae", surrogate, "tv", inflated))
    runs.append(("solver_ae", solver, "tv", inflated))  # the control: same objective scale
    estimates, histories = {}, {}
    for forward_name, forward, reg_name, misfit in runs:
        reg, weight = regularizers[reg_name]
        result = inverse.recover(forward, misfit, guess, regularizer=reg, weight=weight,
                                 optimizer=optax.adam(args.lr), steps=args.steps,
                                 parametrization=inverse.Bounded(LO, HI))  # fmt: skip
        name = f"{forward_name}_{reg_name}"
        estimates[name], histories[name] = result.estimate, result.history["misfit"]
        figures[f"{name}_rel_l2_a"] = rel(result.estimate, a_true)
        figures[f"{name}_rel_l2_u"] = rel(solver(result.estimate), u_true)
        figures[f"{name}_seconds"] = result.seconds
        figures[f"{name}_ms_per_step"] = 1e3 * result.seconds_per_step
        figures[f"{name}_compile_seconds"] = result.compile_seconds
    for reg_name in regularizers:  # ratios > 1: the surrogate is faster
        solver_ms, surrogate_ms = (figures[f"{k}_{reg_name}_ms_per_step"] for k in FORWARDS)
        figures[f"speedup_{reg_name}_per_step"] = solver_ms / surrogate_ms
        total = [figures[f"{k}_{reg_name}_seconds"] + figures[f"{k}_{reg_name}_compile_seconds"]
                 for k in FORWARDS]  # fmt: skip
        figures[f"speedup_{reg_name}_total_with_compile"] = total[0] / total[1]
    figure = plot(a_true, u_true, obs, estimates, histories, figures)
    write_results("darcy_inverse", figures, figure, args.out)


def plot(a_true, u_true, obs, estimates, histories, figures):
    fig, axes = plt.subplots(3, 4, figsize=(15, 10.5), constrained_layout=True)
    n = a_true.shape[-1]
    extent = (0, 1, 0, 1)
    show = lambda ax, field, title, **kw: (
        fig.colorbar(ax.imshow(np.asarray(field).T, origin="lower", extent=extent, **kw), ax=ax),
        ax.set(title=title, xlabel="x", ylabel="y"),
    )
    show(axes[0, 0], a_true[0], "true coefficient a", vmin=LO, vmax=HI, cmap="viridis")
    show(axes[0, 1], u_true[0], f"pressure u, {int(obs.mask().sum())} observed nodes")
    rows, cols = np.nonzero(obs.mask()[0])
    axes[0, 1].scatter(rows / (n - 1), cols / (n - 1), s=4, c="red", label="observed")
    axes[0, 1].legend(loc="upper right", fontsize=8)
    ax = axes[0, 2]
    for name, history in histories.items():
        if "_ae" not in name:  # their misfits use another σ
            ax.semilogy(history, label=name, ls="-" if name.startswith("solver") else "--")
    ax.axhline(0.5, color="k", lw=0.8, ls=":", label="noise level (½)")
    ax.set(title="data misfit during recovery", xlabel="Adam step", ylabel="misfit")
    ax.legend(fontsize=7)
    ax = axes[0, 3]
    names = list(estimates)  # surrogate_ae_tv: σ inflated by the surrogate's test error
    errors = [figures[f"{k}_rel_l2_a"] for k in names]
    colour = {"solver": "C0", "surrogate": "C1", "surrogate_ae": "C2", "solver_ae": "C3"}
    ax.barh(names, errors, color=[colour[k.rsplit("_", 1)[0]] for k in names])
    ax.axvline(figures["initial_guess_rel_l2_a"], color="k", ls=":", label="initial guess")
    ax.set(title="relative L2 error of a", xlabel="‖a − a_true‖ / ‖a_true‖")
    ax.legend(fontsize=8)
    for row, forward in ((1, "solver"), (2, "surrogate")):
        for col, reg in enumerate(("tikhonov", "tv", "red")):
            key = f"{forward}_{reg}"
            title = f"{forward}, {reg}: error {figures[f'{key}_rel_l2_a']:.3f}"
            show(axes[row, col], estimates[key][0], title, vmin=LO, vmax=HI, cmap="viridis")
        key = f"{forward}_tv"
        error = np.abs(np.asarray(estimates[key][0] - a_true[0]))
        show(axes[row, 3], error, f"|a − a_true|, {forward}, tv", cmap="magma")
    return fig


if __name__ == "__main__":
    main()
