"""Dataset generation: a registered problem's `sample(key)` vmapped over chunks of samples,
resumable after a kill at any moment.

Sample i is drawn with the key `fold_in(key(seed), i)`, so a dataset does not depend on the
chunk size, on the number of devices, or on how often the run was interrupted. Each chunk is
one compiled call (sharded over the local devices along the sample axis); the last chunk is
padded with repeats of its last sample so that it reuses the compilation.

Resumption: every finished chunk is written atomically to its own file in `<path>.parts/`
(temporary name, then rename), next to a manifest holding the generating config's hash and
the chunk size. Rerunning the same command skips the chunks that exist; when all exist they
are assembled into the HDF5 file (itself written to a temporary name and renamed) and the
parts are removed. A non-finite sample, or a solver that fails inside a chunk, stops the run
with a `DatasetError` that names the sample or chunk; the chunks already finished are kept.
"""

import datetime
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._progress import make_console, progress_bar
from .store import DatasetError, DatasetWriter

MANIFEST = "manifest.json"


def _sharded_indices(indices: jax.Array) -> jax.Array:
    """Place sample indices on all local devices, split along the sample axis."""
    devices = jax.local_devices()
    if len(devices) == 1 or len(indices) % len(devices):
        return indices
    mesh = Mesh(np.array(devices), ("samples",))
    return jax.device_put(indices, NamedSharding(mesh, PartitionSpec("samples")))


