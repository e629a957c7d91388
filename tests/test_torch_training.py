"""The PyTorch backend's training code: logits and probabilities, kornia augmentation in training only, the
optimizers with Keras's settings, and the emitted script trained on PNG folders and npz files, in one process
and under torchrun with two (gloo, on CPU)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from specc.backends.torch import emit_torch
from specc.backends.verify import run_module
from specc.diagnostics import Span
from specc.ir import CheckpointSpec, EarlyStoppingSpec, OptimizerSpec, ScheduleSpec, Training
from specc.pipeline import check_text

pytestmark = pytest.mark.torch

torch = pytest.importorskip("torch")
pytest.importorskip("kornia")
pytest.importorskip("PIL")

SPAN = Span(9, 3, 9, 20)

TOY = """\
model toy {
  input 8x8x3
  rescaling 0.00392156862745098
  conv 8 3x3 relu same
  global_avgpool
  dense 3 softmax
}
"""

AUGMENTED = """\
model augmented {
  input 16x16x3
  random_flip horizontal_and_vertical
  random_rotation 0.1
  random_zoom 0.2
  random_translation 0.1 0.1 fill_mode=nearest
  random_contrast 0.3
  random_brightness 0.2
  rescaling 0.00392156862745098
  conv 4 3x3 relu same
  global_avgpool
  dense 3 softmax
}
"""


def training(**settings) -> Training:
    """A training section as the IR holds it, the contract's defaults where a setting is not given."""
    optimizer = {"name": "adam", "learning_rate": 0.001, "span": SPAN, **settings.pop("optimizer", {})}
    settings = {"loss": "sparse_categorical_crossentropy", **settings}
    return Training(optimizer=OptimizerSpec(**optimizer), span=SPAN, **settings)


def stopping(patience: int = 3, monitor: str = "val_loss") -> EarlyStoppingSpec:
    return EarlyStoppingSpec(monitor=monitor, patience=patience, span=SPAN)


def checkpoint(path: str | None = None) -> CheckpointSpec:
    return CheckpointSpec(path=path, span=SPAN)


def schedule_of(name: str, **settings) -> ScheduleSpec:
    return ScheduleSpec(name=name, span=SPAN, **settings)


def trained_report(spec: str, section: Training):
    checked = check_text(spec)
    assert checked.ok, checked.diagnostics
    (report,) = checked.reports
    model = report.model.model_copy(update={"training": section})
    return type(report)(model, report.layers, report.complete, report.reachable, report.input_sizes)


def module_source(spec: str, section: Training) -> str:
    report = trained_report(spec, section)
    return emit_torch([report], f"{report.model.name}.cnn")


def module(spec: str, section: Training):
    return run_module(module_source(spec, section), "<generated torch>")


def write_module(tmp_path: Path, spec: str, section: Training) -> Path:
    path = tmp_path / "model_torch.py"
    path.write_text(module_source(spec, section))
    return path


# --- synthetic data: three classes, each bright in one colour channel -----------------------------------------


def synthetic_images(count: int, size: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Channels-last uint8-valued images (float32), class k bright in channel k: easy to tell apart."""
    generator = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    images = generator.uniform(0, 90, size=(count, size, size, 3)).astype(np.float32)
    images[np.arange(count), :, :, labels] += 150
    order = generator.permutation(count)
    return images[order].round(), labels[order]


def write_npz(path: Path, count: int = 192, size: int = 8, test: bool = True) -> Path:
    x, y = synthetic_images(count, size)
    arrays = {"x_train": x, "y_train": y}
    if test:
        arrays["x_test"], arrays["y_test"] = synthetic_images(48, size, seed=1)
    np.savez(path, **arrays)
    return path


def write_folder(root: Path, count: int = 96, size: int = 8, classes: int = 3) -> Path:
    from PIL import Image

    x, y = synthetic_images(count, size)
    for index, (image, label) in enumerate(zip(x, y, strict=True)):
        if label >= classes:
            continue
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.astype(np.uint8)).save(folder / f"{index}.png")
    return root


def run_script(script: Path, *arguments: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )


def epoch_logs(output: str) -> list[dict[str, float]]:
    """The figures of each epoch's last progress line (the one with the time)."""
    logs = []
    for line in output.splitlines():
        if re.search(r"\] .* - [0-9.]+s$", line):
            logs.append({k: float(v) for k, v in re.findall(r"(\w+): ([0-9.]+)", line)})
    return logs


# --- the model: logits, probabilities, the loss ---------------------------------------------------------------


def test_forward_returns_logits_and_probabilities_applies_the_softmax_the_loss_would_otherwise_apply_twice():
    source = module_source(TOY, training())
    toy = run_module(source, "<generated torch>").MODELS["toy"]()
    assert "F.softmax" not in source.split("def forward")[1].split("def probabilities")[0]
    assert isinstance(toy.loss_function(), torch.nn.CrossEntropyLoss)
    x = torch.rand(5, 3, 8, 8) * 255
    logits, probabilities = toy(x), toy.probabilities(x)
    assert not torch.allclose(logits.sum(dim=1), torch.ones(5))
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(5))
    assert torch.allclose(probabilities, torch.softmax(logits, dim=1))


