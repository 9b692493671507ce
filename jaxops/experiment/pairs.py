"""The pair recipe: fit (input, output) samples, optionally physics-informed (PINO) and with
the training split streamed from the file; report errors against the mean prediction."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from ..data.store import Rows, domain_lengths
from ..data.stream import ChunkedArrays, fit_normalizers
from ..parallel import is_primary
from ..train import conditions
from ..train.loop import count_parameters, fit, predict
from ..train.metrics import mean_prediction_error
from ..train.report import plot_history, plot_sample_predictions
from .assemble import dataset_names, initial_model, load_splits
from .breakdown import breakdown_report
from .devices import local_copy
from .options import engine_settings, objective_options
from .schema import Config
from .summary import engine_summary, error_summary


def fit_pair_data(config, path, splits, run_dir, console, start, par=None, physics=None):
    """Fit (input, output) pairs; extra test resolutions from `trainer.eval_subsample`; the
    training split streamed from the file if it is a `ChunkedArrays` (`data.stream_chunk`);
    `physics`: `fit`'s physics-informed arguments (`assemble.physics_options`)."""
    physics = physics or {}
    train_set, val_set, test_set = splits
    streamed = isinstance(train_set, ChunkedArrays)
    extra_test = {}
    for stride in config.trainer.eval_subsample:
        *_, other = load_splits(config, path, subsample=stride, stream=streamed)
        extra_test["x".join(map(str, other.inputs.shape[2:]))] = other.arrays
    data_seconds = time.perf_counter() - start
    channels = test_set.inputs.shape[1], test_set.outputs.shape[1]
    network, trainable = initial_model(config, *channels, console)
    console.print(
        f"train: {config.model.name} ({count_parameters(network):,} parameters) on "
        f"{len(train_set)} samples at {test_set.inputs.shape[2:]}"
        + (f" (streamed in chunks of {config.data.stream_chunk})" if streamed else "")
        + f", {len(test_set)} test, {config.trainer.epochs} epochs, "
        f"loss {loss_description(config)}, device {jax.devices()[0].platform}"
    )
    result = fit(
        network,
        train_set if streamed else train_set.arrays,
        test_set.arrays,
        validation=None if val_set is None else val_set.arrays,
        extra_test=extra_test,
        lengths=domain_lengths(test_set),
        **physics,
        settings=engine_settings(config, run_dir, len(train_set), console, par),
        **objective_options(config),
        trainable=trainable,
    )
    model = local_copy(result.model)
    if not is_primary():
        return model, {}, [], channels
    errors = result.test_errors
    by_param, param_figures = breakdown_report(train_set, test_set, errors, run_dir)
    if not streamed and isinstance(train_set.outputs, Rows):  # lazily read: mean in one pass
        train_set = ChunkedArrays(path, ("inputs", "outputs"), stop=config.data.n_train,
                                  chunk_size=256, subsample=config.data.subsample)  # fmt: skip
        streamed = True
    train_mean = (
        fit_normalizers(train_set, "pointwise")[1].mean[None] if streamed else train_set.outputs
    )
    baseline = mean_prediction_error(np.asarray(train_mean), test_set.outputs)
    figures = [plot_history(run_dir / "history.png", result.history, baseline), *param_figures]
    if config.trainer.plot_samples:
        names = dataset_names(path)
        figures.insert(
            0,
            plot_sample_predictions(
                run_dir / "predictions.png", model, test_set.inputs, test_set.outputs,
                errors, config.trainer.plot_samples, names=names,
                conditions=conditions.select(model, test_set.arrays, "the test set"),
            ),
        )  # fmt: skip
    summary = {
        **error_summary(errors, baseline),
        **by_param,
        "train_grid": list(test_set.inputs.shape[2:]),
        "data_seconds": data_seconds,
        **engine_summary(result),
    }
    if physics:
        summary.update(residual_summary(physics["physics"], model, test_set, config))
    return model, summary, figures, channels


def loss_description(config: Config) -> str:
    """`rel_l2`, or with `trainer.physics` e.g. `1 × rel_l2 + 0.5 × h-1 residual`."""
    settings = config.trainer.physics
    if not settings.active:
        return config.trainer.loss
    residual = f"{settings.weight:g} × {settings.norm} residual"
    if settings.data_weight == 0:
        return f"{residual} (data-free)"
    return f"{settings.data_weight:g} × {config.trainer.loss} + {residual}"


def residual_summary(residual, model, test_set, config: Config) -> dict[str, float]:
    """Mean physics loss of the model's test predictions and of the test targets themselves
    (the data's own residual on the training grid: the floor a model can reach)."""
    loss = jax.jit(jax.vmap(residual))
    values = conditions.select(model, test_set.arrays, "the test set")
    predictions = predict(model, jnp.asarray(test_set.inputs), config.trainer.eval_batch_size,
                          values)  # fmt: skip
    return {
        "test_residual": float(jnp.mean(loss(test_set.inputs, predictions))),
        "test_residual_of_data": float(jnp.mean(loss(test_set.inputs, test_set.outputs))),
    }
