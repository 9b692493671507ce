"""Run the benchmarks and print their tables: `python -m experiments.benchmarks [name ...]`."""

import importlib
import sys

BENCHMARKS = [
    "darcy_solver",
    "darcy_recycling",
    "periodic_solvers",
    "fno_training",
    "epoch_program",
    "conv_layout",
    "fno_neuraloperator",
    "mgno_torch",
    "sweep_lr",
    "weak_scaling",
    "spatial_sharding",
]


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        if name not in BENCHMARKS:
            sys.exit(f"unknown benchmark {name!r}; available: {', '.join(BENCHMARKS)}")
        importlib.import_module(f"experiments.benchmarks.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
