"""Where a run executes: the device mesh, the global batch and scaled learning rate it implies,
and copies of the trained model on this process's default device."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from rich.console import Console

from ..parallel import Parallel, is_primary, to_host
from ..parallel import config as parallel_config
from .assemble import build_model, sample_shapes
from .schema import Config


def parallel_setup(config: Config, console: Console) -> tuple[Config, Parallel | None]:
    """The run's `Parallel` (None on one device) and the config as it is run and saved: the
    global batch and the scaled learning rate in place (`per_device_batch` and `lr_scaling`
    applied), progress only on process 0. Prints the start-up report."""
    par = parallel_config.build(config.parallel)
    batch, lr = parallel_config.scaled_batch_and_lr(
        config.parallel,
        1 if par is None else par.data_size,
        config.trainer.batch_size,
        config.optim.lr,
    )
    par, note = parallel_config.for_batch(config.parallel, par, batch)
    if note:
        console.print(note)
    config = dataclasses.replace(
        config,
        trainer=dataclasses.replace(
            config.trainer, batch_size=batch, progress=config.trainer.progress and is_primary()
        ),
        optim=dataclasses.replace(config.optim, lr=lr),
        parallel=dataclasses.replace(config.parallel, per_device_batch=None, lr_scaling="none"),
    )
    if par is not None or jax.process_count() > 1:
        channels = (shape[0] for shape in sample_shapes(config))
        shapes = eqx.filter_eval_shape(build_model, config, *channels)
        for line in parallel_config.report(par, batch, lr, shapes):
            console.print(line)
    return config, par


def local_copy(model):
    """The trained model on this process's default device (for figures and predictions)."""
    arrays, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(jax.tree.map(jnp.asarray, to_host(arrays)), static)
