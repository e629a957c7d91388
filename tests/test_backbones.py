"""Backbone lines: a zoo network inside a user's model, checked to what keras.applications builds, and frozen as
Keras freezes it.

The oracle is keras.applications itself (weights=None, in a fresh session): each backbone layer's shape and
weights found by name, the totals, the order Keras lists the layers in, and the trainable and non-trainable
counts after `trainable = False` is set the way the emitted code and the course notes set it.
"""

from __future__ import annotations

import pytest

from specc.backends.keras_verify import keras_figures
from specc.diagnostics import Severity
from specc.pipeline import check_text
from specc.zoo import ZOO, ZOO_BY_NAME, ZooNetwork

from keras_reference import assert_figures_equal, keras_application

# Where fine-tuning starts in each network, as the notes and Keras's guides pick it: a layer or a block of it.
FINE_TUNING_POINTS = {
    "vgg16": "block5_conv1",
    "vgg19": "block5",
    "resnet50": "conv5_block1",
    "mobilenet_v2": "block_13_expand",
    "xception": "block13_sepconv1_act",
    "inception_v3": "mixed7",
    "inception_resnet_v2": "block8_1",
    "densenet121": "conv5_block1",
    "efficientnet_b0": "block6a_expand_conv",
}


def checked(text: str):
    result = check_text(text)
    errors = [f"line {d.span.line}: {d.code} {d.message}" for d in result.diagnostics if d.severity is Severity.ERROR]
    assert not errors, errors
    return result


def backbone_spec(network: str, size: int, arguments: str) -> str:
    return f"model m {{\n  input {size}x{size}x3\n  backbone {network} weights=none {arguments}\n}}\n"


def backbone_report(network: str, size: int, arguments: str):
    (report,) = checked(backbone_spec(network, size, arguments)).reports
    return report


@pytest.mark.keras
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_backbone_without_top_equals_keras_applications_and_fine_tunes_as_keras_freezes(network: ZooNetwork):
    """include_top=false at 150x150 (not the default size, and odd along the way, where correct_pad matters): the
    same layers, shapes and weights as keras.applications(include_top=False, input_shape=..., pooling="avg"); then,
    fine-tuning from the network's usual point, the counts Keras gives after the loop the notes and the emitted code
    write (every layer before the first trainable one frozen, in model.layers' order)."""
    arguments = "include_top=false pooling=avg"
    report = backbone_report(network.name, 150, arguments)
    built = keras_application(network, include_top=False, input_shape=(150, 150, 3), pooling="avg")
    keras_names = {layer.name for layer in built.layers if type(layer).__name__ != "InputLayer"}
    assert {layer.name for layer in report.model.layers} == keras_names
    names = [layer.name for layer in report.model.layers]
    assert_figures_equal(report, keras_figures(built, names))

    point = FINE_TUNING_POINTS[network.name]
    fine_tuned = backbone_report(network.name, 150, f"{arguments} trainable_from={point}")
    (use,) = [use for use in fine_tuned.model.block_uses if use.backbone is not None]
    first = built.layers.index(built.get_layer(use.backbone.first_trainable))
    for layer in built.layers[:first]:
        layer.trainable = False
    assert_figures_equal(fine_tuned, keras_figures(built, names))
    assert fine_tuned.non_trainable_params > 0 and fine_tuned.trainable_params > 0


@pytest.mark.keras
def test_a_frozen_backbone_counts_every_weight_non_trainable_as_keras_does():
    report = backbone_report("resnet50", 64, "include_top=false trainable=false")
    built = keras_application(ZOO_BY_NAME["resnet50"], include_top=False, input_shape=(64, 64, 3))
    built.trainable = False
    assert_figures_equal(report, keras_figures(built, [layer.name for layer in report.model.layers]))
    assert report.trainable_params == 0


@pytest.mark.keras
def test_trainable_false_on_an_ordinary_layer_counts_its_weights_as_keras_does():
    from keras_reference import keras_module

    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, trainable=False)(inputs)
    x = keras.layers.BatchNormalization(trainable=False)(x)
    x = keras.layers.Flatten()(x)
    built = keras.Model(inputs, keras.layers.Dense(2)(x))
    (report,) = checked(
        "model m {\n input 8x8x3\n conv 4 3x3 trainable=false\n batchnorm trainable=false\n flatten\n dense 2\n}\n"
    ).reports
    assert_figures_equal(report, keras_figures(built, [layer.name for layer in report.model.layers]))


