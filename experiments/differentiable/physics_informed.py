"""Physics-informed training of an FNO for Darcy flow (PINO), and Spectral-Refiner fine-tuning.

Darcy coefficients from `pde.DarcyFlow` (the FNO paper's distribution) on an n×n nodal grid.
Every variant trains the same model, `physics.ZeroBoundary(FNO, 0.01)` (u = 0 on the boundary
exactly, as the PINO code's Darcy "mollifier"), without normalisers, with the same optimiser:

(a) data only: relative L² on `--labelled` solved samples;
(b) data + PINO: (a) plus `--physics-weight` × the Darcy residual of the prediction
    (`train.physics.darcy_loss`, the finite-difference system `solve_darcy` solves, in the
    `--pino-norm`: H⁻¹ by default) on the same samples;
(c) data-free PINO: the residual alone on `--unlabelled` coefficients, no solutions at all
    (`data_weight=0`, placeholder targets);
(d), (e) Spectral-Refiner (Cao et al., ICLR 2025): (a) and (b) with only their last spectral
    layer fine-tuned, data-free, on the H⁻¹ norm of the residual of their predictions for the
    test coefficients (`--refine-on test`: test-time fine-tuning that never sees a test
    solution) or for unlabelled ones (`--refine-on unlabelled`).

Reported: test relative L² error and the RMS interior residual ‖A u − f‖ (f = 1) of the
predictions on the test set (the zero prediction has 1; the CG solution its tolerance).

    python -m experiments.differentiable.physics_informed [--n 33 --epochs 100 ...]
"""

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxops import models, pde, train  # noqa: E402
from jaxops.train import physics  # noqa: E402

from ._common import script_parser, wall_time, write_results  # noqa: E402


def parse(argv=None):
    p = script_parser(__doc__)
    p.add_argument("--n", type=int, default=33, help="grid nodes per axis")
    p.add_argument("--labelled", type=int, default=16, help="solved training samples (a, b)")
    p.add_argument("--unlabelled", type=int, default=128, help="coefficients only (c, d)")
    p.add_argument("--test", type=int, default=32, help="solved test samples")
    p.add_argument("--epochs", type=int, default=100, help="epochs of (a) and (b)")
    p.add_argument("--free-epochs", type=int, default=40, help="epochs of (c)")
    p.add_argument("--physics-weight", type=float, default=1.0, help="residual weight in (b)")
    p.add_argument("--pino-norm", choices=physics.NORMS, default="h-1", help="of (b), (c)")
    p.add_argument("--refine-steps", type=int, default=100, help="Spectral-Refiner steps")
    p.add_argument(
        "--refine-on",
        choices=("test", "unlabelled"),
        default="test",
        help="inputs the refiner fine-tunes on (never their solutions)",
    )
    p.add_argument("--refine-inputs", type=int, default=32, help="how many of them")
    p.add_argument("--refine-lr", type=float, default=3e-4, help="Spectral-Refiner Adam lr")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    p.add_argument("--width", type=int, default=24, help="FNO width")
    p.add_argument("--modes", type=int, default=8, help="FNO modes per axis")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", default=None, help="results folder (none: results/ here)")
    return p.parse_args(argv)


def make_data(args):
    """Coefficients for all three sets; Darcy solves only for the labelled and test sets."""
    problem = pde.DarcyFlow(n=args.n)
    total = args.labelled + args.unlabelled + args.test
    keys = jax.random.split(jax.random.key(args.seed), total)
    a = jax.jit(jax.vmap(problem.coefficient))(keys)[:, None]
    solve = jax.jit(jax.vmap(lambda a: pde.solve_darcy(a[0])[None]))
    lab, unl, test = np.split(np.arange(total), [args.labelled, args.labelled + args.unlabelled])
    return (a[lab], solve(a[lab])), a[unl], (a[test], solve(a[test]))


