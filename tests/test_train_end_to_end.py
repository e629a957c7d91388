"""`specc train` from spec to trained model, per backend: a small synthetic image set made here (three classes
a glance tells apart), as PNG class folders and as an npz; the loss falls and the final accuracy is above
chance, read from the lines every emitted script prints (TRAINING.md):

    epoch N/M: loss=... accuracy=... [val_loss=... val_accuracy=...]
    final: loss=... accuracy=...          (after the epochs; a line saying where the model was saved may follow)

The shipped examples with a training section (the augmented CIFAR-10 model and the feature-extraction recipe)
check, build and train on such data too; data the script refuses stops it before any epoch, with exit 2.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
BACKENDS = [pytest.param("keras", marks=pytest.mark.keras), pytest.param("torch", marks=pytest.mark.torch)]

# Each class one dominant colour channel (red, green, blue) under noise: easy for any network, not for chance.
CLASSES = ("blue", "green", "red")  # in the order a folder loader sorts them
CHANNEL = {"red": 0, "green": 1, "blue": 2}

# Learns the colours in a few epochs of a few dozen images; the learning rate is high for that reason.
SMALL_SPEC = """
model small {
  input 16x16x3
  rescaling 0.00392156862745098
  conv 8 3x3 relu
  global_avgpool
  dense 3 softmax

  train {
    optimizer adam learning_rate=0.02
    loss sparse_categorical_crossentropy
    metrics accuracy
    epochs 2
    batch_size 8
  }
}
"""

EPOCH = re.compile(r"^epoch (\d+)/(\d+): loss=(\S+) accuracy=(\S+)", re.MULTILINE)
FINAL = re.compile(r"^final: loss=(\S+) accuracy=(\S+)", re.MULTILINE)


def synthetic_images(count: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` RGB images of size x size (uint8, NHWC) and their labels (indices into CLASSES), classes in turn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    images = rng.integers(0, 90, size=(count, size, size, 3), dtype=np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[..., CHANNEL[CLASSES[label]]] += np.uint8(150)
    return images, labels.astype(np.int64)


def write_folders(root: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """The images as PNG files in one subfolder per class, as image_dataset_from_directory reads them."""
    from PIL import Image

    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:03d}.png")
    return root


def write_npz(path: Path, images: np.ndarray, labels: np.ndarray, test: int = 0) -> Path:
    """x_train, y_train (and the last `test` images as x_test, y_test)."""
    arrays = {"x_train": images[: len(images) - test], "y_train": labels[: len(labels) - test]}
    if test:
        arrays |= {"x_test": images[-test:], "y_test": labels[-test:]}
    np.savez(path, **arrays)
    return path


def specc_train(spec: Path, backend: str, data: Path, *args: str, timeout: float = 600):
    """`specc train SPEC --backend BACKEND --data DATA ARGS...` in a process of its own, run from the spec's
    folder; the trained model is saved there too."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    command = [sys.executable, "-m", "specc", "train", str(spec), "--backend", backend, "--data", str(data), *args]
    return subprocess.run(
        command, capture_output=True, text=True, cwd=spec.parent, env=environment, timeout=timeout, check=False
    )


def epochs_and_final(result) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """Each epoch's (loss, accuracy) and the final (loss, accuracy), from the script's standard output."""
    assert result.returncode == 0, result.stdout + result.stderr
    epochs = [(float(loss), float(accuracy)) for _, _, loss, accuracy in EPOCH.findall(result.stdout)]
    finals = FINAL.findall(result.stdout)
    assert len(finals) == 1, f"not one line `final: loss=... accuracy=...` in:\n{result.stdout}"
    assert result.stdout.index("final: ") > result.stdout.rindex("epoch "), "the final line comes after the epochs"
    ((loss, accuracy),) = finals
    return epochs, (float(loss), float(accuracy))


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_images(48, 16)


@pytest.fixture
def small(tmp_path) -> Path:
    spec = tmp_path / "small.cnn"
    spec.write_text(SMALL_SPEC, encoding="utf-8")
    return spec


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("form", ["folders", "npz"])
def test_train_on_synthetic_images_makes_the_loss_fall_and_the_accuracy_rise_above_chance(small, images, backend, form):
    """From class folders for the spec's 2 epochs; from an npz for --epochs 3, with the test arrays evaluated and
    the model saved where the argument after `--` says."""
    saved = small.parent / "trained" / ("model.keras" if backend == "keras" else "model.pt")
    if form == "folders":
        result = specc_train(small, backend, write_folders(small.parent / "data", *images))
    else:
        saved.parent.mkdir()
        data = write_npz(small.parent / "data.npz", *images, test=12)
        result = specc_train(small, backend, data, "--epochs", "3", "--", "--output", str(saved))
    epochs, (final_loss, final_accuracy) = epochs_and_final(result)
    assert len(epochs) == (2 if form == "folders" else 3), result.stdout
    assert epochs[-1][0] < epochs[0][0], f"the loss did not fall: {epochs}"
    assert final_accuracy > 1 / len(CLASSES) + 0.2, result.stdout
    assert final_loss < epochs[0][0]
    assert small.with_name(f"small_{backend}.py").exists()
    assert form == "folders" or saved.is_file(), result.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_images_of_another_size_than_the_input_stop_the_script_before_any_epoch_with_exit_2(small, backend):
    data = write_folders(small.parent / "data", *synthetic_images(12, 20))
    result = specc_train(small, backend, data)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not EPOCH.search(result.stdout)
    assert "Traceback" not in result.stderr
    assert "20" in result.stderr and "16" in result.stderr, result.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_class_count_other_than_the_output_units_stops_the_script_before_any_epoch_with_exit_2(small, backend):
    images, labels = synthetic_images(12, 16)
    data = write_folders(small.parent / "data", images[labels < 2], labels[labels < 2])
    result = specc_train(small, backend, data)
    assert result.returncode == 2, result.stdout + result.stderr
    assert not EPOCH.search(result.stdout)
    assert "Traceback" not in result.stderr
    assert "2" in result.stderr and "3" in result.stderr, result.stderr


# --- the shipped examples with a training section -------------------------------------------------------------


def example_variant(name: str, tmp_path: Path, **replacements: str) -> Path:
    """A shipped example with some text replaced (a smaller input, no downloaded weights), written to tmp_path."""
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, f"{name} no longer has {old!r}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_augmented_cifar10_example_trains_on_synthetic_images(tmp_path, backend):
    spec = example_variant("cifar10_augmented.cnn", tmp_path)
    # Ten classes, as the spec's output and `classes 10` say; what the images show does not matter here.
    images = np.random.default_rng(0).integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    data = write_npz(tmp_path / "data.npz", images, np.arange(40) % 10, test=10)
    _, (loss, accuracy) = epochs_and_final(specc_train(spec, backend, data, "--epochs", "1"))
    assert np.isfinite(loss) and 0 <= accuracy <= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_feature_extraction_example_trains_at_its_smallest_size_without_downloaded_weights(tmp_path, backend):
    # VGG16 takes 32x32 at the least; weights=none keeps the test off the network (and its frozen base random).
    spec = example_variant(
        "feature_extraction.cnn", tmp_path, **{"150x150x3": "32x32x3", "weights=imagenet": "weights=none"}
    )
    images, labels = synthetic_images(12, 32)
    keep = labels < 2  # one sigmoid unit: two classes
    data = write_folders(tmp_path / "data", images[keep], labels[keep])
    _, (loss, accuracy) = epochs_and_final(specc_train(spec, backend, data, "--epochs", "1"))
    assert np.isfinite(loss) and 0 <= accuracy <= 1