def test_a_standalone_softmax_at_the_output_is_left_to_the_loss_too():
    spec = TOY.replace("dense 3 softmax", "dense 3\n  activation softmax")
    toy = module(spec, training()).MODELS["toy"]()
    x = torch.rand(4, 3, 8, 8)
    assert not torch.allclose(toy(x).sum(dim=1), torch.ones(4))
    assert torch.allclose(toy.probabilities(x).sum(dim=1), torch.ones(4))


def test_one_sigmoid_unit_with_binary_cross_entropy_gives_logits_and_bce_with_logits():
    spec = TOY.replace("dense 3 softmax", "dense 1 sigmoid")
    toy = module(spec, training(loss="binary_crossentropy")).MODELS["toy"]()
    assert isinstance(toy.loss_function(), torch.nn.BCEWithLogitsLoss)
    assert toy.CLASSES == 2 and toy.OUTPUT_UNITS == 1
    x = torch.rand(4, 3, 8, 8)
    assert torch.allclose(toy.probabilities(x), torch.sigmoid(toy(x)))


def test_from_logits_on_a_linear_output_keeps_forward_and_probabilities_applies_softmax():
    spec = TOY.replace("dense 3 softmax", "dense 3")
    toy = module(spec, training(from_logits=True)).MODELS["toy"]()
    x = torch.rand(4, 3, 8, 8)
    assert torch.allclose(toy.probabilities(x), torch.softmax(toy(x), dim=1))


def test_a_model_without_a_training_section_keeps_its_softmax_and_has_no_training_code():
    checked = check_text(TOY)
    source = emit_torch(checked.reports, "toy.cnn")
    assert (
        "F.softmax(self.dense(x), dim=1)" in source and "def probabilities" not in source and "argparse" not in source
    )


# --- optimizers and schedules: Keras's settings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("optimizer", "expected", "settings"),
    [
        # Keras's Adam adds epsilon before the bias correction, which torch.optim.Adam cannot: the module's own class.
        ({"name": "adam"}, "KerasAdam", {"lr": 0.001, "eps": 1e-7, "weight_decay": 0}),
        ({"name": "adamw", "weight_decay": 0.004}, "KerasAdam", {"eps": 1e-7, "weight_decay": 0.004}),
        ({"name": "adam", "weight_decay": 0.01}, "KerasAdam", {"weight_decay": 0.01}),
        ({"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True}, torch.optim.SGD, {"lr": 0.01}),
    ],
)
def test_the_optimizer_takes_keras_s_defaults_where_pytorch_s_differ(optimizer, expected, settings):
    generated = module(TOY, training(optimizer=optimizer))
    toy = generated.MODELS["toy"]()
    made = toy.optimizer(toy.parameters())
    assert type(made) is (getattr(generated, expected) if isinstance(expected, str) else expected)
    for key, value in settings.items():
        assert made.defaults[key] == pytest.approx(value)
    if optimizer["name"] == "sgd":
        assert made.defaults["momentum"] == 0.9 and made.defaults["nesterov"]


def _keras_rmsprop_step(weights: np.ndarray, gradients: list[np.ndarray], momentum: float) -> np.ndarray:
    """Keras 3's RMSprop update, as keras/src/optimizers/rmsprop.py computes it (epsilon inside the root)."""
    velocity, accumulated = np.zeros_like(weights), np.zeros_like(weights)
    for gradient in gradients:
        velocity = 0.9 * velocity + 0.1 * gradient**2
        increment = 0.001 * gradient / np.sqrt(velocity + 1e-7)
        accumulated = momentum * accumulated + increment if momentum else increment
        weights = weights - accumulated
    return weights


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop_puts_epsilon_inside_the_square_root_as_keras_does_even_for_tiny_gradients(momentum):
    toy = module(TOY, training(optimizer={"name": "rmsprop", "momentum": momentum})).MODELS["toy"]
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    gradients = [np.array([1e-4, -3e-5, 2.0]), np.array([2e-4, 1e-5, -1.0])]
    optimizer = toy.optimizer(toy(), [weights])
    for gradient in gradients:
        weights.grad = torch.tensor(gradient)
        optimizer.step()
    expected = _keras_rmsprop_step(np.array([1.0, -2.0, 0.5]), gradients, momentum)
    np.testing.assert_allclose(weights.detach().numpy(), expected, rtol=1e-12)


def test_cosine_schedule_ends_at_alpha_times_the_rate_and_step_multiplies_by_gamma():
    cosine = schedule_of("cosine", alpha=0.1)
    toy = module(TOY, training(schedule=cosine, optimizer={"learning_rate": 0.01})).MODELS["toy"]()
    optimizer = toy.optimizer(toy.parameters())
    schedule = toy.schedule(optimizer, 4)
    for _ in range(4):
        optimizer.step()
        schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001)
    step = schedule_of("step", step_size=2, gamma=0.5)
    toy = module(TOY, training(schedule=step)).MODELS["toy"]()
    optimizer = toy.optimizer(toy.parameters())
    schedule = toy.schedule(optimizer, 10)
    rates = []
    for _ in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == pytest.approx([0.001, 0.001, 0.0005, 0.0005])