@pytest.mark.parametrize("point", ["conv5_block1", "conv5_block1_1_conv"])
def test_a_fine_tuning_point_may_name_a_block_or_a_layer_of_the_network(point: str):
    report = backbone_report("resnet50", 224, f"include_top=false trainable_from={point}")
    frozen = {layer.name for layer in report.model.layers if not layer.trainable}
    assert "conv4_block6_out" in frozen
    assert "conv5_block1_1_conv" not in frozen and "conv5_block3_out" not in frozen


def test_the_seeds_feature_extraction_recipe_has_the_notes_figures():
    """The notes' frozen VGG16 at 150x150x3 with a dense head: (4, 4, 512) features, 16,812,353 parameters of
    which only the head's 2,097,665 train (Keras's own figures for it are asserted in the backend tests)."""
    (report,) = checked(
        "model m {\n input 150x150x3\n backbone vgg16 weights=imagenet include_top=false trainable=false\n"
        " flatten\n dense 256 relu\n dense 1 sigmoid\n}\n"
    ).reports
    features = next(r for r in report.layers if r.layer.name == "block5_pool")
    assert features.inference.output_shape == (4, 4, 512)
    head = sum(r.inference.params for r in report.layers if r.layer.name in ("dense", "dense_1"))
    assert report.trainable_params == head
    assert report.non_trainable_params == report.total_params - head


def test_the_models_own_unnamed_layers_are_numbered_past_the_backbones():
    """A nested Keras model keeps its layers' names; the model's own are named around them, never clashing."""
    (report,) = checked(
        "model m {\n input 224x224x3\n conv 3 1x1\n backbone vgg16 weights=none include_top=true\n dense 2\n}\n"
    ).reports
    names = [layer.name for layer in report.model.layers]
    assert names[0] == "conv2d" and "flatten" in names
    assert names[-1] == "dense" and len(names) == len(set(names))


def test_a_name_the_backbone_uses_is_a_clash():
    result = check_text(
        "model m {\n input 224x224x3\n conv 3 1x1 name=block1_conv1\n"
        " backbone vgg16 weights=none include_top=false\n}\n"
    )
    assert [d.code for d in result.diagnostics] == ["E211"]


def test_a_backbone_too_small_is_the_layers_own_error_at_the_backbone_line_naming_the_layer():
    result = check_text(backbone_spec("vgg16", 16, "include_top=false"))
    (error,) = result.diagnostics
    assert (error.code, error.span.line) == ("E301", 3)
    assert "layer `block5_pool`" in error.message
    assert "32x32" in (error.hint or "")


def test_a_misspelt_fine_tuning_point_gets_a_did_you_mean_with_its_fix():
    result = check_text(backbone_spec("vgg16", 150, "include_top=false trainable_from=block5_conv"))
    (error,) = result.diagnostics
    assert error.code == "E222"
    assert "did you mean `block5_conv" in (error.hint or "")
    assert error.fixes and error.fixes[0].new_text.startswith("block5_conv")


def test_imagenet_weights_need_three_channels_and_the_top_its_size_and_classes():
    grey = check_text("model m {\n input 150x150x1\n backbone vgg16 weights=imagenet include_top=false\n}\n")
    assert [d.code for d in grey.diagnostics] == ["E305"]
    top = check_text("model m {\n input 150x150x3\n backbone vgg16 weights=imagenet classes=2\n}\n")
    assert [d.code for d in top.diagnostics] == ["E305", "E305"]
    random_top = check_text("model m {\n input 150x150x3\n backbone vgg16 weights=none classes=2\n}\n")
    assert not random_top.diagnostics


@pytest.mark.keras
def test_trainable_false_on_a_block_use_freezes_every_layer_it_makes_as_keras_counts_them():
    from keras_reference import keras_module

    keras = keras_module()
    keras.backend.clear_session(free_memory=False)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", trainable=False)(inputs)
    x = keras.layers.BatchNormalization(trainable=False)(x)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    x = keras.layers.BatchNormalization()(x)
    built = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    (report,) = checked(
        "block cb(f) {\n conv f 3x3 same\n batchnorm\n}\n"
        "model m {\n input 8x8x3\n cb 4 trainable=false\n cb 4\n flatten\n dense 2\n}\n"
    ).reports
    assert_figures_equal(report, keras_figures(built, [layer.name for layer in report.model.layers]))


def test_a_backbone_name_that_is_no_identifier_is_e212():
    result = check_text(backbone_spec("vgg16", 64, 'include_top=false name="my net"'))
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E212", 3)]
