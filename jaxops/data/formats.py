"""One dataset from files in any supported format, detected from the file: jaxops' own HDF5
(`store`), PDEBench HDF5 and the FNO paper's MATLAB files (`external`), The Well's HDF5
(`the_well`).

- `detect(path)`: `"jaxops"`, `"pdebench"`, `"fno_mat"` or `"the_well"`; a file that is not
  there, not HDF5/MATLAB or truncated is a `DatasetError` naming it and the fix.
- `read(path, samples=...)`: the file (or those samples) as a `Dataset`; a PDEBench file's
  parameters come from its name (`1D_Burgers_Sols_Nu0.01.hdf5` → `params` `[[0.01]]`,
  `param_names` `["nu"]`), as PDEBench's own loaders take them.
- `count(path)`: the number of samples in a file, without reading them.
- `convert(paths, out)`: the files as one jaxops file (samples in order), after checking that
  they hold the same arrays on the same grid; streamed `chunk` samples at a time and written
  atomically.
- `prepare(paths, cache_dir)`: the jaxops file a command reads: a single jaxops file as it
  is, anything else converted once into `cache_dir` (named by the sources' paths, sizes and
  modification times) and reused.

Conversion holds one chunk in memory (a MATLAB v5 file is read one array at a time: scipy
cannot read part of one).
"""

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from .external import dataset_writer, load_fno_mat, load_pdebench, samples_in
from .store import Dataset, DatasetError
from .store import load as load_jaxops
from .the_well import is_the_well, load_the_well, trajectories_in

FORMATS = ("jaxops", "pdebench", "fno_mat", "the_well")
CHUNK = 64  # samples per read while converting

# PDEBench's parameter tokens in file names, as its loaders read them (lower-cased names).
PDEBENCH_PARAMETER = re.compile(
    r"(?:^|_)(Nu|Beta|beta|Rho|Eta|Zeta|M)([0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?)(?=_|$)"
)


def detect(path: str | os.PathLike) -> str:
    """The format of a dataset file: `"jaxops"`, `"pdebench"`, `"fno_mat"` (`.mat`) or
    `"the_well"`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no dataset file at {path}; check data.path")
    if path.suffix.lower() == ".mat":
        return "fno_mat"
    if not h5py.is_hdf5(path):
        raise DatasetError(
            f"{path} is not an HDF5 or MATLAB file (or its header is damaged); pass a jaxops, "
            "PDEBench (.h5/.hdf5) or FNO (.mat) file"
        )
    try:
        with h5py.File(path, "r") as f:
            names, well = set(f), is_the_well(f)
    except OSError as error:
        raise _unreadable(path, error) from error
    if names & {"inputs", "trajectories"} and "coords" in names:
        return "jaxops"
    return "the_well" if well else "pdebench"


def pdebench_parameters(path: str | os.PathLike) -> dict[str, float]:
    """The PDE parameters in a PDEBench file name, e.g. `{"nu": 0.01}` for
    `1D_Burgers_Sols_Nu0.01.hdf5`, `{"eta": 0.1, "zeta": 0.1}` for
    `2D_CFD_Rand_M0.1_Eta0.1_Zeta0.1_periodic_128_Train.hdf5` (with `"m": 0.1`)."""
    return {
        name.lower(): float(value) for name, value in PDEBENCH_PARAMETER.findall(Path(path).stem)
    }


def read(path: str | os.PathLike, *, samples: slice = slice(None)) -> Dataset:
    """The file's `samples` (all by default) as a `Dataset`, in whichever supported format."""
    return _read(path, detect(path), samples)


def _read(path: str | os.PathLike, kind: str, samples: slice) -> Dataset:
    """`read` of a file whose format `kind` is known."""
    loader = {"jaxops": load_jaxops, "fno_mat": load_fno_mat, "the_well": load_the_well}
    try:
        dataset = loader.get(kind, load_pdebench)(path, samples=samples)
    except OSError as error:  # h5py or scipy on a truncated file
        raise _unreadable(path, error) from error
    if kind != "pdebench":
        return dataset
    parameters = pdebench_parameters(path)
    if parameters:
        values = np.array(list(parameters.values()), np.float32)
        dataset.arrays["params"] = np.broadcast_to(values, (len(dataset), len(values))).copy()
        dataset.attrs["param_names"] = list(parameters)
    return dataset


