"""Emit stage, trained: a model's training section becomes Keras's compile, a learning rate per epoch, train()
around fit, and a script that trains on a folder of PNGs or an npz file.

Keras is the judge: the emitted optimizer's and loss's configs are those Keras gives the spec's settings, the
learning rate of each epoch is Keras's own CosineDecay or staircase ExponentialDecay evaluated at the epoch, and
training on small synthetic images (two classes, bright in the top or the bottom half) makes the loss fall.
Data that does not fit the model is refused before any epoch, with exit status 2 and a message.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from specc.backends.keras import emit_keras
from specc.backends.verify import run_module
from specc.pipeline import check_text

pytestmark = pytest.mark.keras

HEAD = "  input 8x8x1\n  random_flip horizontal\n  rescaling 0.00392156862745098\n  conv 4 3x3 relu\n  flatten\n"


def spec(*settings: str, output: str = "dense 2 softmax", model: str = "tiny") -> str:
    """A small model of 8x8 grey images and two classes, with a training section of `settings`."""
    body = "".join(f"    {line}\n" for line in settings)
    return f"model {model} {{\n{HEAD}  {output}\n\n  train {{\n{body}  }}\n}}\n"


def emitted(text: str) -> str:
    checked = check_text(text)
    assert checked.ok, [f"{d.code} {d.message}" for d in checked.diagnostics]
    return emit_keras(checked.reports, "tiny.cnn")


def module(text: str):
    return run_module(emitted(text), "tiny_keras.py")


def images(count: int, size: int = 8, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images of two classes: class 0 bright in the top half, class 1 in the bottom half (a horizontal
    flip keeps the class)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    pixels = rng.integers(0, 60, (count, size, size, channels))
    for label in (0, 1):
        pixels[labels == label, label * size // 2 : (label + 1) * size // 2] += 180
    return pixels.astype("uint8"), labels


def write_npz(path, count=48, size=8, channels=1, test=True, **replaced):
    x, y = images(count, size, channels)
    arrays = {"x_train": x, "y_train": y}
    if test:
        arrays["x_test"], arrays["y_test"] = images(16, size, channels, seed=1)
    np.savez(path, **{**arrays, **replaced})
    return path


def write_folder(path, count=24, size=8, channels=1):
    """A folder of two class subfolders of PNGs: `top` (bright in the top half) and `bottom`."""
    import tensorflow as tf

    x, y = images(count, size, channels)
    for index, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = path / ("top", "bottom")[label]
        folder.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(folder / f"{index}.png"), tf.io.encode_png(image))
    return path


# --- compile: what Keras gives the spec's settings ------------------------------------------------

OPTIMIZERS = [
    ("optimizer adam", "Adam", {"learning_rate": 0.001}),
    ("optimizer adam learning_rate=0.01", "Adam", {"learning_rate": 0.01}),
    ("optimizer adamw learning_rate=0.002", "AdamW", {"learning_rate": 0.002, "weight_decay": 0.004}),
    ("optimizer adamw weight_decay=0.01", "AdamW", {"learning_rate": 0.001, "weight_decay": 0.01}),
    ("optimizer sgd", "SGD", {"learning_rate": 0.01}),
    (
        "optimizer sgd learning_rate=0.05 momentum=0.9 nesterov=true",
        "SGD",
        {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    ),
    ("optimizer rmsprop 0.0005 rho=0.8", "RMSprop", {"learning_rate": 0.0005, "rho": 0.8}),
    ("optimizer rmsprop momentum=0.5", "RMSprop", {"learning_rate": 0.001, "momentum": 0.5}),
]


@pytest.mark.parametrize("line, keras_class, arguments", OPTIMIZERS, ids=[case[0] for case in OPTIMIZERS])
def test_the_compiled_optimizer_is_the_one_keras_makes_of_the_specs_settings(line, keras_class, arguments):
    import keras

    generated = module(spec(line))
    model = generated.compile_tiny(generated.build_tiny())
    expected = getattr(keras.optimizers, keras_class)(**arguments).get_config()
    assert type(model.optimizer).__name__ == keras_class
    found = model.optimizer.get_config()
    assert {key: found[key] for key in expected if key != "name"} == pytest.approx(
        {key: value for key, value in expected.items() if key != "name"}
    )


LOSSES = [
    ((), "dense 2 softmax", "SparseCategoricalCrossentropy", {}),
    ((), "dense 2", "SparseCategoricalCrossentropy", {"from_logits": True}),
    (("loss categorical_crossentropy",), "dense 2 softmax", "CategoricalCrossentropy", {}),
    ((), "dense 1 sigmoid", "BinaryCrossentropy", {}),
    (("loss binary_crossentropy from_logits=true",), "dense 1", "BinaryCrossentropy", {"from_logits": True}),
    (("loss mse", "metrics mae"), "dense 1", "MeanSquaredError", {}),
]


@pytest.mark.parametrize("settings, output, keras_class, arguments", LOSSES)
def test_the_compiled_loss_is_the_one_keras_makes_of_the_specs_settings(settings, output, keras_class, arguments):
    import keras

    generated = module(spec(*settings, output=output))
    model = generated.compile_tiny(generated.build_tiny())
    assert model.loss.get_config() == getattr(keras.losses, keras_class)(**arguments).get_config()


def test_the_compiled_metrics_are_the_specs():
    generated = module(spec("metrics accuracy mae"))
    model = generated.compile_tiny(generated.build_tiny())
    assert model.get_compile_config()["metrics"] == ["accuracy", "mae"]


# --- the learning rate: once per epoch, as Keras's own schedules give it at the epoch --------------------


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_the_cosine_learning_rate_of_each_epoch_is_keras_cosine_decay_over_the_epochs(alpha):
    import keras

    generated = module(spec("optimizer sgd learning_rate=0.1", f"schedule cosine alpha={alpha}", "epochs 7"))
    decay = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=7, alpha=alpha)
    for epoch in range(7):
        assert generated.learning_rate_tiny(epoch, 7) == pytest.approx(float(decay(epoch)), rel=1e-6)


def test_the_step_learning_rate_of_each_epoch_is_keras_staircase_exponential_decay():
    import keras

    generated = module(spec("optimizer adam learning_rate=0.01", "schedule step step_size=3 gamma=0.5"))
    decay = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=3, decay_rate=0.5, staircase=True)
    for epoch in range(10):
        assert generated.learning_rate_tiny(epoch) == pytest.approx(float(decay(epoch)), rel=1e-6)


# --- train(): fit, its callbacks, and MirroredStrategy --------------------------------------------------

TRAINED = ("optimizer adam learning_rate=0.01", "schedule cosine", "epochs 3", "batch_size 8", "validation_split 0.25")


def test_train_on_arrays_makes_the_loss_fall_and_changes_the_learning_rate_once_per_epoch():
    generated = module(spec(*TRAINED))
    x, y = images(64)
    model, history = generated.train_tiny((x.astype("float32"), y), epochs=3)
    losses, rates = history.history["loss"], history.history["learning_rate"]
    assert losses[-1] < losses[0]
    assert rates == pytest.approx([generated.learning_rate_tiny(epoch, 3) for epoch in range(3)], rel=1e-6)
    assert "val_loss" in history.history  # fit held back the spec's validation_split


def test_early_stopping_and_the_best_checkpoint_are_the_specs_callbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    generated = module(spec(*TRAINED, "early_stopping patience=1", 'checkpoint path="kept.keras"'))
    x, y = images(32)
    _, history = generated.train_tiny((x.astype("float32"), y), epochs=2)
    assert len(history.history["loss"]) <= 2
    assert (tmp_path / "kept.keras").is_file()


def test_train_with_distribute_builds_and_compiles_under_mirrored_strategy():
    import tensorflow as tf

    generated = module(spec(*TRAINED))
    x, y = images(32)
    model, history = generated.train_tiny((x.astype("float32"), y), epochs=1, distribute=True)
    assert isinstance(model.distribute_strategy, tf.distribute.MirroredStrategy)
    # One replica on a machine without GPUs (the CPU), one per GPU otherwise.
    assert model.distribute_strategy.num_replicas_in_sync == max(1, len(tf.config.list_physical_devices("GPU")))
    assert len(history.history["loss"]) == 1


# --- the script -----------------------------------------------------------------------------------------

SCRIPT_SPEC = spec(*TRAINED, "early_stopping patience=3", "checkpoint")


def run_script(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    script = tmp_path / "tiny_keras.py"
    script.write_text(emitted(SCRIPT_SPEC), encoding="utf-8")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


@pytest.mark.parametrize("data", ["folder", "npz"])
def test_the_script_trains_two_epochs_prints_an_evaluation_and_saves_the_model(tmp_path, data):
    path = write_folder(tmp_path / "images") if data == "folder" else write_npz(tmp_path / "data.npz")
    result = run_script(tmp_path, "--data", str(path), "--epochs", "2", "--output", "trained.keras")
    assert result.returncode == 0, result.stderr[-3000:]
    on = "the validation data" if data == "folder" else "the test data"
    lines = result.stdout.splitlines()
    assert f"evaluation on {on}" in lines
    assert re.fullmatch(r"final: loss=\d+\.\d{4} accuracy=\d+\.\d{4}", lines[-2]), lines[-2]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(re.match(r"epoch \d/2: loss=\S+ accuracy=\S+ val_loss=\S+ val_accuracy=\S+\Z", line) for line in epochs)
    assert (tmp_path / "trained.keras").is_file() and (tmp_path / "tiny_best.keras").is_file()
    import keras

    assert keras.models.load_model(tmp_path / "trained.keras").name == "tiny"


def test_a_data_error_in_the_script_exits_2_with_a_message_and_no_traceback(tmp_path):
    result = run_script(tmp_path, "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "error:" in result.stderr and "nowhere: no such folder or file" in result.stderr
    assert "Traceback" not in result.stderr


DATA_ERRORS = [
    ("missing", "no such folder or file"),
    ("text file", "is neither a folder of class subfolders nor an .npz file"),
    ("npz without y_train", "has no y_train"),
    ("npz of 10x10 images", "x_train holds 10x10x1 images, but the model takes 8x8x1"),
    ("npz of 3 channels", "x_train holds 8x8x3 images, but the model takes 8x8x1"),
    ("npz of 3 classes", "y_train has 3 classes, but the model is built for 2 classes"),
    ("npz of one-hot 4 classes", "y_train has 4 classes, but the model is built for 2 classes"),
    ("folder of 10x10 images", "is 10x10, but the model takes 8x8 images"),
    ("folder of 3 classes", "has 3 class subfolders (bottom, middle, top), but the model is built for 2 classes"),
    ("empty folders", "hold no images"),
    ("output not .keras", "trained.h5: Keras saves a whole model only to a .keras file"),
]


def _bad_data(case: str, tmp_path):
    if case == "missing":
        return tmp_path / "missing.npz"
    if case == "text file":
        (tmp_path / "data.txt").write_text("1 2 3")
        return tmp_path / "data.txt"
    if case == "npz without y_train":
        np.savez(tmp_path / "d.npz", x_train=images(8)[0])
        return tmp_path / "d.npz"
    if case == "npz of 10x10 images":
        return write_npz(tmp_path / "d.npz", size=10)
    if case == "npz of 3 channels":
        return write_npz(tmp_path / "d.npz", channels=3)
    if case == "npz of 3 classes":
        return write_npz(tmp_path / "d.npz", y_train=np.arange(48) % 3)
    if case == "npz of one-hot 4 classes":
        return write_npz(tmp_path / "d.npz", y_train=np.eye(4)[np.arange(48) % 4])
    if case == "folder of 10x10 images":
        return write_folder(tmp_path / "images", count=4, size=10)
    if case == "folder of 3 classes":
        folder = write_folder(tmp_path / "images", count=6)
        (folder / "middle").mkdir()
        (folder / "middle" / "0.png").write_bytes((folder / "top" / "0.png").read_bytes())
        return folder
    if case == "empty folders":
        for name in ("a", "b"):
            (tmp_path / "images" / name).mkdir(parents=True)
        return tmp_path / "images"
    return write_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("case, message", DATA_ERRORS, ids=[case for case, _ in DATA_ERRORS])
def test_data_that_does_not_fit_the_model_is_refused_before_any_epoch(tmp_path, monkeypatch, capsys, case, message):
    """In the process (main() is what the script runs), so that each case costs no TensorFlow start-up."""
    monkeypatch.chdir(tmp_path)
    generated = module(SCRIPT_SPEC)

    def no_training(*arguments, **keywords):
        raise AssertionError("trained despite data that does not fit")

    monkeypatch.setitem(generated.TRAINING["tiny"], "train", no_training)
    output = "trained.h5" if case == "output not .keras" else "trained.keras"
    assert generated.main(["--data", str(_bad_data(case, tmp_path)), "--output", output]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error, error


def test_mnist_like_arrays_without_a_channel_axis_take_one(tmp_path):
    x, y = images(8)
    np.savez(tmp_path / "d.npz", x_train=x[..., 0], y_train=y)
    generated = module(SCRIPT_SPEC)
    (images_, labels), validation, test = generated.load_data(tmp_path / "d.npz", (8, 8, 1), "int", 2, 0.25, 8, 0)
    assert images_.shape == (6, 8, 8, 1) and images_.dtype == np.float32
    assert validation[0].shape == (2, 8, 8, 1) and test is None


@pytest.mark.parametrize(
    "output, mode, labels", [("dense 2 softmax", "categorical", (2,)), ("dense 1 sigmoid", "binary", (1,))]
)
def test_labels_are_made_as_the_loss_takes_them(tmp_path, output, mode, labels):
    settings = ("loss categorical_crossentropy",) if mode == "categorical" else ()
    generated = module(spec(*settings, output=output))
    assert generated.TRAINING["tiny"]["label_mode"] == mode and generated.TRAINING["tiny"]["classes"] == 2
    (_, found), _, _ = generated.load_data(write_npz(tmp_path / "d.npz"), (8, 8, 1), mode, 2, 0.0, 8, 0)
    assert found.shape == (48, *labels)


# --- what the module holds ---------------------------------------------------------------------------------


def test_a_model_without_a_training_section_keeps_its_module_as_it_was():
    checked = check_text(f"model tiny {{\n{HEAD}  dense 2 softmax\n}}\n")
    source = emit_keras(checked.reports, "tiny.cnn")
    assert "def train_" not in source and "import tensorflow" not in source
    assert source.endswith("if __name__ == '__main__':\n    for build in MODELS.values():\n        build().summary()\n")


def test_each_setting_is_emitted_with_the_spec_line_it_comes_from():
    source = emitted(spec("optimizer sgd momentum=0.9", "loss sparse_categorical_crossentropy", "schedule step"))
    assert "optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),  # tiny.cnn:10" in source
    assert "loss=keras.losses.SparseCategoricalCrossentropy(),  # tiny.cnn:11" in source
    assert "def learning_rate_tiny(epoch: int) -> float:  # tiny.cnn:12" in source
    assert "import math" not in source  # only a cosine needs it


def test_names_the_training_code_takes_are_kept_from_blocks_and_layers():
    blocks = "".join(
        f"block {name}(f) {{\n  conv f 3x3 same\n}}\n" for name in ("main", "load_data", "train_m", "TRAINING")
    )
    uses = "".join(f"  {name} 2 name={name}_use\n" for name in ("main", "load_data", "train_m", "TRAINING"))
    layers = "  conv 2 1 name=tf\n  flatten name=np\n  dense 2 softmax\n"
    text = blocks + f"model m {{\n  input 8x8x1\n{uses}{layers}  train {{\n  }}\n}}\n"
    source = emitted(text)
    generated = run_module(source, "m_keras.py")
    assert generated.main.__doc__.startswith("Train a model") and generated.train_m.__name__ == "train_m"
    assert generated.TRAINING["m"]["train"] is generated.train_m
    assert generated.build_m().count_params() > 0


def test_build_verify_passes_for_a_spec_with_augmentation_and_a_training_section(tmp_path):
    from typer.testing import CliRunner

    from specc.cli import app

    lines = ("random_rotation 0.1 fill_mode=constant", "random_zoom 0.1 width_factor=(-0.2, 0.3)")
    text = spec(*TRAINED, "checkpoint").replace("  conv 4", "".join(f"  {line}\n" for line in lines) + "  conv 4")
    path = tmp_path / "tiny.cnn"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(path), "--backend", "keras", "--verify"])
    assert result.exit_code == 0, result.output
    assert "every shape and count as checked" in result.output
