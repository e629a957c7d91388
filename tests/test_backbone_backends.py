"""Backbones in emitted code: the keras.applications call a person writes (Keras), the network as a class of its own
(PyTorch), each frozen as the spec says, and keras.applications' weights copied into the PyTorch build.

The oracles are the frameworks: the Keras model the emitted code builds (without ImageNet's weights: nothing is
downloaded, and a fetch would fail the test) and the PyTorch module, with their own trainable and non-trainable
counts after the emitted code freezes them, and both outputs for the same weights.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_backbones import FINE_TUNING_POINTS

from specc.backends.keras import emit_keras
from specc.backends.keras_backbones import WEIGHTS_PARAMETER
from specc.backends.python_source import UnsafeSource
from specc.backends.torch import emit_torch, torch_layout
from specc.backends.verify import run_module
from specc.check import ModelReport
from specc.layers import BatchNorm
from specc.pipeline import check_text
from specc.zoo import ZOO, ZooNetwork

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent

# The course notes' two recipes (examples/), and a ResNet50 without its top, fine-tuned from a block, under a head.
RECIPES = {
    "feature_extraction": (REPO / "examples" / "feature_extraction.cnn").read_text(encoding="utf-8"),
    "fine_tuning": (REPO / "examples" / "fine_tuning.cnn").read_text(encoding="utf-8"),
    "resnet50_head": (
        "model resnet50_head {\n  input 64x64x3\n"
        "  backbone resnet50 weights=imagenet include_top=false pooling=avg trainable_from=conv5_block1\n"
        "  dense 10 softmax\n}\n"
    ),
}
recipes = pytest.mark.parametrize("recipe", sorted(RECIPES))


def checked_report(text: str) -> ModelReport:
    checked = check_text(text)
    assert checked.ok, [f"{d.code} line {d.span.line}: {d.message}" for d in checked.diagnostics]
    (report,) = checked.reports
    return report


def keras_module_of(report: ModelReport):
    return run_module(emit_keras([report], "spec.cnn"), "<generated keras>")


def torch_module_of(report: ModelReport):
    return run_module(emit_torch([report], "spec.cnn"), "<generated torch>")


@pytest.fixture
def no_downloads(monkeypatch):
    """Keras fetches nothing in this test: a fetch of weights raises, with the file it wanted."""
    from keras.src.utils import file_utils

    from keras_reference import keras_module

    keras_module()

    class Fetched(Exception):
        pass

    def refuse(fname=None, origin=None, *arguments, **keywords):
        raise Fetched(f"{fname} from {origin}")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    return Fetched


def build_without_weights(report: ModelReport):
    from keras_reference import keras_module

    keras_module().backend.clear_session(free_memory=False)
    return keras_module_of(report).MODELS[report.model.name](**{WEIGHTS_PARAMETER: None})


# --- what the emitted code says -----------------------------------------------------------------------------


def test_keras_makes_the_application_freezes_it_and_calls_it_as_a_person_writes():
    source = emit_keras([checked_report(RECIPES["feature_extraction"])], "spec.cnn")
    assert "def build_feature_extraction(backbone_weights='imagenet') -> keras.Model:" in source
    expected = """\
    vgg16 = keras.applications.VGG16(
        include_top=False,
        weights=backbone_weights,
        input_shape=(150, 150, 3),
        pooling=None,
    )
    vgg16.trainable = False  # feature extraction: the whole network is frozen
    x = vgg16(inputs)  # spec.cnn:6
"""
    assert expected in source
    # keras.applications builds the network: no function for it or its blocks.
    assert "def vgg16" not in source and "def two_convs" not in source


def test_keras_fine_tuning_freezes_the_layers_before_the_first_trainable_one_in_keras_order():
    source = emit_keras([checked_report(RECIPES["fine_tuning"])], "spec.cnn")
    expected = """\
    # Fine-tuning: block5_conv1 and the layers after it train; the layers before it stay frozen.
    first_trainable = vgg16.layers.index(vgg16.get_layer('block5_conv1'))
    for layer in vgg16.layers[:first_trainable]:
        layer.trainable = False
    x = vgg16(inputs)  # spec.cnn:5
