"""IR stage: the augmentation kinds (Keras's random preprocessing layers) keep the shape, have no weights, and
take exactly the ranges Keras 3 takes when it constructs the layer: what Keras refuses is E204 at the argument."""

from __future__ import annotations

import pytest

from specc.layers import LAYER_KINDS
from specc.pipeline import check_text
from tests.keras_reference import keras_layer_refuses, keras_module

AUGMENTATION_KINDS = [cls for cls in LAYER_KINDS if cls.augmentation]


def spec(*lines: str) -> str:
    """`model m {` is line 1, `input 32x32x3` line 2, the first layer line 3."""
    return "model m {\n  input 32x32x3\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in check_text(text).diagnostics]


def test_the_six_augmentation_kinds_are_marked_and_no_other_kind_is():
    assert sorted(cls.spellings[0] for cls in AUGMENTATION_KINDS) == [
        "random_brightness",
        "random_contrast",
        "random_flip",
        "random_rotation",
        "random_translation",
        "random_zoom",
    ]


AUGMENTED = [
    "random_flip horizontal",
    "random_flip vertical",
    "random_flip mode=horizontal_and_vertical",
    "random_rotation 0.1 fill_mode=constant fill_value=1.0",
    "random_zoom 0.1 width_factor=(-0.2, 0.3) interpolation=nearest",
    "random_translation 0.1 (0.0, 0.2)",
    "random_contrast 0.2",
    "random_brightness 0.2 value_range=(0, 1)",
]


@pytest.mark.parametrize("line", AUGMENTED)
def test_augmentation_keeps_the_shape_has_no_weights_and_costs_nothing_at_inference(line):
    checked = check_text(spec(line, "conv 4 3x3"))
    assert checked.diagnostics == []
    augmentation, conv = checked.reports[0].layers
    assert augmentation.inference.output_shape == (32, 32, 3)
    assert augmentation.inference.params == 0
    assert augmentation.layer.cost((32, 32, 3), (32, 32, 3)).flops == 0
    assert conv.inference.output_shape == (30, 30, 4)


@pytest.mark.keras
@pytest.mark.parametrize("line", AUGMENTED)
def test_keras_builds_each_augmentation_layer_with_the_shape_and_weights_specc_gives(line):
    layer = check_text(spec(line)).reports[0].layers[0].layer
    keras = keras_module()
    arguments = layer.model_dump(exclude={"kind", "name", "span", "argument_spans", "inputs", "scope", "trainable"})
    built = getattr(keras.layers, layer.keras_class)(**arguments)
    built.build((None, 32, 32, 3))
    assert tuple(built.compute_output_shape((None, 32, 32, 3)))[1:] == (32, 32, 3)
    assert built.count_params() == 0