def main(argv=None):
    args = parse(argv)
    (data, seconds_data) = wall_time(lambda: make_data(args))
    labelled, unlabelled, test = data
    pino = lambda x, u: physics.darcy_loss(x[0], u[0], norm=args.pino_norm, boundary_weight=0)
    residual_h1 = lambda x, u: physics.darcy_loss(x[0], u[0], norm="h-1", boundary_weight=0)
    interior_rms = jax.jit(
        jax.vmap(lambda x, u: jnp.sqrt(jnp.mean(physics.darcy_residual(x[0], u[0]).interior ** 2)))
    )

    h1_norm = jax.jit(jax.vmap(lambda x, u: jnp.sqrt(residual_h1(x, u))))

    def evaluate(model):
        pred = train.predict(model, test[0])
        errors = train.evaluate_model(model, *test)
        rms, h1 = jnp.mean(interior_rms(test[0], pred)), jnp.mean(h1_norm(test[0], pred))
        return float(np.mean(errors)), float(rms), float(h1), pred

    def fit(inputs, targets, epochs, batch, **kwargs):
        key = jax.random.key(args.seed + 1)
        fno = models.FNO(1, 1, (args.modes, args.modes), width=args.width, depth=4,
                         projection_width=64, key=key)  # fmt: skip
        model = physics.ZeroBoundary(fno, scale=0.01)
        steps = epochs * (len(inputs) // batch)
        optimizer = optax.adam(optax.cosine_decay_schedule(args.lr, steps))
        result, seconds = wall_time(
            lambda: train.fit(
                model,
                (inputs, targets),
                test,
                optimizer=optimizer,
                epochs=epochs,
                batch_size=batch,
                key=jax.random.key(args.seed + 2),
                progress=False,
                normalizer="none",
                **kwargs,
            )
        )
        return result.model, seconds

    variants, figures = {}, {"grid": args.n, "data_seconds": round(seconds_data, 1)}
    variants["(a) data"] = fit(*labelled, args.epochs, 4)
    variants["(b) data + PINO"] = fit(*labelled, args.epochs, 4, physics=pino,
                                      physics_weight=args.physics_weight)  # fmt: skip
    variants["(c) data-free PINO"] = fit(unlabelled, jnp.ones_like(unlabelled), args.free_epochs,
                                         8, physics=pino, data_weight=0.0)  # fmt: skip
    histories = {}
    refine_inputs = (test[0] if args.refine_on == "test" else unlabelled)[: args.refine_inputs]
    for name, refined_name in (("(a) data", "(d) (a) + refiner"),
                               ("(b) data + PINO", "(e) (b) + refiner")):  # fmt: skip
        refine = lambda m=variants[name][0]: train.refine_last_spectral_layer(
            m, refine_inputs, residual_h1, steps=args.refine_steps,
            optimizer=optax.adam(args.refine_lr))  # fmt: skip
        (refined, history), seconds = wall_time(refine)
        histories[refined_name] = history
        variants[refined_name] = (refined, seconds)

    results = {}
    for name, (model, seconds) in variants.items():
        results[name] = evaluate(model)
        error, rms, h1, _ = results[name]
        figures[f"{name}: test rel L2"] = round(error, 4)
        figures[f"{name}: test residual RMS"] = round(rms, 4)
        figures[f"{name}: test residual H-1"] = float(f"{h1:.4g}")
        figures[f"{name}: seconds"] = round(seconds, 1)
    solver_rms = float(jnp.mean(interior_rms(*test)))
    figures["solver (CG) residual RMS"] = float(f"{solver_rms:.2e}")
    for name, history in histories.items():
        figures[f"{name}: refiner H-1 loss before -> after"] = (
            float(f"{history[0]:.4g}"),
            float(f"{history[-1]:.4g}"),
        )
    write_results("physics_informed", figures, draw(results, histories, test), args.out)


def draw(results, histories, test):
    names = list(results)
    short = [name.split(")")[0] + ")" for name in names]
    colors = [f"C{i}" for i in range(len(names))]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = axes[0, 0]
    bars = ax.bar(short, [results[k][0] for k in names], color=colors)
    ax.bar_label(bars, fmt="%.3f")
    ax.set(title="test relative L2 error", ylabel="relative L2 error")
    ax.legend(bars, names, fontsize=8, loc="lower left")
    ax = axes[0, 1]
    x = np.arange(len(names))
    for offset, index, label, hatch in ((-0.2, 1, "RMS of Au - f (L2)", ""),
                                        (0.2, 2, "H^-1 norm of Au - f", "//")):  # fmt: skip
        ax.bar(x + offset, [results[k][index] for k in names], 0.4, color=colors, hatch=hatch,
               edgecolor="k", label=label)  # fmt: skip
    ax.set(xticks=x, xticklabels=short, yscale="log", ylabel="residual (f = 1)",
           title="test PDE residual of the prediction")  # fmt: skip
    ax.axhline(1.0, color="gray", lw=0.8, ls="--")
    ax.legend(fontsize=8, title="bars (zero prediction: 1, dashed)", title_fontsize=8)
    ax = axes[0, 2]
    for name, history in histories.items():
        ax.plot(history, label=name)
    ax.set(xlabel="refiner step", ylabel="mean squared H^-1 residual", yscale="log",
           title="Spectral-Refiner (last spectral layer only)")  # fmt: skip
    ax.legend(fontsize=8)
    truth = np.asarray(test[1][0, 0])
    images = [(truth, "solution u of test sample 0 (CG solver)")]
    for name in (names[0], names[2]):
        images.append((np.asarray(results[name][3][0, 0]) - truth, f"error of {name}"))
    for ax, (image, title) in zip(axes[1], images, strict=True):
        im = ax.imshow(image.T, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        ax.set(title=title, xlabel="x", ylabel="y")
        fig.colorbar(im, ax=ax, shrink=0.85)
    fig.suptitle("Darcy flow, FNO: data, data + PINO residual, data-free PINO, Spectral-Refiner")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