"""
    assert expected in source
    resnet = emit_keras([checked_report(RECIPES["resnet50_head"])], "spec.cnn")
    assert "resnet50.get_layer('conv5_block1_1_conv')" in resnet
    assert "(the first layer of conv5_block1)" in resnet


def test_keras_writes_the_top_s_arguments_and_the_model_s_name_only_where_they_differ_from_keras_defaults():
    spec = "model m {\n  input 64x64x3\n  backbone vgg16 weights=none classes=7 name=base\n}\n"
    source = emit_keras([checked_report(spec)], "spec.cnn")
    assert "include_top=True" in source and "classes=7" in source and "name='base'" in source
    assert "classifier_activation" not in source and "pooling" not in source
    # Without ImageNet's weights the build function takes no weights.
    assert "weights=None" in source and "def build_m() -> keras.Model:" in source


def test_keras_hands_the_weights_to_a_block_s_function_that_makes_a_backbone():
    spec = (
        "block features() {\n  backbone vgg16 include_top=false pooling=avg trainable=false\n}\n"
        "model m {\n  input 64x64x3\n  features\n  dense 1 sigmoid\n}\n"
    )
    source = emit_keras([checked_report(spec)], "spec.cnn")
    assert "def features(x, backbone_weights, name):" in source
    assert "x = features(inputs, backbone_weights=backbone_weights, name='features_1')" in source


def test_torch_makes_the_network_a_class_of_its_own_and_freezes_its_instance():
    source = emit_torch([checked_report(RECIPES["feature_extraction"])], "spec.cnn")
    assert "class VGG16(nn.Module):" in source
    assert "        self.vgg16 = VGG16()  # spec.cnn:6\n" in source
    assert "self.vgg16.requires_grad_(False)  # spec.cnn:6: feature extraction: the whole network is frozen" in source
    assert "def load_keras_imagenet_weights(model: FeatureExtraction, keras_model=None) -> None:" in source
    fine_tuning = emit_torch([checked_report(RECIPES["fine_tuning"])], "spec.cnn")
    expected = """\
        # spec.cnn:5: fine-tuning from block5_conv1: the layers before it stay frozen
        for frozen in (self.vgg16.block1, self.vgg16.block2, self.vgg16.block3, self.vgg16.block4):
            frozen.requires_grad_(False)
