"""Dataset generation: a registered problem's `sample(key)` vmapped over chunks of samples,
resumable after a kill at any moment, on one device, several, or several processes.

Sample i is drawn with the key `fold_in(key(seed), i)`, so a dataset does not depend on the
chunk size, on the number of devices or processes, or on how often the run was interrupted.
Each chunk is one compiled call; the last chunk is padded with repeats of its last sample so
that it reuses the compilation.

Devices: a chunk's sample indices are split over the local devices (default), or, with
`mesh=`, over the mesh's `data` axis and replicated over its other axes (`space`), so each
device solves `chunk_size / data` samples. The chunk size is rounded up to a multiple of that
device count (`chunk_size_for`); sharding is skipped only when it still does not divide.

Processes: when several processes run the same `generate_dataset` call (`jax.distributed`,
see `jaxops.parallel.initialize`) on a shared file system, process p generates the chunks c
with `c % process_count == p`, each on its own local devices (the devices of `mesh` that
belong to it: the rows of the `data` axis it holds). Process 0 alone writes the manifest and,
after all processes have met at a barrier, assembles the HDF5 file and removes the parts; the
others return once the file exists (a second barrier). The barriers also carry a failure
flag: when one process fails (a non-finite sample, a solver failure), every process raises
instead of waiting for it. All processes need the same local device count (the chunk size
depends on it); a mismatch is reported as an error.

Resumption: every finished chunk is written atomically to its own file in `<path>.parts/`
(temporary name, then rename), next to a manifest holding the generating config's hash and
the chunk size. Rerunning the same command (with any number of devices or processes that
gives the same chunk size) skips the chunks that exist; when all exist they are assembled
into the HDF5 file (itself written to a temporary name and renamed) and the parts are
removed. A non-finite sample, or a solver that fails inside a chunk, stops the run with a
`DatasetError` that names the sample or chunk; the chunks already finished are kept.
"""

import datetime
import hashlib
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._progress import make_console, progress_bar
from .store import DatasetError, DatasetWriter

MANIFEST = "manifest.json"


def _local_mesh(mesh: Mesh | None) -> Mesh | None:
    """The part of `mesh` on this process's devices: the slices of the `data` axis whose
    devices are all local (all of `mesh` in a single-process run)."""
    if mesh is None:
        return None
    if "data" not in mesh.axis_names:
        raise ValueError(f"the mesh needs a 'data' axis, got axes {mesh.axis_names}")
    axis = mesh.axis_names.index("data")
    devices = np.asarray(mesh.devices)
    here = jax.process_index()
    rows = [
        row
        for row in range(devices.shape[axis])
        if all(d.process_index == here for d in np.take(devices, row, axis=axis).flat)
    ]
    if len(rows) == devices.shape[axis]:
        return mesh
    if not rows:
        raise ValueError(
            f"no slice of the mesh's data axis lies on the devices of process {here}; "
            "generation runs each process on its own devices (make_mesh({'data': -1}))"
        )
    return Mesh(np.take(devices, rows, axis=axis), mesh.axis_names)


def _data_size(mesh: Mesh | None) -> int:
    """Devices a chunk is split over: the data axis of `mesh` or all local devices."""
    return len(jax.local_devices()) if mesh is None else mesh.shape["data"]


def _sharded_indices(indices: np.ndarray, mesh: Mesh | None = None) -> np.ndarray | jax.Array:
    """Place sample indices on the `data` axis of `mesh` (replicated over its other axes),
    or without a mesh on all local devices, split along the sample axis. Unsharded if the
    count does not divide evenly."""
    if mesh is None:
        devices = jax.local_devices()
        if len(devices) == 1:
            return indices
        mesh = Mesh(np.array(devices), ("data",))
    if len(indices) % mesh.shape["data"]:
        return indices
    return jax.device_put(indices, NamedSharding(mesh, PartitionSpec("data")))


