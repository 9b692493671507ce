"""Dataset generation: a registered problem's `sample(key)` vmapped over chunks of samples.

Sample i is drawn with the key `fold_in(key(seed), i)`, so a dataset does not depend on the
chunk size or on how the work is split. Each chunk is one compiled call; the last chunk is
padded to the same size so that it reuses the compilation. A non-finite sample, or a solver
that fails inside a chunk, stops the run with a `DatasetError` that names the sample or the
chunk; the file is written to a temporary name and renamed only when complete.
"""

import datetime
import os
import time
from collections.abc import Iterator
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._progress import make_console, progress_bar
from .store import ARRAYS, DatasetError, DatasetWriter


def sample_chunks(problem, n_samples: int, *, seed: int, chunk_size: int = 64) -> Iterator:
    """Yield `(start, {"inputs", "outputs", "params"})` numpy chunks of the dataset."""
    if n_samples < 1 or chunk_size < 1:
        raise ValueError(
            f"n_samples and chunk_size must be positive, got {n_samples}, {chunk_size}"
        )
    chunk_size = min(chunk_size, n_samples)
    base = jr.key(seed)

    @eqx.filter_jit
    def draw(problem, indices):
        return jax.vmap(lambda i: problem.sample(jr.fold_in(base, i)))(indices)

    for start in range(0, n_samples, chunk_size):
        count = min(chunk_size, n_samples - start)
        # The last chunk is padded with its last sample: one compilation, no extra samples.
        indices = jnp.minimum(jnp.arange(start, start + chunk_size), n_samples - 1)
        try:
            sample = jax.device_get(draw(problem, indices))
        except (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError) as error:
            reason = _runtime_message(error)
            raise DatasetError(
                f"samples {start}..{start + count - 1} (seed {seed}) of {problem!r} failed: "
                f"{reason}"
            ) from None
        arrays = {name: np.asarray(getattr(sample, name))[:count] for name in ARRAYS}
        _check_finite(arrays, start, seed, problem)
        yield start, arrays


def _runtime_message(error: Exception) -> str:
    """The message of an `eqx.error_if` raised inside compiled code, without the traceback."""
    for line in str(error).splitlines():
        if "EquinoxRuntimeError:" in line:
            return line.split("EquinoxRuntimeError:", 1)[1].strip()
    return str(error).strip().splitlines()[0]


def _check_finite(arrays: dict, start: int, seed: int, problem) -> None:
    for name in ("inputs", "outputs"):
        bad = ~np.isfinite(arrays[name].reshape(len(arrays[name]), -1)).all(axis=1)
        if bad.any():
            first = start + int(np.argmax(bad))
            raise DatasetError(
                f"sample {first} (seed {seed}) has non-finite {name} for problem {problem!r}; "
                "check the problem's parameters (e.g. a coefficient range or a time step)"
            )


def generate_dataset(
    problem,
    path: str | os.PathLike,
    n_samples: int,
    *,
    seed: int,
    chunk_size: int = 64,
    config_yaml: str = "",
    progress: bool = True,
) -> Path:
    """Generate `n_samples` of `problem` into the HDF5 file `path` (see `store` for the layout).

    **Arguments:** `problem` (a registered problem module), `path`, `n_samples`, `seed`,
    `chunk_size` (samples per compiled call), `config_yaml` (stored as the `config`
    attribute), `progress` (show a progress bar).

    **Returns:** the path of the finished file.
    """
    from .. import __version__

    shapes = jax.eval_shape(problem.sample, jr.key(0))
    attrs = {
        "config": config_yaml,
        "problem": type(problem).__name__,
        "input_names": list(problem.input_names),
        "output_names": list(problem.output_names),
        "param_names": list(problem.param_names),
        "seed": seed,
        "jaxops_version": __version__,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    console = make_console(quiet=not progress)
    tic = time.perf_counter()
    writer = DatasetWriter(
        path,
        n_samples,
        {name: getattr(shapes, name).shape for name in ARRAYS},
        coords=[np.asarray(x) for x in problem.coords()],
        attrs=attrs,
    )
    try:
        with progress_bar("samples", console=console) as bar:
            task = bar.add_task(f"generate {Path(path).name}", total=n_samples)
            for start, arrays in sample_chunks(
                problem, n_samples, seed=seed, chunk_size=chunk_size
            ):
                writer.write(start, arrays)
                bar.advance(task, len(arrays["inputs"]))
    except BaseException:
        writer.abort()
        raise
    seconds = time.perf_counter() - tic
    console.print(
        f"generated {n_samples} samples in {seconds:.1f} s "
        f"({n_samples / seconds:.1f} samples/s, compilation included)"
    )
    return writer.close()
