"""The `jaxops` command: `generate`, `train` and `evaluate`, configured by Hydra; `compare`
and `convert`.

    jaxops generate pde=darcy data.n_samples=1000 data.resolution=85
    jaxops train experiment=darcy_fno model.width=64
    jaxops train -m experiment=darcy_fno optim.lr=1e-3,3e-3
    jaxops evaluate run=runs/darcy_fno/<time> data.subsample=1
    jaxops compare runs/ --csv results.csv
    jaxops convert 1D_Burgers_Sols_Nu0.01.hdf5 burgers.h5

`generate` and `train` take Hydra overrides (and `-m` multirun) over `configs/`; the config
is validated before any computation. `evaluate` starts from a run's saved config. Every
command calls the library function of `jaxops.experiment` that a Python user would.
"""

import os
import sys
from pathlib import Path

from ..experiment.paths import config_dir as config_dir

USAGE = """usage: jaxops <command> [overrides ...]

commands:
  generate   write the dataset of the pde/data configs to HDF5
  train      generate or load the dataset, train the model, write runs/<name>/<time>/
  evaluate   re-evaluate a trained run: jaxops evaluate run=<run_dir> [data.subsample=1 ...]
  compare    table of runs: jaxops compare <run or parent dirs ...> [--metrics a,b]
             [--csv out.csv] [--sort metric]
  convert    PDEBench or The Well HDF5, FNO .mat or jaxops files as one jaxops file:
             jaxops convert <in ...> <out.h5>

examples:
  jaxops train                                   # experiment=darcy_fno (the default)
  jaxops train experiment=darcy_fno model.width=64 trainer.epochs=100
  jaxops train -m optim.lr=1e-3,3e-3             # Hydra multirun: one run per value
  jaxops generate pde=darcy data.n_samples=1000 data.resolution=85
  jaxops train --help                            # config groups and the composed config
  jaxops train --cfg job                         # print the composed config and stop
  jaxops compare runs/ --sort test_rel_l2        # every run below runs/, best first
  jaxops train data.path=train.mat data.test_path=test.mat   # published files, detected
"""

# The primary config of each Hydra command in configs/.
PRIMARY_CONFIG = {"generate": "generate", "train": "config"}


def enable_compilation_cache() -> None:
    """Reuse compiled programs across runs (`JAXOPS_CACHE_DIR`, empty to disable).

    Every program is kept, however quick to compile: a run compiles dozens of small ones
    (about 3 s of a tiny run) that read back in milliseconds. Programs that hold a host
    callback (`equinox.error_if`, diffrax's `throw`), such as the solvers, are never cached
    by JAX.
    """
    import jax

    default = Path.home() / ".cache" / "jaxops" / "xla"
    cache = os.environ.get("JAXOPS_CACHE_DIR", str(default))
    if cache:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    from .._progress import make_console

    make_console(stderr=True).print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors in the user's input (config, data files, checkpoints): exit code 2."""
    from .._config import ConfigError
    from ..data.store import DatasetError
    from ..train.checkpoint import CheckpointError

    return ConfigError, DatasetError, CheckpointError


def _report(error: Exception) -> None:
    """Print a user-facing error without a traceback; exit 2 for `_input_errors`, else 1."""
    _fail(str(error), 2 if isinstance(error, _input_errors()) else 1)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors reported in one line instead of a traceback."""
    from .._registry import PluginError
    from ..train.engine import TrainingDiverged

    return *_input_errors(), TrainingDiverged, FileNotFoundError, PluginError


def _run_hydra(command: str, args: list[str]) -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from .._progress import make_console
    from .._registry import PluginError
    from ..experiment.composition import replacing
    from ..experiment.schema import register_configs, validate_config
    from ..parallel.config import start as start_processes

    try:
        register_configs()  # loads the plug-ins of the jaxops.models / jaxops.pde groups
    except PluginError as error:
        _fail(str(error), 1)

    if not any(arg.startswith("-") for arg in args):  # one run (no -m, --cfg, ...)
        # Composed first by jaxops, so that a key, type or value Hydra refuses ends in
        # jaxops' one-line error (exit 2) instead of Hydra's report (exit 1).
        from .._config import ConfigError
        from ..experiment.composition import compose

        try:
            compose(args, config_name=PRIMARY_CONFIG[command])
        except ConfigError as error:
            _report(error)

    jobs, failed = [0], []

    @hydra.main(
        config_path=str(config_dir()), config_name=PRIMARY_CONFIG[command], version_base="1.3"
    )
    def task(cfg) -> None:
        jobs[0] += 1
        try:
            config = validate_config(cfg)
            start_processes(config.parallel)  # before any JAX computation
            enable_compilation_cache()
            if command == "generate":
                from ..experiment import generate

                generate(config)
            else:
                from ..experiment import run

                run(config, HydraConfig.get().runtime.output_dir)
        except _user_errors() as error:
            if HydraConfig.get().mode == RunMode.MULTIRUN:
                # Report, remember and go on with the other jobs of the sweep; the summary
                # and the exit code come once all have run.
                make_console(stderr=True).print(f"[bold red]error:[/] {error}")
                overrides = " ".join(HydraConfig.get().overrides.task)
                failed.append(f"job {jobs[0] - 1} ({overrides}): {error}")
                return
            _report(error)

    sys.argv = [f"jaxops {command}", *replacing(args)]
    task()
    if failed:
        _fail(f"{len(failed)} of {jobs[0]} jobs failed: " + "; ".join(failed))


def _run_evaluate(args: list[str]) -> None:
    runs = [a for a in args if a.startswith("run=")]
    if len(runs) != 1:
        _fail(
            "evaluate needs exactly one run=<run_dir>, e.g. "
            "jaxops evaluate run=runs/darcy_fno/2026-01-01_12-00-00"
        )
    overrides = [a for a in args if not a.startswith("run=")]
    from ..experiment import evaluate

    try:
        enable_compilation_cache()
        evaluate(runs[0].split("=", 1)[1], overrides)
    except _user_errors() as error:
        _report(error)


def _run_compare(args: list[str]) -> None:
    from .._config import ConfigError
    from .compare import run

    try:
        run(args)
    except (ConfigError, FileNotFoundError) as error:
        _report(error)


def _run_convert(args: list[str]) -> None:
    from ..data.formats import convert
    from ..data.store import DatasetError, sample_count

    if len(args) < 2 or any(a.startswith("-") for a in args):
        _fail("convert needs input files and one output file: jaxops convert <in ...> <out.h5>")
    *sources, out = args
    if Path(out).exists():
        _fail(f"{out} exists; convert writes a new file: remove it or choose another name")
    try:
        path = convert(sources, out)
    except DatasetError as error:
        _report(error)
    print(f"wrote {path}: {sample_count(path)} samples from {len(sources)} file(s)")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, args = argv[0], argv[1:]
    if command == "evaluate":
        _run_evaluate(args)
    elif command == "compare":
        _run_compare(args)
    elif command == "convert":
        _run_convert(args)
    elif command in PRIMARY_CONFIG:
        _run_hydra(command, args)
    else:
        _fail(
            f"unknown command {command!r}; use generate, train, evaluate, compare or convert "
            "(jaxops --help)"
        )


if __name__ == "__main__":
    main()