# --- augmentation ---------------------------------------------------------------------------------------------


def _augmentations(model):
    return [m for m in model.modules() if type(m).__name__ == "Augmentation"]


def test_augmentation_is_the_identity_in_eval_and_changes_the_images_in_training():
    net = module(AUGMENTED, training()).MODELS["augmented"]()
    layers = _augmentations(net)
    assert len(layers) == 6
    images = torch.rand(6, 3, 16, 16) * 255
    net.eval()
    for layer in layers:
        assert torch.equal(layer(images), images)
    net.train()
    torch.manual_seed(0)
    for layer in layers:
        changed = layer(images)
        assert changed.shape == images.shape
        assert not torch.allclose(changed, images), layer
    net.eval()
    assert torch.equal(net(images), net(images))


def test_brightness_and_contrast_keep_images_within_the_value_range():
    net = module(AUGMENTED, training()).MODELS["augmented"]().train()
    *_, contrast, brightness = _augmentations(net)
    images = torch.rand(8, 3, 16, 16) * 255
    for layer in (contrast, brightness):
        out = layer(images)
        assert out.min() >= 0 and out.max() <= 255 + 1e-3


def test_a_model_without_augmentation_does_not_import_kornia():
    assert "kornia" not in module_source(TOY, training())
    assert "import kornia.augmentation as K" in module_source(AUGMENTED, training())


# --- the script -----------------------------------------------------------------------------------------------


def test_the_script_on_an_npz_lowers_the_loss_beats_chance_saves_the_model_and_the_best_checkpoint(tmp_path):
    section = training(
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        optimizer={"learning_rate": 0.02},
        early_stopping=stopping(patience=5),
        checkpoint=checkpoint(),
    )
    script = write_module(tmp_path, TOY, section)
    data = write_npz(tmp_path / "data.npz")
    result = run_script(script, "--data", str(data), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    logs = epoch_logs(result.stdout)
    assert len(logs) == 3
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert logs[-1]["val_accuracy"] > 0.5  # chance is 1/3
    assert "Evaluation on the test set" in result.stdout
    weights = torch.load(tmp_path / "toy.pt")
    assert (tmp_path / "toy_best.pt").exists()
    toy = run_module(script.read_text(), "<trained>").MODELS["toy"]()
    toy.load_state_dict(weights)


def test_the_script_on_a_png_folder_trains_and_writes_output_where_asked(tmp_path):
    section = training(epochs=3, batch_size=8, validation_split=0.2, optimizer={"learning_rate": 0.02})
    script = write_module(tmp_path, AUGMENTED.replace("random_rotation 0.1\n", ""), section)
    folder = write_folder(tmp_path / "images", count=96, size=16)
    result = run_script(script, "--data", str(folder), "--output", "out/weights.pt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    logs = epoch_logs(result.stdout)
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert "Evaluation on the validation set" in result.stdout
    assert (tmp_path / "out/weights.pt").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "nowhere", "does not exist"),
        (lambda root: write_folder(root / "images", size=10), "the model takes 8x8 images"),
        (lambda root: write_folder(root / "images", classes=2), "has 2 classes, but the model tells 3 apart"),
        (lambda root: write_npz(root / "data.npz", size=12), "the model takes (8, 8, 3)"),
        (
            lambda root: (
                np.savez(root / "x.npz", x_train=np.zeros((4, 8, 8, 3)), y_train=np.arange(4)),
                root / "x.npz",
            )[1],
            "has 4 classes, but the model tells 3 apart",
        ),
        (lambda root: (np.savez(root / "y.npz", x=np.zeros(3)), root / "y.npz")[1], "has no x_train or y_train"),
    ],
)
def test_data_that_does_not_fit_the_model_is_a_clear_error_with_status_2_before_any_epoch(
    tmp_path, monkeypatch, capsys, make, message
):
    monkeypatch.chdir(tmp_path)
    status = module(TOY, training(epochs=1)).main(["--data", str(make(tmp_path))])
    out, err = capsys.readouterr()
    assert status == 2 and message in err, err
    assert "Epoch" not in out and not list(tmp_path.glob("*.pt"))