"""
    assert expected in fine_tuning


def test_a_backbone_name_that_is_no_identifier_is_refused_by_the_checker_and_by_the_torch_backend():
    """The checker reports E212 for it; a report that carried one anyway (made by hand here) still never reaches
    emitted code: the backend raises rather than write `self.my net`."""
    import dataclasses

    from specc.pipeline import check_text

    spec = 'model m {\n  input 32x32x3\n  backbone vgg16 weights=none include_top=false name="my net"\n}\n'
    assert [d.code for d in check_text(spec).diagnostics] == ["E212"]
    report = checked_report(spec.replace('"my net"', "base"))
    uses = tuple(
        use.model_copy(update={"name": "my net"}) if use.backbone is not None else use
        for use in report.model.block_uses
    )
    forged = dataclasses.replace(report, model=report.model.model_copy(update={"block_uses": uses}))
    with pytest.raises(UnsafeSource):
        emit_torch([forged], "spec.cnn")


# --- Keras builds what specc checks -------------------------------------------------------------------------


@pytest.mark.keras
@recipes
def test_keras_counts_what_specc_checks_after_the_emitted_code_freezes_the_network(recipe, no_downloads):
    """Every layer of the network, found in the nested keras.applications model, and the totals, frozen weights
    counted non-trainable as Keras counts them after `trainable = False`."""
    from specc.backends.keras_verify import keras_figures

    from keras_reference import assert_figures_equal

    report = checked_report(RECIPES[recipe])
    built = build_without_weights(report)
    assert report.non_trainable_params > 0
    assert_figures_equal(report, keras_figures(built, [r.layer.name for r in report.counted]))


@pytest.mark.keras
def test_build_verify_compares_the_network_s_layers_in_its_nested_model_and_downloads_nothing(no_downloads, tmp_path):
    spec = tmp_path / "features.cnn"
    spec.write_text(RECIPES["feature_extraction"], encoding="utf-8")
    result = invoke("build", spec, "--backend", "keras", "--verify")
    assert result.exit_code == 0, result.output
    assert "verified model feature_extraction with Keras: 21 layers" in result.stderr


@pytest.mark.keras
def test_verify_reports_e401_at_a_layer_inside_the_network_when_the_checker_is_wrong(no_downloads):
    from specc.backends.keras_verify import build_and_compare

    report = checked_report(RECIPES["fine_tuning"])
    wrong = tuple(
        replace_inference(r, trainable_params=r.inference.trainable_params + 1) if r.layer.name == "block5_conv2" else r
        for r in report.layers
    )
    found = build_and_compare(keras_module_of(report), replace(report, layers=wrong))
    messages = [d.message for d in found]
    assert "Keras builds layer `block5_conv2` with trainable parameters 2,359,808; specc checked 2,359,809" in messages


def replace_inference(layer_report, **changes):
    return layer_report._replace(inference=layer_report.inference._replace(**changes))


@pytest.mark.keras
def test_the_build_function_starts_from_imagenet_s_weights_unless_told_otherwise(no_downloads):
    report = checked_report(RECIPES["feature_extraction"])
    with pytest.raises(no_downloads, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        keras_module_of(report).MODELS[report.model.name]()


# --- PyTorch freezes what Keras freezes and, given Keras's weights, computes what Keras computes ---------------


@pytest.mark.torch
@recipes
def test_torch_requires_grad_follows_each_layer_s_freezing_and_counts_what_specc_checks(recipe):
    from specc.backends.torch_verify import torch_figures

    from keras_reference import assert_figures_equal

    report = checked_report(RECIPES[recipe])
    model_class = torch_module_of(report).MODELS[report.model.name]
    module = model_class()
    layout = torch_layout(report)
    for layer_report in report.counted:
        place = layout[layer_report.layer.name]
        if place.module is None or not layer_report.inference.params:
            continue
        trains = {p.requires_grad for p in module.get_submodule(place.module).parameters()}
        assert trains == {layer_report.layer.trainable}, f"layer `{layer_report.layer.name}`: requires_grad {trains}"
    assert_figures_equal(report, torch_figures(model_class, report), "PyTorch")


@pytest.mark.torch
def test_frozen_batch_norms_stay_in_inference_mode_when_the_module_trains_as_keras_runs_them():
    report = checked_report(RECIPES["resnet50_head"])
    module = torch_module_of(report).MODELS[report.model.name]().train()
    layout = torch_layout(report)
    norms = [r.layer for r in report.counted if isinstance(r.layer, BatchNorm)]
    assert {layer.trainable for layer in norms} == {True, False}
    for layer in norms:
        assert module.get_submodule(layout[layer.name].module).training == layer.trainable, layer.name


def keras_and_torch_builds(report: ModelReport, seed: int = 0):
    """The Keras build with random weights (biases and batch-norm statistics too) and the PyTorch build."""
    from keras_reference import keras_module
    from torch_reference import randomize_keras_weights

    keras_module().utils.set_random_seed(seed)
    keras_model = build_without_weights(report)
    randomize_keras_weights(keras_model, np.random.default_rng(seed))
    torch_module = torch_module_of(report).MODELS[report.model.name]()
    return keras_model, torch_module


@pytest.mark.keras
@pytest.mark.torch
@pytest.mark.parametrize("recipe", ["feature_extraction", "resnet50_head"])
def test_loading_a_given_keras_application_fills_the_backbone_and_the_builds_then_compute_alike(recipe, no_downloads):
    """load_keras_imagenet_weights given keras.applications' model (here one without ImageNet's weights): the
    backbone computes what Keras's does; with the head's weights copied too, so does the whole model."""
    import torch

    from specc.backends.transfer import keras_to_torch, output_difference

    from torch_reference import DIFFERENCES, TOLERANCE, random_batch

    report = checked_report(RECIPES[recipe])
    keras_model, torch_module = keras_and_torch_builds(report)
    (backbone_use,) = [use for use in report.model.block_uses if use.backbone is not None]
    keras_backbone = keras_model.get_layer(backbone_use.name)
    torch_backbone = torch_module.get_submodule(backbone_use.name)
    batch = random_batch(report, np.random.default_rng(1))

    def backbone_difference() -> float:
        expected = np.asarray(keras_backbone(batch, training=False))
        torch_module.eval()
        with torch.no_grad():
            got = torch_backbone(torch.from_numpy(np.ascontiguousarray(np.moveaxis(batch, -1, 1)))).numpy()
        got = np.moveaxis(got, 1, -1) if got.ndim > 2 else got
        assert got.shape == expected.shape
        return float(np.abs(expected - got).max())

    assert backbone_difference() > 1e-2  # before the copy, the two networks hold different weights
    run_module(emit_torch([report], "spec.cnn"), "<loader>").load_keras_imagenet_weights(
        torch_module, keras_model=keras_backbone
    )
    difference = backbone_difference()
    assert difference <= TOLERANCE, f"{recipe}: the backbones differ by {difference}"
    keras_to_torch(keras_model, torch_module, report)
    difference = output_difference(keras_model, torch_module, report, batch)
    DIFFERENCES.append((difference, f"backbone recipe {recipe}"))
    assert difference <= TOLERANCE, f"{recipe}: Keras and PyTorch outputs differ by {difference}"


@pytest.mark.keras
@pytest.mark.torch
def test_in_training_the_frozen_batch_norms_use_their_moving_statistics_in_both_builds(no_downloads):
    """Keras runs a frozen BatchNormalization in inference mode even with training=True; the PyTorch module's
    train() does the same, while the trainable ones (conv5) normalize by the batch in both."""
    import torch

    from specc.backends.transfer import keras_input_to_torch, keras_to_torch

    from torch_reference import TOLERANCE, random_batch

    report = checked_report(RECIPES["resnet50_head"])
    keras_model, torch_module = keras_and_torch_builds(report)
    keras_to_torch(keras_model, torch_module, report)
    batch = random_batch(report, np.random.default_rng(2), size=4)
    expected = np.asarray(keras_model(batch, training=True))
    torch_module.train()
    with torch.no_grad():
        got = torch_module(torch.from_numpy(np.ascontiguousarray(keras_input_to_torch(batch)))).numpy()
    difference = float(np.abs(expected - got).max())
    assert difference <= TOLERANCE, f"in training, Keras and PyTorch outputs differ by {difference}"


# --- every network of the zoo, fine-tuned from the point Keras's guides pick ------------------------------------


def zoo_recipe(network: ZooNetwork) -> str:
    point = FINE_TUNING_POINTS[network.name]
    size = max(network.min_size, 75)
    return (
        f"model m {{\n  input {size}x{size}x3\n"
        f"  backbone {network.name} include_top=false pooling=avg trainable_from={point}\n  dense 3 softmax\n}}\n"
    )


@pytest.mark.keras
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_every_zoo_backbone_s_keras_build_freezes_what_specc_freezes(network, no_downloads):
    from specc.backends.keras_verify import keras_figures

    from keras_reference import assert_figures_equal

    report = checked_report(zoo_recipe(network))
    assert_figures_equal(report, keras_figures(build_without_weights(report), [r.layer.name for r in report.counted]))


@pytest.mark.torch
@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_every_zoo_backbone_s_torch_module_freezes_what_specc_freezes(network):
    report = checked_report(zoo_recipe(network))
    module = torch_module_of(report).MODELS[report.model.name]()
    layout = torch_layout(report)
    trainable = frozen = 0
    for layer_report in report.counted:
        place = layout[layer_report.layer.name]
        if place.module is None:
            continue
        for parameter in module.get_submodule(place.module).parameters():
            assert parameter.requires_grad == layer_report.layer.trainable, layer_report.layer.name
            trainable += parameter.numel() * parameter.requires_grad
            frozen += parameter.numel() * (not parameter.requires_grad)
    assert trainable == sum(p.numel() for p in module.parameters() if p.requires_grad) == report.trainable_params
    assert frozen == sum(p.numel() for p in module.parameters() if not p.requires_grad)
