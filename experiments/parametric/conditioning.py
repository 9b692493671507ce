"""FNO alone, FNO+FiLM and FNO+CAPE (with and without CAPE's auxiliary loss) on 1D Burgers
over the viscosity, each trained one step
at a time (teacher forcing) and with the curriculum to autoregression, on the same data and
budget, then tested on fresh samples of the trained viscosities and on held-out viscosities
between them.

Every run is what `jaxops train experiment=<...> pde.nu=[...]` does, and the held-out test
what `jaxops evaluate run=<dir> pde.nu=[...]` does (through `jaxops.experiment`). The error
is PDEBench's nRMSE as jaxops reports it for trajectories: the relative L2 error of each
state of the rollout from the initial state, averaged over the states and the samples.
Viscosities above 0.008 are left out: over t ∈ [0, 1] some of those trajectories decay to
about zero, where any relative error is meaningless.

    python -m experiments.parametric.conditioning [--epochs 20] [--out DIR]

Writes `conditioning.json` and `conditioning.md` (the table) in `--out`, and each run's
directory below it.
"""

import argparse
import json
from pathlib import Path

from jaxops import experiment

TRAIN_NU = (0.001, 0.002, 0.004, 0.008)
HELD_OUT_NU = (0.0014, 0.0028, 0.0057)  # geometric midpoints (rounded)
MODELS = {  # variant: its overrides; CAPE with and without the paper's auxiliary loss
    "fno": ["experiment=burgers_fno"],
    "film": ["experiment=burgers_film"],
    "cape": ["experiment=burgers_cape"],
    "cape_no_aux": ["experiment=burgers_cape", "model.auxiliary_weight=0"],
}
MODES = {
    "one_step": ["trainer.rollout.mode=one_step"],
    "curriculum": ["trainer.rollout.mode=curriculum", "trainer.rollout.steps=4"],
}
TINY_DATA = [
    "data.n_samples=24",
    "data.n_test=8",
    "data.resolution=32",
    "pde.n_times=6",
    "trainer.batch_size=8",
    "trainer.plot_samples=0",
]
TINY_MODEL = {  # --tiny: a check that the script runs, in seconds
    "fno": ["model.modes=[6]", "model.width=8", "model.depth=2", "model.projection_width=16"],
    "film": ["model.base_config.modes=[6]", "model.base_config.width=8",
             "model.base_config.depth=2", "model.base_config.projection_width=16"],
    "cape": ["model.base_config.modes=[6]", "model.base_config.width=8",
             "model.base_config.depth=2", "model.base_config.projection_width=16",
             "model.cape_modes=[6]", "model.cape_width=4"],
}  # fmt: skip
TINY_MODEL["cape_no_aux"] = TINY_MODEL["cape"]


def nu_list(values) -> str:
    return "[" + ",".join(f"{v:g}" for v in values) + "]"


def run_variant(model: str, mode: str, epochs: int, out: Path, tiny: bool) -> dict:
    """Train one variant and test it on held-out viscosities: its row of the table."""
    sizes = [*TINY_DATA, *TINY_MODEL[model]] if tiny else []
    overrides = [*MODELS[model], f"pde.nu={nu_list(TRAIN_NU)}",
                 f"trainer.epochs={epochs}", "trainer.progress=false", *MODES[mode],
                 *sizes]  # fmt: skip
    run_dir = out / f"{model}_{mode}"
    summary = experiment.run(experiment.compose(overrides), run_dir)
    held_out_data = ["data.n_samples=13", "data.n_test=12"] if tiny else [
        "data.n_samples=97", "data.n_test=96"]  # fmt: skip
    held_out = experiment.evaluate(run_dir, [f"pde.nu={nu_list(HELD_OUT_NU)}", *held_out_data])
    return {
        "model": model,
        "mode": mode,
        "in_distribution": summary["test_rel_l2"],
        "held_out": held_out["test_rel_l2"],
        "n_params": summary["n_params"],
        "train_seconds": summary["total_seconds"],
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| model | training | nRMSE, trained ν | nRMSE, held-out ν | parameters | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['in_distribution']:.4f} | {r['held_out']:.4f} "
            f"| {r['n_params']:,} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of every run")
    parser.add_argument("--out", type=Path, default=Path("results/conditioning"),
                        help="folder of the runs and the table")  # fmt: skip
    parser.add_argument("--variants", default=",".join(f"{m}:{t}" for m in MODELS for t in MODES),
                        help="model:training pairs to run")  # fmt: skip
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: check that it runs")
    args = parser.parse_args(argv)
    variants = [tuple(v.split(":")) for v in args.variants.split(",")]
    for model, mode in variants:
        if model not in MODELS or mode not in MODES:
            parser.error(f"unknown variant {model}:{mode}; models {list(MODELS)}, "
                         f"trainings {list(MODES)}")  # fmt: skip
    rows = [run_variant(m, t, args.epochs, args.out, args.tiny) for m, t in variants]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "conditioning.json").write_text(json.dumps(rows, indent=2) + "\n")
    text = table(rows)
    (args.out / "conditioning.md").write_text(text + "\n")
    print(text)
    return rows


if __name__ == "__main__":
    main()
