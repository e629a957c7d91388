"""The shipped examples: per-layer shapes and parameter counts written out, and the same figures from Keras."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.pipeline import check_text

from keras_reference import assert_matches_keras

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# (layer name, output shape without the batch axis, parameters), as Keras's model.summary() shows them.
MNIST = [
    ("conv2d", (26, 26, 32), 3 * 3 * 1 * 32 + 32),
    ("max_pooling2d", (13, 13, 32), 0),
    ("conv2d_1", (11, 11, 64), 3 * 3 * 32 * 64 + 64),
    ("max_pooling2d_1", (5, 5, 64), 0),
    ("conv2d_2", (3, 3, 64), 3 * 3 * 64 * 64 + 64),
    ("flatten", (576,), 0),
    ("dense", (64,), 576 * 64 + 64),
    ("dense_1", (10,), 64 * 10 + 10),
]

CIFAR10 = [
    ("conv2d", (30, 30, 32), 3 * 3 * 3 * 32 + 32),
    ("max_pooling2d", (15, 15, 32), 0),
    ("conv2d_1", (13, 13, 64), 3 * 3 * 32 * 64 + 64),
    ("max_pooling2d_1", (6, 6, 64), 0),
    ("conv2d_2", (4, 4, 64), 3 * 3 * 64 * 64 + 64),
    ("flatten", (1024,), 0),
    ("dense", (64,), 1024 * 64 + 64),
    ("dense_1", (10,), 64 * 10 + 10),
]

# Batchnorm counts gamma and beta (trainable) plus moving mean and variance (not trainable): 4*C.
MNIST_BATCHNORM = [
    ("conv2d", (28, 28, 32), 320),
    ("batch_normalization", (28, 28, 32), 4 * 32),
    ("conv2d_1", (28, 28, 32), 9_248),
    ("batch_normalization_1", (28, 28, 32), 4 * 32),
    ("max_pooling2d", (14, 14, 32), 0),
    ("dropout", (14, 14, 32), 0),
    ("conv2d_2", (14, 14, 64), 18_496),
    ("batch_normalization_2", (14, 14, 64), 4 * 64),
    ("conv2d_3", (14, 14, 64), 36_928),
    ("batch_normalization_3", (14, 14, 64), 4 * 64),
    ("max_pooling2d_1", (7, 7, 64), 0),
    ("dropout_1", (7, 7, 64), 0),
    ("flatten", (3136,), 0),
    ("dense", (512,), 1_606_144),
    ("batch_normalization_4", (512,), 4 * 512),
    ("dense_1", (10,), 5_130),
]

# file: (table, total parameters, non-trainable parameters)
EXPECTED = {
    "mnist.cnn": (MNIST, 93_322, 0),
    "cifar10.cnn": (CIFAR10, 122_570, 0),
    "mnist_batchnorm.cnn": (MNIST_BATCHNORM, 1_679_082, 2 * (32 + 32 + 64 + 64 + 512)),
}


def read(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_layer_shapes_and_parameter_counts_are_the_tabled_ones(name):
    table, total, non_trainable = EXPECTED[name]
    checked = check_text(read(name))
    assert checked.diagnostics == []
    (report,) = checked.reports
    got = [(r.layer.name, r.inference.output_shape, r.inference.params) for r in report.layers]
    assert got == table
    assert sum(params for _, _, params in table) == total
    assert report.total_params == total
    assert report.non_trainable_params == non_trainable
    assert report.trainable_params == total - non_trainable


@pytest.mark.keras
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda path: path.name)
def test_every_example_matches_keras_layer_by_layer(path):
    assert_matches_keras(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.cnn")), ids=lambda path: path.name)
def test_every_example_checks_without_errors(path):
    checked = check_text(path.read_text(encoding="utf-8"))
    assert checked.ok, [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics]
    assert checked.reports and all(report.complete for report in checked.reports)