def sample_chunks(
    problem: Any,
    n_samples: int,
    *,
    seed: int,
    chunk_size: int = 64,
    start_chunk: int = 0,
    chunks: Iterable[int] | None = None,
    mesh: Mesh | None = None,
) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Yield `(start, {field: (count, ...) numpy array})` for the chunks of the dataset,
    beginning with chunk number `start_chunk`, or for the chunk numbers `chunks` only.
    With `mesh`, each chunk is split over the mesh's `data` axis (this process's part of
    it); without, over all local devices. The chunk size is rounded by `chunk_size_for`."""
    if n_samples < 1 or chunk_size < 1:
        raise ValueError(
            f"n_samples and chunk_size must be positive, got {n_samples}, {chunk_size}"
        )
    mesh = _local_mesh(mesh)
    chunk_size = chunk_size_for(n_samples, chunk_size, mesh)
    n_chunks = -(-n_samples // chunk_size)
    base = jr.key(seed)

    @eqx.filter_jit
    def draw(problem, indices):
        return jax.vmap(lambda i: problem.sample(jr.fold_in(base, i), i))(indices)

    numbers = range(start_chunk, n_chunks) if chunks is None else sorted(chunks)
    for number in numbers:
        start = number * chunk_size
        count = min(chunk_size, n_samples - start)
        # The last chunk is padded with its last sample: one compilation, no extra samples.
        indices = np.minimum(np.arange(start, start + chunk_size), n_samples - 1).astype(np.int32)
        try:
            sample = jax.device_get(draw(problem, _sharded_indices(indices, mesh)))
        except (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError) as error:
            raise DatasetError(
                f"samples {start}..{start + count - 1} (seed {seed}) of {problem!r} failed: "
                f"{_runtime_message(error)}"
            ) from None
        arrays = {name: np.asarray(value)[:count] for name, value in sample._asdict().items()}
        _check_finite(arrays, start, seed, problem)
        yield start, arrays


def chunk_size_for(n_samples: int, chunk_size: int, mesh: Mesh | None = None) -> int:
    """The chunk size actually used: at most `n_samples`, rounded up to a multiple of the
    number of devices a chunk is split over (the `data` axis of `mesh`, already restricted
    to this process, or all local devices) so that every chunk splits evenly over them."""
    devices = _data_size(mesh)
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
    mesh: Mesh | None = None,
) -> Path:
    """Generate `n_samples` of `problem` into the HDF5 file `path` (layout: `store`).

    **Arguments:** `problem` (a registered problem module), `path`, `n_samples`, `seed`,
    `chunk_size` (samples per compiled call), `config_yaml` (stored as the `config`
    attribute), `progress` (show a progress bar), `mesh` (split each chunk over the mesh's
    `data` axis instead of all local devices).

    Interrupted runs resume from their finished chunks when called again with the same
    arguments. In a multi-process run every process makes this same call and each generates
    its share of the chunks (see the module docstring). **Returns:** the path of the
    finished file (on every process, once process 0 has written it).
    """
    path = Path(path)
    mesh = _local_mesh(mesh)
    chunk_size = chunk_size_for(n_samples, chunk_size, mesh)
    parts = path.with_name(path.name + ".parts")
    identity = {
        "problem": repr(problem),
        "n_samples": n_samples,
        "seed": seed,
        "chunk_size": chunk_size,
        "config": config_yaml,
    }
    n_chunks = -(-n_samples // chunk_size)
    process, processes = jax.process_index(), jax.process_count()
    tag = f"jaxops.generate:{path.name}"
    # Process 0 alone starts (or keeps, when resuming) the parts folder and its manifest.
    _step(f"{tag}:manifest", lambda: _resume(parts, identity), process == 0)

    def generate() -> None:
        if process:
            _check_manifest(parts, identity, process)
        done = {c for c in range(n_chunks) if (parts / f"{c:06d}.npz").exists()}
        mine = [c for c in range(process, n_chunks, processes) if c not in done]
        _generate_chunks(
            problem,
            path,
            parts,
            n_samples,
            mine,
            chunk_size,
            len(done),
            n_chunks,
            seed=seed,
            mesh=mesh,
            progress=progress,
        )

    def assemble() -> None:
        _assemble(problem, path, parts, n_samples, n_chunks, seed, config_yaml)

    _step(f"{tag}:generated", generate)
    # Process 0 writes the file from every process's parts; the others wait until it exists.
    _step(f"{tag}:assembled", assemble, process == 0)
    return path


def _generate_chunks(
    problem, path, parts, n_samples, chunks, chunk_size, done, n_chunks, *, seed, mesh, progress
) -> None:
    """Generate and save the chunk numbers `chunks` (this process's missing ones)."""
    processes = jax.process_count()
    who = f" (process {jax.process_index()} of {processes})" if processes > 1 else ""
    console = make_console(quiet=not progress)
    if done:
        console.print(f"resuming {path.name}: {done} of {n_chunks} chunks already generated")
    total = sum(min(chunk_size, n_samples - c * chunk_size) for c in chunks)
    tic = time.perf_counter()
    with progress_bar("samples", console=console) as bar:
        task = bar.add_task(f"generate {path.name}{who}", total=total)
        samples = sample_chunks(
            problem, n_samples, seed=seed, chunk_size=chunk_size, chunks=chunks, mesh=mesh
        )
        for start, arrays in samples:
            _save_part(parts / f"{start // chunk_size:06d}.npz", arrays)
            bar.advance(task, len(next(iter(arrays.values()))))
    seconds = time.perf_counter() - tic
    console.print(
        f"generated {total} samples{who} in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):.1f} samples/s, compilation included)"
    )


def _step(name: str, action: Callable[[], Any], active: bool = True) -> None:
    """Run `action` (on this process if `active`), then meet the other processes at the
    barrier `name`. A failure on any process raises on all of them (the failing one
    re-raises its own error) instead of leaving the others waiting."""
    if jax.process_count() == 1:
        if active:
            action()
        return
    error = None
    if active:
        try:
            action()
        except Exception as caught:  # noqa: BLE001 - re-raised after the barrier
            error = caught
    failed = _barrier(name, error is not None)
    if error is not None:
        raise error
    if failed:
        raise DatasetError(
            f"dataset generation failed on process(es) {failed} at step {name!r}; see their output"
        )


def _barrier(name: str, failed: bool) -> list[int]:
    """`multihost_utils.sync_global_devices(name)` that also gathers a failure flag: the
    processes that failed."""
    from jax.experimental import multihost_utils

    token = np.array([zlib.crc32(name.encode()), int(failed)], np.uint32)
    gathered = np.asarray(multihost_utils.process_allgather(token))
    if not (gathered[:, 0] == token[0]).all():
        raise RuntimeError(f"processes met at different barriers (this one: {name!r})")
    return [int(p) for p in np.flatnonzero(gathered[:, 1])]


def _identity_hash(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _resume(parts: Path, identity: dict) -> None:
    """Keep `parts` if its manifest is this exact generation request's (its finished chunks
    are then skipped); else start a fresh `parts` folder with a new manifest."""
    manifest = parts / MANIFEST
    digest = _identity_hash(identity)
    if manifest.exists() and json.loads(manifest.read_text()).get("hash") == digest:
        return
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    _atomic_write(manifest, json.dumps({"hash": digest, **identity}, indent=1).encode())


def _check_manifest(parts: Path, identity: dict, process: int) -> None:
    """On processes other than 0: the manifest process 0 wrote describes this request."""
    manifest = json.loads((parts / MANIFEST).read_text())
    if manifest.get("hash") != _identity_hash(identity):
        differ = {k: (manifest.get(k), v) for k, v in identity.items() if manifest.get(k) != v}
        raise DatasetError(
            f"process {process} makes another generation request than process 0 "
            f"(process 0's value, this one's: {differ}); all processes must run the same "
            "call, with the same number of local devices"
        )


def _save_part(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError as error:  # a full disk, a quota: keep what is finished, say so
        tmp.unlink(missing_ok=True)
        kept = [p for p in path.parent.glob("*.npz") if ".tmp-" not in p.name]
        raise DatasetError(
            f"writing {path} failed ({error.strerror or error}); the {len(kept)} finished "
            f"chunks in {path.parent} are kept: free space (or write elsewhere, data.dir=...) "
            "and run the same command again to resume"
        ) from None


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
        writer.close()
    except OSError as error:  # a full disk, a quota: the chunks stay until the file is written
        writer.abort()
        raise DatasetError(
            f"writing {path} failed ({error.strerror or error}); its {n_chunks} generated "
            f"chunks in {parts} are kept: free space (or write elsewhere, data.dir=...) and "
            "run the same command again to write it"
        ) from None
    except BaseException:
        writer.abort()
        raise
    shutil.rmtree(parts, ignore_errors=True)
    return path
