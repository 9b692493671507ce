"""Self-describing model checkpoints with orbax: `load(run_dir)` needs nothing else.

A checkpoint stores the arrays of a `data.Normalized` model (the network and its input and
output normalisers) as a nested dict keyed by attribute path, and, in orbax's custom metadata
committed with it, the registry name and constructor arguments needed to rebuild the network.
Orbax writes to a temporary directory and renames it when complete, so a checkpoint that
exists is complete. It holds no checksums, and a damaged file can load as wrong numbers
without an error; so the metadata also carries a SHA-256 digest of every array, and `load`
checks them. After orbax has finished, `save` also writes the digest of every file of the
checkpoint (`files.sha256.json`), which `load` checks before orbax reads anything: orbax stops
at the first unreadable file and closes its event loop while its other reads are in flight,
and those reads then report "Event loop is closed" from TensorStore's threads. A damaged
checkpoint is a `CheckpointError` naming the file or array and the training state that can
rewrite it.
"""

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import orbax.checkpoint as ocp
from omegaconf import OmegaConf

from .. import models
from ..data.normalize import Normalized, Normalizer

FORMAT = 1
CHECKPOINT_DIR = "checkpoint"
FILE_DIGESTS = "files.sha256.json"  # in the checkpoint directory, written last
STATE_DIR = "state"


class CheckpointError(ValueError):
    """A model checkpoint that cannot be read, or whose arrays differ from what was saved."""


def path_names(path: tuple) -> list[str]:
    """The attribute names and sequence indices of a pytree path (`spectral`, `0`, ...)."""
    out = []
    for entry in path:
        for attr in ("name", "key", "idx"):
            if hasattr(entry, attr):
                out.append(str(getattr(entry, attr)))
                break
        else:
            raise TypeError(f"unsupported pytree path entry {entry!r}")
    return out


def state_dict(tree: Any) -> dict:
    """Nested dict of the tree's arrays keyed by attribute names / sequence indices."""
    state: dict = {}
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(tree, eqx.is_array))[0]
    for path, leaf in leaves:
        *parents, last = path_names(path)
        node = state
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = leaf
    return state


def checksums(state: dict, prefix: str = "") -> dict[str, str]:
    """`{dotted array name: SHA-256 of its bytes}` for a `state_dict`; arrays split over
    processes (not replicated) have none."""
    out = {}
    for name, value in state.items():
        if isinstance(value, dict):
            out |= checksums(value, f"{prefix}{name}.")
        elif not isinstance(value, jax.Array) or value.is_fully_addressable:
            out[f"{prefix}{name}"] = _digest(np.asarray(value))
        elif value.is_fully_replicated:
            out[f"{prefix}{name}"] = _digest(np.asarray(value.addressable_data(0)))
    return out


def _digest(value: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(value)).hexdigest()


def load_state_dict(skeleton: Any, state: dict) -> Any:
    """Fill the array leaves of `skeleton` (arrays or shape structs) from `state`."""

    def fill(path, leaf):
        value = state
        for name in path_names(path):
            value = value[name]
        if tuple(value.shape) != tuple(leaf.shape):
            raise ValueError(
                f"checkpoint array {'.'.join(path_names(path))} has shape "
                f"{tuple(value.shape)}, the model expects {tuple(leaf.shape)}"
            )
        return jnp.asarray(value, leaf.dtype)

    arrays, static = eqx.partition(
        skeleton, lambda x: isinstance(x, jax.Array | jax.ShapeDtypeStruct)
    )
    return eqx.combine(jax.tree_util.tree_map_with_path(fill, arrays), static)


def save(
    path: str | os.PathLike,
    model: Normalized,
    *,
    name: str,
    kwargs: dict[str, Any],
    in_channels: int,
    out_channels: int,
) -> Path:
    """Write `model` with the registry `name` and constructor `kwargs` of its network."""
    from .. import __version__

    spec = {
        "format": FORMAT,
        "jaxops_version": __version__,
        "model": name,
        "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "in_channels": in_channels,
        "out_channels": out_channels,
        "normalizer_eps": [model.input_normalizer.eps, model.output_normalizer.eps],
    }
    if model.params_normalizer is not None:
        spec["params_normalizer_eps"] = model.params_normalizer.eps
    state = state_dict(model)
    spec["checksums"] = checksums(state)
    path = Path(path).absolute()
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(path, state, custom_metadata=spec, force=True)  # replaces an old one
            checkpointer.wait_until_finished()
        if jax.process_index() == 0:  # orbax has finished every process's files
            _write_file_digests(path)
    except Exception as error:  # a full disk, a quota, a vanished mount
        epochs = _finished_steps(path.parent / STATE_DIR)
        kept = (
            f"the training state of epoch {epochs[-1]} in {path.parent / STATE_DIR} is intact: "
            f"free space and resume the run (resume=true hydra.run.dir={path.parent}) to write it"
            if epochs
            else "free space and train again"
        )
        raise CheckpointError(f"writing {path} failed ({_first_line(error)}); {kept}") from None
    return path