# (specc line, Keras class, Keras's arguments): on each side of every bound Keras 3 checks.
RANGES = [
    # BaseImagePreprocessingLayer._set_factor, bounds [-1, 1]: a number within them; a pair (a, b) with a <= 1
    # and b >= -1, nothing more (Keras sorts it).
    ("random_rotation 1", "RandomRotation", {"factor": 1.0}),
    ("random_rotation -1", "RandomRotation", {"factor": -1.0}),
    ("random_rotation 1.01", "RandomRotation", {"factor": 1.01}),
    ("random_rotation -1.5", "RandomRotation", {"factor": -1.5}),
    ("random_rotation (-0.2, 0.3)", "RandomRotation", {"factor": (-0.2, 0.3)}),
    ("random_rotation (0.3, -0.2)", "RandomRotation", {"factor": (0.3, -0.2)}),
    ("random_rotation (-5, 5)", "RandomRotation", {"factor": (-5.0, 5.0)}),
    ("random_rotation (1.5, 2)", "RandomRotation", {"factor": (1.5, 2.0)}),
    ("random_rotation (-3, -2)", "RandomRotation", {"factor": (-3.0, -2.0)}),
    ("random_rotation (0.1, 0.2, 0.3)", "RandomRotation", {"factor": (0.1, 0.2, 0.3)}),
    ("random_brightness 1", "RandomBrightness", {"factor": 1.0}),
    ("random_brightness -0.5", "RandomBrightness", {"factor": -0.5}),
    ("random_brightness 2", "RandomBrightness", {"factor": 2.0}),
    ("random_brightness (2, 3)", "RandomBrightness", {"factor": (2.0, 3.0)}),
    ("random_brightness (-0.1, 0.4)", "RandomBrightness", {"factor": (-0.1, 0.4)}),
    ("random_brightness (0.1,)", "RandomBrightness", {"factor": (0.1,)}),
    ("random_brightness 0.2 value_range=(-1, 1)", "RandomBrightness", {"factor": 0.2, "value_range": (-1.0, 1.0)}),
    # RandomContrast: bounds [0, 1].
    ("random_contrast 0", "RandomContrast", {"factor": 0.0}),
    ("random_contrast 1", "RandomContrast", {"factor": 1.0}),
    ("random_contrast -0.1", "RandomContrast", {"factor": -0.1}),
    ("random_contrast 1.2", "RandomContrast", {"factor": 1.2}),
    ("random_contrast (0.5, 2)", "RandomContrast", {"factor": (0.5, 2.0)}),
    ("random_contrast (-2, -1)", "RandomContrast", {"factor": (-2.0, -1.0)}),
    ("random_contrast (1.5, 2)", "RandomContrast", {"factor": (1.5, 2.0)}),
    # RandomZoom: each number in (-1, 1].
    ("random_zoom 1", "RandomZoom", {"height_factor": 1.0}),
    ("random_zoom -0.99", "RandomZoom", {"height_factor": -0.99}),
    ("random_zoom -1", "RandomZoom", {"height_factor": -1.0}),
    ("random_zoom 1.1", "RandomZoom", {"height_factor": 1.1}),
    ("random_zoom (-0.5, 1)", "RandomZoom", {"height_factor": (-0.5, 1.0)}),
    ("random_zoom (-1, 0.5)", "RandomZoom", {"height_factor": (-1.0, 0.5)}),
    ("random_zoom (0.2, 1.5)", "RandomZoom", {"height_factor": (0.2, 1.5)}),
    ("random_zoom 0.1 -1", "RandomZoom", {"height_factor": 0.1, "width_factor": -1.0}),
    ("random_zoom 0.1 (0.1, 0.2, 0.3)", "RandomZoom", {"height_factor": 0.1, "width_factor": (0.1, 0.2, 0.3)}),
    # RandomTranslation: each number in [-1, 1].
    ("random_translation -1 1", "RandomTranslation", {"height_factor": -1.0, "width_factor": 1.0}),
    ("random_translation 1.5 0.1", "RandomTranslation", {"height_factor": 1.5, "width_factor": 0.1}),
    ("random_translation 0.1 -1.01", "RandomTranslation", {"height_factor": 0.1, "width_factor": -1.01}),
    (
        "random_translation (-1, 1) (0, 0.5)",
        "RandomTranslation",
        {"height_factor": (-1.0, 1.0), "width_factor": (0.0, 0.5)},
    ),
    ("random_translation (-1.2, 0) 0", "RandomTranslation", {"height_factor": (-1.2, 0.0), "width_factor": 0.0}),
]


@pytest.mark.keras
@pytest.mark.parametrize("line, keras_class, arguments", RANGES, ids=[case[0] for case in RANGES])
def test_specc_refuses_a_range_with_e204_exactly_when_keras_refuses_it(line, keras_class, arguments):
    found = codes(spec(line))
    refused = keras_layer_refuses(keras_class, **arguments)
    if refused is None:
        assert found == [], f"Keras accepts {keras_class}({arguments}); specc says {found}"
    else:
        assert [code for code, _, _ in found] == ["E204"], f"Keras refuses {keras_class}({arguments}): {refused}"


def test_a_range_out_of_keras_bounds_is_e204_at_the_argument_and_says_the_bounds():
    (diagnostic,) = check_text(spec("random_zoom 0.1 width_factor=-1")).diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.column) == ("E204", 3, 32)
    assert "(-1, 1]" in diagnostic.message


def test_a_flip_mode_keras_does_not_know_is_e203_with_the_closest_mode():
    (diagnostic,) = check_text(spec("random_flip horizontl")).diagnostics
    assert (diagnostic.code, diagnostic.span.column) == ("E203", 15)
    assert "horizontal" in (diagnostic.hint or "")


def test_a_fill_mode_keras_does_not_know_is_e203_with_the_closest_mode():
    (diagnostic,) = check_text(spec("random_rotation 0.1 fill_mode=refelct")).diagnostics
    assert diagnostic.code == "E203"
    assert "reflect" in (diagnostic.hint or "")


def test_a_value_range_that_is_not_a_pair_is_e203():
    assert [code for code, _, _ in codes(spec("random_brightness 0.1 value_range=255"))] == ["E203"]


def test_augmentation_on_a_flattened_input_is_e302():
    assert [code for code, _, _ in codes(spec("flatten", "random_flip horizontal"))] == ["E302"]