def count(path: str | os.PathLike) -> int:
    """The number of samples (trajectories) in a dataset file, read from its metadata."""
    return _count(path, detect(path))


def _count(path: str | os.PathLike, kind: str) -> int:
    try:
        if kind == "jaxops":
            with h5py.File(path, "r") as f:
                return len(f["inputs" if "inputs" in f else "trajectories"])
        return trajectories_in(path) if kind == "the_well" else samples_in(path)
    except OSError as error:
        raise _unreadable(path, error) from error


def convert(
    paths: Sequence[str | os.PathLike], out: str | os.PathLike, *, chunk: int = CHUNK
) -> Path:
    """Write the files as one jaxops file, samples in the order given, reading `chunk`
    samples at a time; atomically (an interrupted conversion leaves no file at `out`)."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)]
    if not paths:
        raise DatasetError("no files to convert")
    kinds = [detect(path) for path in paths]
    sizes = [_count(path, kind) for path, kind in zip(paths, kinds, strict=True)]
    heads = [_read(path, kind, slice(0, 1)) for path, kind in zip(paths, kinds, strict=True)]
    first = heads[0]
    for path, head in zip(paths[1:], heads[1:], strict=True):
        _check_compatible(paths[0], first, path, head)
    attrs = dict(first.attrs)
    attrs["source_file"] = [str(p) for p in paths] if len(paths) > 1 else str(paths[0])
    if len(paths) > 1:
        attrs["source_samples"] = sizes  # samples of each file, in order
    writer = dataset_writer(Dataset(first.arrays, first.coords, attrs), out, sum(sizes))
    try:
        offset = 0
        for path, kind, n in zip(paths, kinds, sizes, strict=True):
            # scipy reads a MATLAB v5 array whole, however few samples are asked for
            step = n if kind == "fno_mat" and not h5py.is_hdf5(path) else chunk
            for start in range(0, n, step):
                part = _read(path, kind, slice(start, min(start + step, n)))
                writer.write(offset + start, part.arrays)
            offset += n
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def prepare(paths: str | os.PathLike | Sequence, cache_dir: str | os.PathLike) -> Path:
    """The jaxops file holding `paths`: a single jaxops file itself, else a converted copy in
    `cache_dir`, made on first use and reused while the sources are unchanged."""
    paths = [Path(p) for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)]
    kinds = [detect(path) for path in paths]
    if kinds == ["jaxops"]:
        return paths[0]
    stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]
    digest = hashlib.sha256(repr(stamp).encode()).hexdigest()[:10]
    out = Path(cache_dir) / f"{paths[0].stem}_{len(paths)}files_{digest}.h5"
    return out if out.is_file() else convert(paths, out)


def _check_compatible(path_a: Path, a: Dataset, path_b: Path, b: Dataset) -> None:
    shapes = lambda d: {k: v.shape[1:] for k, v in d.arrays.items()}  # noqa: E731
    if shapes(a) != shapes(b):
        raise DatasetError(
            f"{path_b} does not match {path_a}: arrays {shapes(b)} against {shapes(a)}; "
            "files of one dataset need the same arrays, channels and grid"
        )
    names_a, names_b = list(a.attrs.get("param_names", [])), list(b.attrs.get("param_names", []))
    if names_a != names_b:
        raise DatasetError(
            f"{path_b} has parameters {names_b}, {path_a} has {names_a}; files of one dataset "
            "need the same parameters"
        )
    for name in a.coords:
        if name.startswith("x") and not np.allclose(a.coords[name], b.coords.get(name, [])):
            raise DatasetError(
                f"{path_b} has another grid than {path_a} (coordinate {name} differs); files "
                "of one dataset need the same grid"
            )


def _unreadable(path: Path, error: OSError) -> DatasetError:
    return DatasetError(
        f"{path} cannot be read ({error}); it is truncated or corrupt: download or generate "
        "it again"
    )