def read_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The self-description of a model checkpoint (a run directory or its `checkpoint/`):
    registry name, constructor kwargs, in and out channels, normaliser settings."""
    path = Path(path).absolute()
    if (path / CHECKPOINT_DIR).is_dir():
        path = path / CHECKPOINT_DIR
    with ocp.StandardCheckpointer() as checkpointer:
        return dict(checkpointer.metadata(path).custom_metadata or {})


def load(path: str | os.PathLike) -> Normalized:
    """Load a trained model from a run directory or its checkpoint directory.

    **Returns:** a `data.Normalized` model: physical inputs `(C_in, *spatial)` → physical
    outputs `(C_out, *spatial)`, ready for `jax.vmap` and `jax.jit`.
    """
    path = Path(path).absolute()
    if (path / CHECKPOINT_DIR).is_dir():
        path = path / CHECKPOINT_DIR
    if not (path / "_CHECKPOINT_METADATA").is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}; pass a run directory "
            "(runs/<experiment>/<time>) or its checkpoint/ folder"
        )
    files_checked = _check_files(path)
    with ocp.StandardCheckpointer() as checkpointer:
        with _quiet_logger("absl"):  # orbax warns of unreadable metadata, then returns None
            metadata = checkpointer.metadata(path)
        spec, arrays = metadata.custom_metadata, metadata.item_metadata
        if not spec or spec.get("format") != FORMAT:
            raise ValueError(f"{path} is not a jaxops model checkpoint (format {FORMAT})")
        if arrays is None:
            raise CheckpointError(_damaged(path, "the index of its arrays cannot be read"))
        # Onto this process's default device, whatever devices or processes wrote it.
        device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
        target = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), arrays.tree
        )
        unreadable = None
        try:
            state = checkpointer.restore(path, target)
        except Exception as error:  # TensorStore reports a damaged file as a bare Exception
            unreadable = _unreadable_array(error)
    if unreadable is not None:
        _discard_failed_reads()
        raise CheckpointError(_damaged(path, f"array {unreadable} cannot be read"))
    for name, digest in {} if files_checked else checksums(state).items():
        if spec.get("checksums", {}).get(name, digest) != digest:
            raise CheckpointError(_damaged(path, f"array {name} differs from the array saved"))
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["kwargs"].items()}
    network = eqx.filter_eval_shape(
        models.build,
        spec["model"],
        in_channels=spec["in_channels"],
        out_channels=spec["out_channels"],
        key=jr.key(0),
        **kwargs,
    )
    in_eps, out_eps = spec["normalizer_eps"]
    norm = lambda s, eps: Normalizer(jnp.asarray(s["mean"]), jnp.asarray(s["std"]), eps=eps)
    params = state.get("params_normalizer")
    model = Normalized(
        load_state_dict(network, state["model"]),
        norm(state["input_normalizer"], in_eps),
        norm(state["output_normalizer"], out_eps),
        None if not params else norm(params, spec.get("params_normalizer_eps", in_eps)),
    )
    return model


def _write_file_digests(path: Path) -> None:
    """Write the SHA-256 digest of every file of the finished checkpoint at `path`
    (atomically: a temporary file renamed)."""
    digests = {
        str(f.relative_to(path)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.rglob("*"))
        if f.is_file() and f.name != FILE_DIGESTS
    }
    temporary = path / f".{FILE_DIGESTS}.tmp"
    temporary.write_text(json.dumps(digests, indent=0))
    temporary.replace(path / FILE_DIGESTS)


def _check_files(path: Path) -> bool:
    """Check every file of the checkpoint at `path` against its saved digest; False if it
    was saved without them (the array digests are checked instead). A missing or changed file
    is a `CheckpointError`."""
    listing = path / FILE_DIGESTS
    if not listing.is_file():
        return False
    for name, digest in json.loads(listing.read_text()).items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(_damaged(path, f"file {name} is missing"))
        if hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            raise CheckpointError(_damaged(path, f"file {name} differs from the file saved"))
    return True


def _unreadable_array(error: Exception) -> str:
    """The array a TensorStore read error names (its spec's last relative `path`)."""
    names = re.findall(r"'path': '([^'/][^']*)/'", str(error))
    return names[-1] if names else "(unknown)"


def _finished_steps(directory: Path) -> list[int]:
    """The steps orbax finished writing in `directory` (a step's folder is named by its
    number once complete), in order."""
    return sorted(int(p.name) for p in directory.glob("*") if p.name.isdigit())


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _discard_failed_reads() -> None:
    """Collect orbax's other reads of a damaged file now, quietly: left alone, each fails when
    collected at exit and prints its traceback ("Exception ignored in: <coroutine ...>")."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


@contextlib.contextmanager
def _quiet_logger(name: str):
    """Drop the warnings of logger `name` inside the block (orbax's, for a failure that
    `load` reports in its own words)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _damaged(path: Path, what: str) -> str:
    """One line: which checkpoint is damaged, `what` is wrong with it, and what can rewrite
    it."""
    run = path.parent
    message = f"the model checkpoint {path} is damaged: {what}"
    states = run / STATE_DIR
    epochs = _finished_steps(states)
    if not epochs:
        return f"{message}; no training state is left to rewrite it from: train again"
    overrides = run / ".hydra" / "overrides.yaml"  # the command line of a `jaxops train` run
    saved = OmegaConf.load(overrides) if overrides.is_file() else ["<the run's overrides>"]
    command = " ".join(["jaxops train", *map(str, saved)])
    return (
        f"{message}; {states} still holds the training state of epoch {epochs[-1]}: "
        f"`{command} resume=true hydra.run.dir={run}` rewrites the checkpoint from it"
    )


class StateCheckpoints:
    """Resumable training state under `directory/<epoch>/` via an orbax CheckpointManager.

    The arrays (parameters, optimiser state, key, best parameters) are stored as a flat list
    of leaves and restored into the structure and shardings of a freshly initialised state, so
    any optax state and any equinox model round-trip, and a state written on one device count
    (or by several processes) resumes on another; bookkeeping (epoch, history, best metric) goes in
    a JSON item of the same step. Orbax finalises a step by renaming its temporary directory,
    so a process killed while writing leaves the previous step loadable. The two newest steps
    are kept.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2):
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False)
        self.directory = Path(directory).absolute()
        self.manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, state) -> None:
        leaves = jax.tree.leaves(state.arrays())
        arrays = {f"{i:05d}": leaf for i, leaf in enumerate(leaves)}
        try:
            self.manager.save(
                state.epoch,
                args=ocp.args.Composite(
                    arrays=ocp.args.StandardSave(arrays), meta=ocp.args.JsonSave(state.meta())
                ),
            )
            self.manager.wait_until_finished()
        except Exception as error:  # a full disk, a quota: the last finished step stays
            epochs = [e for e in _finished_steps(self.directory) if e != state.epoch]
            kept = (
                f"the state of epoch {epochs[-1]} there is intact: free space and resume"
                if epochs
                else "no earlier state was written"
            )
            raise CheckpointError(
                f"writing the training state of epoch {state.epoch} to {self.directory} failed "
                f"({_first_line(error)}); {kept}"
            ) from None

    def restore(self, template):
        """The latest saved state in the structure of `template`, or None if there is none."""
        step = self.manager.latest_step()
        if step is None:
            return None
        leaves, treedef = jax.tree.flatten(template.arrays())
        abstract = {  # restored onto the template's devices, whatever the saved layout
            f"{i:05d}": jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=_sharding(x))
            for i, x in enumerate(leaves)
        }
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        saved = [restored["arrays"][f"{i:05d}"] for i in range(len(leaves))]
        return template.restored(jax.tree.unflatten(treedef, saved), dict(restored["meta"]))

    def close(self) -> None:
        self.manager.close()


def _sharding(x):
    """The sharding a restored copy of `x` should have (default device for host arrays)."""
    if isinstance(x, jax.Array):
        return x.sharding
    return jax.sharding.SingleDeviceSharding(jax.devices()[0])