def test_the_script_exits_with_status_2_and_no_traceback_on_a_missing_folder(tmp_path):
    result = run_script(write_module(tmp_path, TOY, training()), "--data", "missing", cwd=tmp_path)
    assert (
        result.returncode == 2
        and result.stderr == "error: missing does not exist (give a folder of class subfolders or an .npz file)\n"
    )


def test_early_stopping_stops_when_the_monitored_loss_has_not_improved_and_restores_the_best(
    tmp_path, monkeypatch, capsys
):
    # A learning rate so high that the loss cannot keep falling.
    section = training(
        epochs=8, batch_size=16, validation_split=0.25, optimizer={"learning_rate": 5.0}, early_stopping=stopping(1)
    )
    monkeypatch.chdir(tmp_path)
    status = module(TOY, section).main(["--data", str(write_npz(tmp_path / "data.npz", count=96))])
    out = capsys.readouterr().out
    assert status == 0
    assert "early stopping" in out and "Restoring the weights of the best epoch" in out
    assert len(epoch_logs(out)) < 8


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_torchrun_with_two_processes_on_cpu_trains_and_rank_0_alone_writes_the_checkpoint(tmp_path):
    section = training(
        epochs=3, batch_size=16, validation_split=0.25, optimizer={"learning_rate": 0.02}, checkpoint=checkpoint()
    )
    script = write_module(tmp_path, TOY, section)
    data = write_npz(tmp_path / "data.npz")
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    environment["CUDA_VISIBLE_DEVICES"] = ""  # gloo on CPU, as on a machine without GPUs
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1"),
        *("--master_addr=127.0.0.1", f"--master_port={_free_port()}"),
        *(str(script), "--data", str(data)),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 process(es)" in result.stdout
    logs = epoch_logs(result.stdout)
    assert len(logs) == 3, result.stdout  # rank 0 alone logs
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert result.stdout.count("Saved toy.pt") == 1
    assert (tmp_path / "toy_best.pt").exists() and (tmp_path / "toy.pt").exists()


SPEC_WITH_TRAINING = """\
model toy {
  input 8x8x3
  random_flip horizontal
  rescaling 0.00392156862745098
  conv 8 3x3 relu same
  global_avgpool
  dense 3 softmax

  train {
    optimizer sgd learning_rate=0.05 momentum=0.9 nesterov=true
    schedule step step_size=2 gamma=0.5
    loss sparse_categorical_crossentropy
    epochs 2
    batch_size 16
    validation_split 0.25
    early_stopping patience=2
    checkpoint
  }
}
"""


def test_a_spec_s_training_section_builds_a_module_that_trains_from_its_own_settings(tmp_path, monkeypatch, capsys):
    checked = check_text(SPEC_WITH_TRAINING)
    assert checked.ok, checked.diagnostics
    source = emit_torch(checked.reports, "toy.cnn")
    assert "# toy.cnn:9: the spec's training section" in source
    assert "torch.optim.SGD(parameters, lr=0.05, momentum=0.9, nesterov=True)" in source
    assert "StepLR(optimizer, step_size=2, gamma=0.5)" in source
    generated = run_module(source, "<generated torch>")
    monkeypatch.chdir(tmp_path)
    assert generated.main(["--data", str(write_npz(tmp_path / "data.npz", count=96))]) == 0
    out = capsys.readouterr().out
    assert len(epoch_logs(out)) == 2 and (tmp_path / "toy_best.pt").exists() and (tmp_path / "toy.pt").exists()
