"""Held-out samples by parameter value and the classes of test parameters."""

import numpy as np
import pytest

from jaxops.data.held_out import held_out_mask
from jaxops.data.store import DatasetError
from jaxops.experiment.by_parameter import classify

PARAMS = np.array([[0.005, 1.0], [0.01, 1.0], [0.02, 2.0], [0.01, 2.0]], np.float32)
NAMES = ["nu", "beta"]


def test_values_ranges_and_several_names_select_samples():
    assert held_out_mask(PARAMS, NAMES, {"nu": [0.01]}).tolist() == [False, True, False, True]
    both = held_out_mask(PARAMS, NAMES, {"nu": 0.01, "beta": [2.0]})
    assert both.tolist() == [False, False, False, True]
    ranged = held_out_mask(PARAMS, NAMES, {"nu": {"low": 0.008, "high": 0.03}})
    assert ranged.tolist() == [False, True, True, True]


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        ({"nu": [0.3]}, r"matches no sample of f.h5 \(its values: nu: 0.005, 0.01, 0.02\)"),
        ({"beta": [1.0, 2.0]}, "holds out every sample"),
        ({"eta": [1.0]}, r"records parameters \['nu', 'beta'\]"),
        ({"nu": ["a"]}, "give a value, a list of values or"),
    ],
)
def test_a_bad_selection_names_the_problem(selection, message):
    with pytest.raises(DatasetError, match=message):
        held_out_mask(PARAMS, NAMES, selection, "f.h5")


def test_test_parameters_are_classed_against_the_training_ones():
    train = np.array([[0.005, 1.0], [0.02, 1.0], [0.02, 3.0]])
    test = np.array([[0.02, 1.0], [0.01, 2.0], [0.04, 1.0], [0.005, 3.0]])
    assert classify(train, test).tolist() == [
        "in_distribution",  # seen
        "interpolation",  # new, each value inside the trained range
        "extrapolation",  # nu beyond it
        "interpolation",  # each value seen, but not together
    ]
