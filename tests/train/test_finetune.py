"""Fine-tuning: `transfer` copies every array whose path and shape match and re-initialises
only the heads whose channel counts changed; a frozen part stays bit-identical through
training while the rest moves; a freeze entry that names nothing is refused."""

import jax
import numpy as np
import optax
import pytest

from jaxops import models, train
from jaxops.train.finetune import array_paths, check_same_sizes, trainable_mask, transfer

SIZES = dict(modes=(4, 4), width=8, depth=2, projection_width=16)


def fno(in_channels, seed):
    return models.FNO(in_channels, 1, key=jax.random.key(seed), **SIZES)


def test_transfer_keeps_fresh_only_the_heads_whose_channels_changed():
    source, fresh = fno(1, 0), fno(3, 1)  # 3 input channels: another lifting matrix
    moved, kept = transfer(fresh, source)
    assert kept == ["lifting.weight"]  # its bias has the width's shape: transferred
    before, after, given = array_paths(fresh), array_paths(moved), array_paths(source)
    for name, value in after.items():
        expected = before[name] if name in kept else given[name]
        assert np.array_equal(value, expected), name
    same = transfer(fno(1, 2), source)[0]
    pairs = zip(jax.tree.leaves(same), jax.tree.leaves(source), strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)  # same sizes: everything transfers


def test_transfer_between_architectures_is_refused():
    unet = models.build("unet", in_channels=1, out_channels=1, key=jax.random.key(0),
                        width=4, levels=1)  # fmt: skip
    with pytest.raises(ValueError, match="the source model is a FNO, this one a UNet"):
        transfer(unet, fno(1, 0))
    wider = models.FNO(1, 1, key=jax.random.key(0), **{**SIZES, "width": 12})
    with pytest.raises(ValueError, match=r"sizes differ from the source's \(lifting.weight, "):
        check_same_sizes(wider, fno(1, 0))
    check_same_sizes(fno(1, 3), fno(1, 0))  # the same sizes pass


def test_frozen_parts_stay_bit_identical_and_the_rest_trains(small_darcy):
    train_set, test_set = small_darcy
    model = fno(1, 0)
    mask = trainable_mask(model, ["lifting", "spectral.0"])
    result = train.fit(
        model,
        (train_set.inputs, train_set.outputs),
        (test_set.inputs, test_set.outputs),
        optimizer=optax.adamw(1e-2, weight_decay=0.1),  # decay would move frozen arrays too
        epochs=1,
        batch_size=20,
        key=jax.random.key(1),
        progress=False,
        trainable=mask,
    )
    before, after = array_paths(model), array_paths(result.model.model)
    for name, value in before.items():
        frozen = name.startswith(("lifting.", "spectral.0."))
        assert np.array_equal(after[name], value) == frozen, name


def test_a_freeze_entry_that_names_nothing_is_refused():
    with pytest.raises(ValueError, match="'lift' matches no part of the model; its parts are "
                       "lifting, projection, skips, spectral"):  # fmt: skip
        trainable_mask(fno(1, 0), ["lift"])
    model = fno(1, 0)
    trains = jax.tree.leaves(trainable_mask(model, []))
    assert sum(trains) == len(array_paths(model))  # nothing frozen: every array trains
