"""Runs in a subprocess with several (forced host) devices: `python worker.py <json>`, where
the file holds a list of jobs `{"job": "fit" | "spatial", ...}`; the results replace it."""

import json
import os
import sys

import jax

jax.config.update("jax_compilation_cache_dir", os.environ.get("JAXOPS_CACHE_DIR", ""))

import jax.numpy as jnp  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from jaxops import models, parallel, train  # noqa: E402


def fit(args: dict) -> dict:
    """Train a small FNO on the arrays in args["data"]; args["mesh"] None: default device."""
    arrays = np.load(args["data"])
    mesh = args.get("mesh")
    par = None
    if mesh is not None:
        par = parallel.Parallel(
            parallel.make_mesh(mesh), fsdp=args.get("fsdp", False), fsdp_min_size=256
        )
    fno = models.FNO(in_channels=1, out_channels=1, modes=(6, 6), width=12, depth=2, key=jr.key(0))
    directory = args.get("checkpoint")
    result = train.fit(
        fno,
        (arrays["x_train"], arrays["y_train"]),
        (arrays["x_test"], arrays["y_test"]),
        optimizer=optax.adam(3e-3),
        epochs=args["epochs"],
        batch_size=20,
        key=jr.key(1),
        progress=False,
        parallel=par,
        checkpointing=train.Checkpointing(directory, resume=args.get("resume", False))
        if directory
        else None,
    )
    weights = [x for x in jax.tree.leaves(result.model.model) if isinstance(x, jax.Array)]
    return {
        "devices": jax.device_count(),
        "train_loss": [h["train_loss"] for h in result.history],
        "test_rel_l2": [h["test_rel_l2"] for h in result.history],
        "resumed_from": result.resumed_from,
        "param_devices": len(weights[0].sharding.device_set),
        "largest_shard_fraction": max(
            np.prod(w.addressable_shards[0].data.shape) / w.size for w in weights if w.size >= 256
        ),
    }


def sweep(args: dict) -> dict:
    """Two learning rates trained in one vmapped program; per-member test error per epoch."""
    arrays = np.load(args["data"])
    mesh = args.get("mesh")
    par = parallel.Parallel(parallel.make_mesh(mesh)) if mesh is not None else None
    build = lambda key: models.FNO(1, 1, (6, 6), width=12, depth=2, key=key)  # noqa: E731
    result = train.fit_sweep(
        build,
        (arrays["x_train"], arrays["y_train"]),
        (arrays["x_test"], arrays["y_test"]),
        epochs=args["epochs"],
        batch_size=20,
        lrs=[1e-3, 3e-3],
        progress=False,
        parallel=par,
    )
    return {"test_rel_l2": [[h["test_rel_l2"] for h in member] for member in result.history]}


def spatial(args: dict) -> dict:
    """An FNO forward pass on one sample split over `space`, and the same pass unsplit."""
    par = parallel.Parallel(parallel.make_mesh({"data": 1, "space": -1}))
    out = {}
    for modes in (12, 32):  # matrix-DFT path (<= 24 kept modes) and FFT path
        fno = models.FNO(in_channels=1, out_channels=1, modes=(modes, modes), width=8, depth=2,
                         key=jr.key(0))  # fmt: skip
        a = jr.normal(jr.key(1), (1, 64, 64))
        full = jax.jit(lambda a, fno=fno: fno(a))(a)
        sharded_model = par.spatial(fno)
        a_split = jax.device_put(a, jax.NamedSharding(par.mesh, jax.P(None, "space")))
        split = jax.jit(lambda a, m=sharded_model: m(a))(a_split)
        out[str(modes)] = {
            "max_abs_diff": float(jnp.max(jnp.abs(split - full))),
            "max_abs": float(jnp.max(jnp.abs(full))),
            "output_devices": len(split.sharding.device_set),
            "output_spec": str(split.sharding.spec),
        }
    return out


class RecordingRows:
    """An array-like of N samples that records which rows are read (as `store.Rows`)."""

    def __init__(self, n: int):
        self.array = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
        self.shape, self.dtype, self.ndim, self.read = self.array.shape, self.array.dtype, 2, []

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):
        rows = range(*index[0].indices(len(self)))
        self.read.extend(rows)
        return self.array[index]


def local_rows(args: dict) -> dict:
    """Place 10 samples over every device of every process; report the rows this process read
    and the sum of the global array (computed by all processes together)."""
    par = parallel.Parallel(parallel.make_mesh({"data": -1}))
    rows = RecordingRows(args["n"])
    placed = par.samples(rows)
    total = jax.jit(lambda x: jnp.sum(x[: args["n"]]), out_shardings=par.replicated)(placed)
    return {
        "process": jax.process_index(),
        "rows_read": sorted(set(rows.read)),
        "global_shape": list(placed.shape),
        "sum": float(total),
    }


def auto_mesh(args: dict) -> dict:
    """What the parallel configs make of this process's devices for a few global batches:
    the data-axis size used (1 for one device), the note printed, or the refusal."""
    from jaxops._config import ConfigError
    from jaxops.parallel.config import MeshConfig, ParallelConfig, build, for_batch

    configs = {
        "auto": ParallelConfig(),
        "single": ParallelConfig(mesh=MeshConfig(data=1), fallback=False),
        "data": ParallelConfig(fallback=False),
        "two": ParallelConfig(mesh=MeshConfig(data=2), fallback=False),
    }
    results = {}
    for name, config in configs.items():
        for batch in args["batches"]:
            try:
                par, note = for_batch(config, build(config), batch)
                used = 1 if par is None else par.data_size
                results[f"{name}/{batch}"] = {"data": used, "note": note}
            except ConfigError as error:
                results[f"{name}/{batch}"] = {"error": str(error)}
    return results


if __name__ == "__main__":
    path = sys.argv[1]
    if len(sys.argv) > 2:  # one of several processes: coordinator port, count, id
        port, count, index = sys.argv[2:5]
        parallel.initialize("on", f"localhost:{port}", int(count), int(index))
    with open(path) as f:
        jobs = json.load(f)
    jobs_by_name = {
        "fit": fit,
        "sweep": sweep,
        "spatial": spatial,
        "local_rows": local_rows,
        "auto_mesh": auto_mesh,
    }
    results = [jobs_by_name[job.pop("job")](job) for job in jobs]
    with open(path, "w") as f:
        json.dump(results, f)