def sample_chunks(
    problem: Any, n_samples: int, *, seed: int, chunk_size: int = 64, start_chunk: int = 0
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield `(start, {field: (count, ...) numpy array})` for the chunks of the dataset,
    beginning with chunk number `start_chunk`."""
    if n_samples < 1 or chunk_size < 1:
        raise ValueError(
            f"n_samples and chunk_size must be positive, got {n_samples}, {chunk_size}"
        )
    chunk_size = chunk_size_for(n_samples, chunk_size)
    base = jr.key(seed)

    @eqx.filter_jit
    def draw(problem, indices):
        return jax.vmap(lambda i: problem.sample(jr.fold_in(base, i), i))(indices)

    for start in range(start_chunk * chunk_size, n_samples, chunk_size):
        count = min(chunk_size, n_samples - start)
        # The last chunk is padded with its last sample: one compilation, no extra samples.
        indices = jnp.minimum(jnp.arange(start, start + chunk_size), n_samples - 1)
        try:
            sample = jax.device_get(draw(problem, _sharded_indices(indices)))
        except (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError) as error:
            raise DatasetError(
                f"samples {start}..{start + count - 1} (seed {seed}) of {problem!r} failed: "
                f"{_runtime_message(error)}"
            ) from None
        arrays = {name: np.asarray(value)[:count] for name, value in sample._asdict().items()}
        _check_finite(arrays, start, seed, problem)
        yield start, arrays


def chunk_size_for(n_samples: int, chunk_size: int) -> int:
    """The chunk size actually used: at most `n_samples`, rounded up to a multiple of the
    number of local devices so that every chunk splits evenly over them."""
    devices = len(jax.local_devices())
    size = min(chunk_size, n_samples)
    return -(-size // devices) * devices


def _runtime_message(error: Exception) -> str:
    """The message of an `eqx.error_if` raised inside compiled code, without the traceback."""
    for line in str(error).splitlines():
        if "EquinoxRuntimeError:" in line:
            return line.split("EquinoxRuntimeError:", 1)[1].strip()
    return str(error).strip().splitlines()[0]


def _check_finite(arrays: dict[str, np.ndarray], start: int, seed: int, problem: Any) -> None:
    for name, values in arrays.items():
        bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if bad.any():
            first = start + int(np.argmax(bad))
            params = arrays.get("params")
            sweep = (
                "" if params is None or params.size == 0 else f" (params {params[first - start]})"
            )
            raise DatasetError(
                f"sample {first}{sweep} (seed {seed}) has non-finite {name} for problem "
                f"{problem!r}; "
                "check the problem's parameters (e.g. a coefficient range or a time step)"
            )


def generate_dataset(
    problem: Any,
    path: str | os.PathLike,
    n_samples: int,
    *,
    seed: int,
    chunk_size: int = 64,
    config_yaml: str = "",
    progress: bool = True,
) -> Path:
    """Generate `n_samples` of `problem` into the HDF5 file `path` (layout: `store`).

    **Arguments:** `problem` (a registered problem module), `path`, `n_samples`, `seed`,
    `chunk_size` (samples per compiled call), `config_yaml` (stored as the `config`
    attribute), `progress` (show a progress bar).

    Interrupted runs resume from their finished chunks when called again with the same
    arguments (see the module docstring). **Returns:** the path of the finished file.
    """
    path = Path(path)
    chunk_size = chunk_size_for(n_samples, chunk_size)
    parts = path.with_name(path.name + ".parts")
    identity = {
        "problem": repr(problem),
        "n_samples": n_samples,
        "seed": seed,
        "chunk_size": chunk_size,
        "config": config_yaml,
    }
    done = _resume(parts, identity)
    n_chunks = -(-n_samples // chunk_size)
    console = make_console(quiet=not progress)
    if done:
        console.print(f"resuming {path.name}: {done} of {n_chunks} chunks already generated")
    tic = time.perf_counter()
    with progress_bar("samples", console=console) as bar:
        task = bar.add_task(
            f"generate {path.name}", total=n_samples, completed=min(done * chunk_size, n_samples)
        )
        chunks = sample_chunks(
            problem, n_samples, seed=seed, chunk_size=chunk_size, start_chunk=done
        )
        for start, arrays in chunks:
            _save_part(parts / f"{start // chunk_size:06d}.npz", arrays)
            bar.advance(task, len(next(iter(arrays.values()))))
    seconds = time.perf_counter() - tic
    generated = n_samples - min(done * chunk_size, n_samples)
    console.print(
        f"generated {generated} samples in {seconds:.1f} s "
        f"({generated / seconds:.1f} samples/s, compilation included)"
    )
    return _assemble(problem, path, parts, n_samples, n_chunks, seed, config_yaml)


def _identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _resume(parts: Path, identity: dict) -> int:
    """Number of consecutive finished chunks in `parts` for this exact generation request;
    starts a fresh `parts` folder when there is none or it belongs to another request."""
    manifest = parts / MANIFEST
    digest = _identity_hash(identity)
    if manifest.exists() and json.loads(manifest.read_text()).get("hash") == digest:
        done = 0
        while (parts / f"{done:06d}.npz").exists():
            done += 1
        return done
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    _atomic_write(manifest, json.dumps({"hash": digest, **identity}, indent=1).encode())
    return 0


def _save_part(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _assemble(problem, path, parts, n_samples, n_chunks, seed, config_yaml) -> Path:
    """Write the finished chunks into the HDF5 file and remove them."""
    from .. import __version__

    shapes = jax.eval_shape(problem.sample, jr.key(0), 0)._asdict()
    attrs = {
        "config": config_yaml,
        "problem": type(problem).__name__,
        "grid": problem.grid_kind,
        "param_names": list(problem.param_names),
        "seed": seed,
        "jaxops_version": __version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    attrs.update({f"{name}_channels": list(c) for name, c in problem.channel_names.items()})
    writer = DatasetWriter(
        path,
        n_samples,
        {k: v.shape for k, v in shapes.items()},
        coords={k: np.asarray(v) for k, v in problem.coords().items()},
        attrs=attrs,
    )
    try:
        start = 0
        for index in range(n_chunks):
            with np.load(parts / f"{index:06d}.npz") as chunk:
                arrays = {name: chunk[name] for name in chunk.files}
            writer.write(start, arrays)
            start += len(next(iter(arrays.values())))
        if start != n_samples:
            raise DatasetError(f"{parts} holds {start} samples, expected {n_samples}")
    except BaseException:
        writer.abort()
        raise
    writer.close()
    shutil.rmtree(parts, ignore_errors=True)
    return path
