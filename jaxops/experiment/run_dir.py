"""`resume=true`: find the unfinished run a `jaxops train` command continues."""

import shutil
from pathlib import Path

from omegaconf import OmegaConf

from .._config import ConfigError
from ..train.checkpoint import STATE_DIR

# Keys that may change between a killed run and its continuation: logging, and where the run
# executes (the saved config holds the global batch and learning rate actually used, so a
# different device count is refused only where it would change them).
FREE_KEYS = (
    "resume",
    "trainer.progress",
    "trainer.log_every",
    "parallel.mesh",
    "parallel.fsdp",
    "parallel.fallback",
    "parallel.distributed",
    "parallel.coordinator_address",
    "parallel.num_processes",
    "parallel.process_id",
)


def _flat(tree, prefix: str = "") -> dict:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: tree}


def config_differences(saved: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ, ignoring `FREE_KEYS`."""
    a, b = _flat(saved), _flat(current)
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k) and not k.startswith(FREE_KEYS)]


def resolve_run_dir(config, run_dir: Path) -> Path:
    """The directory a run writes to.

    Without `resume` it is `run_dir`, which must not hold a training state. With `resume` it is
    `run_dir` if that holds a state (`hydra.run.dir=<run>`), else the newest run of the same
    experiment beside it (`runs/<name>/*`) that has a state and no `summary.json`; the fresh
    directory Hydra made for this invocation is removed. The saved config must equal the
    current one except for `FREE_KEYS`.
    """
    run_dir = Path(run_dir)
    if not config.resume:
        if (run_dir / STATE_DIR).is_dir():
            raise ConfigError(
                f"{run_dir} already holds a training state; pass resume=true to continue it "
                "or choose another hydra.run.dir"
            )
        return run_dir
    target = run_dir
    if not (run_dir / STATE_DIR).is_dir():
        siblings = [
            p
            for p in run_dir.parent.glob("*")
            if p != run_dir and (p / STATE_DIR).is_dir() and not (p / "summary.json").exists()
        ]
        if not siblings:
            raise ConfigError(
                f"resume=true: no unfinished run of experiment {config.name!r} in "
                f"{run_dir.parent}; pass hydra.run.dir=<run directory> or drop resume"
            )
        target = max(siblings, key=lambda p: p.name)
        if {p.name for p in run_dir.iterdir()} <= {".hydra"}:
            shutil.rmtree(run_dir)
    saved = OmegaConf.to_container(OmegaConf.load(target / "config.yaml"))
    current = OmegaConf.to_container(OmegaConf.structured(config))
    changed = config_differences(saved, current)
    if changed:
        raise ConfigError(
            f"resume=true: the config differs from the one of {target} in {changed}; "
            "resume with the same settings or start a new run"
        )
    return target
