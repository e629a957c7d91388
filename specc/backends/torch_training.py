"""Emit stage: a model's training section (Model.training) -> PyTorch training code in the emitted module.

What a model with a training section gains, beside its nn.Module (see docs/training_torch.md):

- Logits. When the loss is (sparse) categorical or binary cross-entropy and the output applies softmax or
  sigmoid, `forward` stops before that activation and returns logits, the loss is nn.CrossEntropyLoss or
  nn.BCEWithLogitsLoss (which apply it themselves, more stably), and `probabilities(x)` applies it. The model
  never feeds softmax into CrossEntropyLoss, which would apply a second one without any error.
- The spec's settings as class attributes and methods: `loss_function()`, `optimizer(parameters)` with
  Keras's defaults where PyTorch's differ (Adam's and RMSprop's epsilon 1e-7; Keras's RMSprop, whose epsilon
  sits inside the square root, as a class of its own), `schedule(optimizer, epochs)` stepped once per epoch.
- A training script (TRAINING_RUNTIME, the same text in every module): data from a folder of class subfolders
  or an npz, checked against the model before any epoch; a loop with progress, validation, early stopping and
  the best checkpoint; DistributedDataParallel when torchrun starts it.

The runtime is constant text; nothing from the spec reaches it except through the class attributes, which are
written with literal().
"""

from __future__ import annotations

from specc.backends.python_source import SourceWriter, call, identifier, literal
from specc.check import ModelReport
from specc.layers import LayerBase

# Names a model class with a training section defines besides its layers: a layer may not take them.
TRAINING_ATTRIBUTES = frozenset(
    {
        "LOSS",
        "LOGITS",
        "CLASSES",
        "METRICS",
        "EPOCHS",
        "BATCH_SIZE",
        "VALIDATION_SPLIT",
        "MONITOR",
        "PATIENCE",
        "RESTORE_BEST_WEIGHTS",
        "CHECKPOINT",
        "CHECKPOINT_MONITOR",
        "probabilities",
        "loss_function",
        "optimizer",
        "schedule",
    }
)

CLASS_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
# The activation a loss applies itself when given logits.
LOSS_ACTIVATION = {
    "sparse_categorical_crossentropy": "softmax",
    "categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
}
# The probabilities from logits, in `probabilities(x)`.
PROBABILITIES = {"softmax": "F.softmax(self(x), dim=1)", "sigmoid": "torch.sigmoid(self(x))"}
SUPPORTED_METRICS = {"accuracy": "accuracy", "acc": "accuracy"}

# Module-level helpers the training code may need, emitted after the layer helpers.
KERAS_RMSPROP = '''\
class KerasRMSprop(torch.optim.Optimizer):
    """Keras's RMSprop: lr * g / sqrt(v + epsilon), epsilon inside the square root. torch.optim.RMSprop divides
    by sqrt(v) + eps, a much larger step where gradients are small; momentum accumulates the step, as Keras."""

    def __init__(self, params, lr: float = 0.001, rho: float = 0.9, momentum: float = 0.0, eps: float = 1e-7):
        super().__init__(params, {'lr': lr, 'rho': rho, 'momentum': momentum, 'eps': eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for parameter in group['params']:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state['velocity'] = torch.zeros_like(parameter)
                    state['momentum'] = torch.zeros_like(parameter)
                gradient, velocity = parameter.grad, state['velocity']
                velocity.mul_(group['rho']).addcmul_(gradient, gradient, value=1 - group['rho'])
                increment = group['lr'] * gradient / (velocity + group['eps']).sqrt()
                if group['momentum'] > 0:
                    increment = state['momentum'].mul_(group['momentum']).add_(increment)
                parameter.sub_(increment)
        return loss'''

KERAS_ADAM = '''\
class KerasAdam(torch.optim.Optimizer):
    """Keras's Adam (and AdamW, with weight_decay): lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + eps),
    epsilon added to sqrt(v) before the bias correction. torch.optim.Adam adds it after (to sqrt(v_hat)), a
    different step where gradients are small. The decay, decoupled as Keras 3 applies it to every optimizer,
    comes first: w -= w * weight_decay * lr."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0):
        super().__init__(params, {'lr': lr, 'betas': betas, 'eps': eps, 'weight_decay': weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta_1, beta_2 = group['betas']
            for parameter in group['params']:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state['step'] = 0
                    state['m'] = torch.zeros_like(parameter)
                    state['v'] = torch.zeros_like(parameter)
                state['step'] += 1
                if group['weight_decay']:
                    parameter.sub_(parameter * group['weight_decay'] * group['lr'])
                gradient, m, v = parameter.grad, state['m'], state['v']
                m.add_((gradient - m) * (1 - beta_1))
                v.add_((gradient * gradient - v) * (1 - beta_2))
                step = state['step']
                alpha = group['lr'] * (1 - beta_2**step) ** 0.5 / (1 - beta_1**step)
                parameter.sub_(m * alpha / (v.sqrt() + group['eps']))
        return loss'''

PROBABILITY_CROSS_ENTROPY = '''\
class ProbabilityCrossEntropy(nn.Module):
    """Keras's categorical cross-entropy of probabilities (from_logits=false on an output without softmax):
    the outputs scaled to sum to 1 and clipped to [1e-7, 1 - 1e-7], then -log of the true class's."""

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs = outputs / outputs.sum(dim=1, keepdim=True)
        return F.nll_loss(outputs.clamp(1e-7, 1 - 1e-7).log(), targets)'''

# The training script: the same text in every module with a training section (see the module docstring).
TRAINING_RUNTIME = '''\
IMAGE_SUFFIXES = ('.bmp', '.gif', '.jpeg', '.jpg', '.png')  # what keras.utils.image_dataset_from_directory reads
COLOR_MODES = {1: 'L', 3: 'RGB', 4: 'RGBA'}  # Keras's grayscale, rgb and rgba


class DataError(Exception):
    """Data that does not fit the model, found before any epoch: the script says so and exits with status 2."""


class ImageFolder(Dataset):
    """Images of class subfolders, as keras.utils.image_dataset_from_directory reads them: float32 pixels
    0..255 (no scaling: the model's own layers rescale, as in Keras), channels-first."""

    def __init__(self, files: list[Path], targets: torch.Tensor, mode: str) -> None:
        self.files, self.targets, self.mode = files, targets, mode

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        import numpy as np
        from PIL import Image

        with Image.open(self.files[index]) as image:
            pixels = np.asarray(image.convert(self.mode), dtype=np.float32)
        pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous(), self.targets[index]


class Data:
    """The training set, and the validation and test sets where there are any."""

    def __init__(self, train: Dataset, validation: Dataset | None, test: Dataset | None, source: str) -> None:
        self.train, self.validation, self.test, self.source = train, validation, test, source


def targets_of(labels, model_class) -> torch.Tensor:
    """Labels as the loss takes them: class numbers for (sparse) categorical cross-entropy (one-hot rows become
    their class), floats shaped as the output for binary cross-entropy, the output's shape for the rest."""
    import numpy as np

    labels = np.asarray(labels)
    if model_class.LOSS in ('sparse_categorical_crossentropy', 'categorical_crossentropy'):
        if labels.ndim == 2 and labels.shape[1] > 1:
            labels = labels.argmax(axis=1)
        labels = labels.reshape(len(labels))
        if labels.size and (labels.min() < 0 or not np.all(np.equal(np.mod(labels, 1), 0))):
            raise DataError('the labels are not class numbers 0, 1, ...')
        return torch.as_tensor(labels.astype(np.int64))
    return torch.as_tensor(labels.astype(np.float32).reshape(len(labels), -1))


def class_count(targets: torch.Tensor, model_class) -> int:
    if model_class.LOSS == 'binary_crossentropy':
        return 2 if targets.numel() else 0
    return int(targets.max()) + 1 if targets.numel() else 0


def check_classes(found: int, model_class, what: str) -> None:
    if model_class.CLASSES is not None and found != model_class.CLASSES:
        raise DataError(
            f'{what} {found} classes, but the model tells {model_class.CLASSES} apart '
            f'(its output has {model_class.OUTPUT_UNITS} unit{"s" * (model_class.OUTPUT_UNITS != 1)})'
        )


def split(dataset: Dataset, fraction: float) -> tuple[Dataset, Dataset | None]:
    """The first part to train on, the last `fraction` to validate on, as Keras's validation_split."""
    training = math.floor(len(dataset) * (1.0 - fraction))
    if training == len(dataset):
        return dataset, None
    return Subset(dataset, range(training)), Subset(dataset, range(training, len(dataset)))


def read_folder(root: Path, model_class) -> Data:
    """A folder of class subfolders: the classes are the subfolders in sorted order, labelled 0, 1, ...; the
    files are shuffled once (seeded) before the validation split, as image_dataset_from_directory does."""
    from PIL import Image

    classes = sorted(entry.name for entry in root.iterdir() if entry.is_dir())
    if not classes:
        raise DataError(f'{root} has no class subfolders (one folder of images per class)')
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob('*') if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        files += found
        labels += [label] * len(found)
    if not files:
        raise DataError(f'{root} has no images ({", ".join(IMAGE_SUFFIXES)}) in its class subfolders')
    check_classes(len(classes), model_class, f'{root} has')
    channels, height, width = model_class.INPUT_SHAPE
    if channels not in COLOR_MODES:
        raise DataError(f'the model takes {channels} channels; images have 1 (grayscale), 3 (rgb) or 4 (rgba)')
    for path in files:
        with Image.open(path) as image:
            if image.size != (width, height):
                raise DataError(
                    f"{path} is {image.width}x{image.height}; the model takes {width}x{height} images "
                    "(the spec's input)"
                )
    order = torch.randperm(len(files), generator=torch.Generator().manual_seed(1337)).tolist()
    files = [files[i] for i in order]
    targets = targets_of([labels[i] for i in order], model_class)
    train, validation = split(ImageFolder(files, targets, COLOR_MODES[channels]), model_class.VALIDATION_SPLIT)
    return Data(train, validation, None, str(root))


def images_of(array, model_class, name: str) -> torch.Tensor:
    """Channels-last images, as Keras takes them, channels-first as float32; (N, H, W) for one channel."""
    channels, height, width = model_class.INPUT_SHAPE
    if array.ndim == 3 and channels == 1:
        array = array[..., None]
    if array.ndim != 4 or tuple(array.shape[1:]) != (height, width, channels):
        raise DataError(
            f"{name} holds images of shape {tuple(array.shape[1:])}; the model takes {(height, width, channels)} "
            "(the spec's input, channels-last as Keras)"
        )
    return torch.as_tensor(array, dtype=torch.float32).permute(0, 3, 1, 2).contiguous()


def read_arrays(path: Path, model_class) -> Data:
    """An npz of x_train and y_train (channels-last, as Keras takes them), and x_test and y_test if present."""
    import numpy as np

    with np.load(path) as arrays:
        missing = [name for name in ('x_train', 'y_train') if name not in arrays.files]
        if missing:
            raise DataError(f'{path} has no {" or ".join(missing)} (it has {", ".join(arrays.files) or "nothing"})')
        sets = {'train': (arrays['x_train'], arrays['y_train'])}
        if 'x_test' in arrays.files and 'y_test' in arrays.files:
            sets['test'] = (arrays['x_test'], arrays['y_test'])
    datasets = {}
    for name, (x, y) in sets.items():
        if len(x) != len(y):
            raise DataError(f'{path}: x_{name} has {len(x)} images but y_{name} {len(y)} labels')
        images, targets = images_of(x, model_class, f'{path}: x_{name}'), targets_of(y, model_class)
        check_classes(class_count(targets, model_class), model_class, f'{path}: y_{name} has')
        datasets[name] = TensorDataset(images, targets)
    train, validation = split(datasets['train'], model_class.VALIDATION_SPLIT)
    return Data(train, validation, datasets.get('test'), str(path))


def read_data(path: Path, model_class) -> Data:
    if not path.exists():
        raise DataError(f'{path} does not exist (give a folder of class subfolders or an .npz file)')
    if path.is_dir():
        return read_folder(path, model_class)
    if path.suffix != '.npz':
        raise DataError(f'{path} is neither a folder of class subfolders nor an .npz file')
    return read_arrays(path, model_class)


def start_processes() -> tuple[int, int, torch.device]:
    """This process's rank, the number of processes and its device. torchrun sets RANK, WORLD_SIZE and
    LOCAL_RANK: then the processes join one group (nccl between GPUs, gloo on CPUs); else there is one."""
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        return 0, 1, torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    local_rank = int(os.environ.get('LOCAL_RANK', '0'))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device('cuda', local_rank)
    else:
        device = torch.device('cpu')
    dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
    return dist.get_rank(), dist.get_world_size(), device


def batch_sums(model_class, outputs: torch.Tensor, targets: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
    """(loss summed over the batch, correct predictions, examples): sums, so that processes can add theirs."""
    count = len(targets)
    if model_class.LOSS in ('sparse_categorical_crossentropy', 'categorical_crossentropy'):
        correct = (outputs.argmax(dim=1) == targets).sum()
    elif model_class.LOSS == 'binary_crossentropy':
        threshold = 0.0 if model_class.LOGITS else 0.5
        correct = ((outputs > threshold) == (targets > 0.5)).all(dim=1).sum()
    else:
        correct = torch.zeros(())
    return torch.stack([loss.detach() * count, correct.to(loss.dtype), loss.new_tensor(float(count))]).double()


def logs_of(model_class, sums: torch.Tensor, prefix: str = '') -> dict[str, float]:
    loss, correct, count = sums.tolist()
    logs = {f'{prefix}loss': loss / max(count, 1)}
    if 'accuracy' in model_class.METRICS:
        logs[f'{prefix}accuracy'] = correct / max(count, 1)
    return logs


def evaluate(model, dataset: Dataset, loss_function, rank: int, world_size: int, device) -> torch.Tensor:
    """The sums over a dataset, each process taking every world_size-th example (none twice), added up."""
    model.eval()
    shard = Subset(dataset, range(rank, len(dataset), world_size)) if world_size > 1 else dataset
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    with torch.no_grad():
        for images, targets in DataLoader(shard, batch_size=model.BATCH_SIZE):
            images, targets = images.to(device), targets.to(device)
            outputs = model(images)
            sums += batch_sums(model, outputs, targets, loss_function(outputs, targets))
    if world_size > 1:
        dist.all_reduce(sums)
    return sums


def show(line: str, end: str = '\\n') -> None:
    print(line, end=end, flush=True)


def progress(batch: int, batches: int, logs: dict[str, float]) -> str:
    done = 30 * batch // batches
    bar = '=' * max(done - 1, 0) + ('>' if batch < batches else '=') * (done > 0) + '.' * (30 - done)
    width = len(str(batches))
    return f'{batch:{width}d}/{batches} [{bar}] ' + ' - '.join(f'{k}: {v:.4f}' for k, v in logs.items())


class Watch:
    """The best value of one monitored quantity: lowest, or highest for an accuracy (Keras's mode 'auto')."""

    def __init__(self, monitor: str) -> None:
        self.monitor, self.highest = monitor, 'acc' in monitor
        self.best: float | None = None
        self.missing_said = False

    def improved(self, logs: dict[str, float], rank: int) -> bool | None:
        """Whether this epoch improved on the best; None when the quantity is not logged."""
        value = logs.get(self.monitor)
        if value is None:
            if rank == 0 and not self.missing_said:
                show(f'warning: {self.monitor} is not computed (no validation data?); nothing is monitored by it')
            self.missing_said = True
            return None
        if self.best is None or (value > self.best if self.highest else value < self.best):
            self.best = value
            return True
        return False


def train(model_class, data: Data, epochs: int, checkpoint: Path | None, rank: int, world_size: int, device):
    """Trains a new model_class on the data; returns the model (not wrapped), with the best weights restored
    when early stopping says so, as Keras's EarlyStopping does at the end of training."""
    model = model_class().to(device)
    trained = model
    if world_size > 1:
        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == 'cuda' else None)
    loss_function = model.loss_function()
    optimizer = model.optimizer(trained.parameters())
    schedule = model.schedule(optimizer, epochs)
    # The spec's batch size is the global batch, split between the processes as Keras's MirroredStrategy does.
    batch_size = max(1, model.BATCH_SIZE // world_size)
    sampler = DistributedSampler(data.train, world_size, rank, shuffle=True) if world_size > 1 else None
    loader = DataLoader(data.train, batch_size=batch_size, shuffle=sampler is None, sampler=sampler)
    stopping = Watch(model.MONITOR) if model.PATIENCE is not None else None
    saving = Watch(model.CHECKPOINT_MONITOR) if checkpoint is not None else None
    waited, best_weights = 0, None
    every = max(1, len(loader) // 10)  # a line per tenth of an epoch where the output is no terminal
    on_terminal = sys.stdout.isatty()
    for epoch in range(epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        if rank == 0:
            show(f'Epoch {epoch + 1}/{epochs}')
        model.train()
        started, sums = time.monotonic(), torch.zeros(3, dtype=torch.float64, device=device)
        for batch, (images, targets) in enumerate(loader, start=1):
            images, targets = images.to(device), targets.to(device)
            optimizer.zero_grad()
            outputs = trained(images)
            loss = loss_function(outputs, targets)
            loss.backward()
            optimizer.step()
            sums += batch_sums(model, outputs, targets, loss)
            if rank == 0 and (on_terminal or batch % every == 0) and batch < len(loader):
                show(progress(batch, len(loader), logs_of(model, sums)), end='\\r' if on_terminal else '\\n')
        if world_size > 1:
            dist.all_reduce(sums)
        logs = logs_of(model, sums)
        if data.validation is not None:
            sums = evaluate(model, data.validation, loss_function, rank, world_size, device)
            logs.update(logs_of(model, sums, 'val_'))
        if schedule is not None:
            schedule.step()
        if rank == 0:
            show(f'{progress(len(loader), len(loader), logs)} - {time.monotonic() - started:.1f}s')
            show(f'epoch {epoch + 1}/{epochs}: ' + ' '.join(f'{k}={v:.4f}' for k, v in logs.items()))
        if saving is not None and saving.improved(logs, rank) and rank == 0:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), checkpoint)
            show(f'{saving.monitor} improved to {saving.best:.4f}: saved {checkpoint}')
        if stopping is not None:
            improved = stopping.improved(logs, rank)
            if improved is None:
                continue
            waited = 0 if improved else waited + 1
            if improved and model.RESTORE_BEST_WEIGHTS:
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if waited >= model.PATIENCE:
                if rank == 0:
                    show(f'Epoch {epoch + 1}: early stopping ({stopping.monitor} has not improved for {waited} epochs)')
                break
    if best_weights is not None:
        if rank == 0:
            show(f'Restoring the weights of the best epoch ({stopping.monitor} {stopping.best:.4f})')
        model.load_state_dict(best_weights)
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='Train a model of this module on images.')
    parser.add_argument('--data', type=Path, required=True, help='a folder of class subfolders, or an .npz file')
    parser.add_argument('--model', choices=sorted(TRAINED), default=next(iter(TRAINED)))
    parser.add_argument('--epochs', type=int, help="the number of epochs (default: the spec's)")
    parser.add_argument('--output', type=Path, help='where the trained weights go (default: <model>.pt)')
    parser.add_argument('--checkpoint', type=Path, help="the best model's weights (default: the spec's)")
    arguments = parser.parse_args(argv)
    model_class = TRAINED[arguments.model]
    rank, world_size, device = start_processes()
    try:
        data = read_data(arguments.data, model_class)
    except (DataError, OSError, ValueError) as error:
        if rank == 0:
            print(f'error: {error}', file=sys.stderr)
        if world_size > 1:
            dist.destroy_process_group()
        return 2
    epochs = model_class.EPOCHS if arguments.epochs is None else arguments.epochs
    checkpoint = arguments.checkpoint or (Path(model_class.CHECKPOINT) if model_class.CHECKPOINT else None)
    if rank == 0:
        sizes = f'{len(data.train)} training' + (f', {len(data.validation)} validation' if data.validation else '')
        show(f'{arguments.model}: {sizes} examples from {data.source}; {world_size} process(es) on {device}')
    model = train(model_class, data, epochs, checkpoint, rank, world_size, device)
    final, name = data.test or data.validation or data.train, 'test' if data.test else 'validation'
    name = name if data.test or data.validation else 'training'
    logs = logs_of(model, evaluate(model, final, model.loss_function(), rank, world_size, device))
    output = arguments.output or Path(f'{arguments.model}.pt')
    if rank == 0:
        show(f'Evaluation on the {name} set')
        show('final: ' + ' '.join(f'{k}={v:.4f}' for k, v in logs.items()))
        output.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), output)
        show(f'Saved {output}')
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0'''

# The imports the training runtime needs, before and after the torch imports every module has.
STANDARD_IMPORTS = (
    "import argparse",
    "import math",
    "import os",
    "import sys",
    "import time",
    "from pathlib import Path",
)
TORCH_IMPORTS = (
    "import torch.distributed as dist",
    "from torch.nn.parallel import DistributedDataParallel",
    "from torch.utils.data import (",
    "    DataLoader,",
    "    Dataset,",
    "    DistributedSampler,",
    "    Subset,",
    "    TensorDataset,",
    ")",
)


def output_layer(report: ModelReport) -> LayerBase | None:
    """The layer that makes the model's only output, or None for a model of several outputs."""
    model = report.model
    names = model.outputs or ((model.layers[-1].name,) if model.layers else ())
    if len(names) != 1:
        return None
    return next((r.layer for r in report.layers if r.layer.name == names[0]), None)


def output_activation(layer: LayerBase | None) -> str:
    return getattr(layer, "activation", "linear") if layer is not None else "linear"


def taken_activation(report: ModelReport) -> str | None:
    """The output's activation that the loss takes over (softmax, sigmoid): forward then returns logits."""
    training = report.model.training
    activation = output_activation(output_layer(report))
    if training is None or training.from_logits or LOSS_ACTIVATION.get(training.loss) != activation:
        return None
    return activation


def logits_report(report: ModelReport) -> ModelReport:
    """The report emitted for a model whose loss applies the output's activation itself: the output layer
    without it (a standalone activation layer becomes the identity), so that forward returns logits."""
    if taken_activation(report) is None:
        return report
    layer = output_layer(report)
    linear = layer.model_copy(update={"activation": "linear"})
    model = report.model.model_copy(
        update={"layers": tuple(linear if each.name == layer.name else each for each in report.model.layers)}
    )
    layers = tuple(r._replace(layer=linear) if r.layer.name == layer.name else r for r in report.layers)
    return ModelReport(model, layers, report.complete, report.reachable, report.input_sizes)


def training_helpers(report: ModelReport) -> set[str]:
    """The helper classes (TRAINING_HELPERS) the model's training code uses."""
    training = report.model.training
    helpers = set()
    if training.optimizer.name == "rmsprop":
        helpers.add("KerasRMSprop")
    if training.optimizer.name in ("adam", "adamw"):
        helpers.add("KerasAdam")
    if _loss(report)[0].startswith("ProbabilityCrossEntropy"):
        helpers.add("ProbabilityCrossEntropy")
    return helpers


TRAINING_HELPERS = {
    "KerasAdam": KERAS_ADAM,
    "KerasRMSprop": KERAS_RMSPROP,
    "ProbabilityCrossEntropy": PROBABILITY_CROSS_ENTROPY,
}


def _loss(report: ModelReport) -> tuple[str, str, bool]:
    """(the loss module, why, whether the model returns logits)."""
    training = report.model.training
    taken = taken_activation(report)
    activation = output_activation(output_layer(report))
    if training.loss in CLASS_LOSSES:
        if taken or training.from_logits:
            why = "forward returns logits; the loss applies the softmax" if taken else "from_logits=true"
            return "nn.CrossEntropyLoss()", why, True
        if activation == "softmax":  # pragma: no cover - taken above
            return "nn.CrossEntropyLoss()", "", True
        return "ProbabilityCrossEntropy()", "from_logits=false on an output without softmax, as Keras", False
    if training.loss == "binary_crossentropy":
        if taken or training.from_logits:
            why = "forward returns logits; the loss applies the sigmoid" if taken else "from_logits=true"
            return "nn.BCEWithLogitsLoss()", why, True
        return "nn.BCELoss()", "from_logits=false on an output without sigmoid (W401)", False
    if training.loss in ("mse", "mean_squared_error"):
        return "nn.MSELoss()", "Keras's mean squared error", False
    if training.loss in ("mae", "mean_absolute_error"):
        return "nn.L1Loss()", "Keras's mean absolute error", False
    raise NotImplementedError(f"the PyTorch backend cannot emit the loss `{training.loss}`")


def _optimizer(report: ModelReport) -> tuple[str, list[str], str]:
    """(the optimizer's class, its arguments after the parameters, why they differ from PyTorch's defaults)."""
    spec = report.model.training.optimizer
    lr = ["lr=" + literal(spec.learning_rate)]
    if spec.name in ("adam", "adamw"):
        arguments = [*lr, "betas=" + literal((spec.beta_1, spec.beta_2)), "eps=" + literal(spec.epsilon)]
        decay = spec.weight_decay if spec.weight_decay is not None else (0.004 if spec.name == "adamw" else None)
        if decay is not None:
            # Keras 3 decays every optimizer's weights decoupled from the gradient, as AdamW does.
            arguments.append("weight_decay=" + literal(decay))
        return "KerasAdam", arguments, "Keras's update: epsilon added before the bias correction"
    if spec.weight_decay is not None:
        raise NotImplementedError(
            f"the PyTorch backend cannot emit {spec.name} with weight_decay: Keras decays the weights decoupled "
            "from the gradient, torch.optim's SGD and RMSprop add it to the gradient"
        )
    if spec.name == "sgd":
        arguments = list(lr)
        if spec.momentum:
            arguments.append("momentum=" + literal(spec.momentum))
        if spec.nesterov:
            arguments.append("nesterov=True")
        return "torch.optim.SGD", arguments, "Keras's SGD; its momentum is PyTorch's at a constant learning rate"
    if spec.name == "rmsprop":
        arguments = [
            *lr,
            "rho=" + literal(spec.rho),
            "momentum=" + literal(spec.momentum),
            "eps=" + literal(spec.epsilon),
        ]
        return "KerasRMSprop", arguments, "Keras's update: epsilon inside the square root"
    raise NotImplementedError(f"the PyTorch backend cannot emit the optimizer `{spec.name}`")


def _schedule(report: ModelReport) -> tuple[str, str] | None:
    training = report.model.training
    schedule = training.schedule
    if schedule is None:
        return None
    if schedule.name == "cosine":
        eta_min = schedule.alpha * training.optimizer.learning_rate
        return (
            f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min={literal(eta_min)})",
            "cosine decay over the epochs to alpha * lr, as Keras's CosineDecay stepped once per epoch",
        )
    if schedule.name == "step":
        return (
            f"torch.optim.lr_scheduler.StepLR(optimizer, step_size={literal(schedule.step_size)}, "
            f"gamma={literal(schedule.gamma)})",
            "lr * gamma every step_size epochs",
        )
    raise NotImplementedError(f"the PyTorch backend cannot emit the schedule `{schedule.name}`")


def trained_classes(report: ModelReport) -> tuple[int | None, int | None]:
    """(the classes the output tells apart, its units): None for a loss without classes or a feature-map output."""
    loss = report.model.training.loss
    shape = report.output_shape
    if loss not in LOSS_ACTIVATION or shape is None or len(shape) != 1:
        return None, None
    units = shape[0]
    return (2 if loss == "binary_crossentropy" and units == 1 else units), units


def check_trainable(report: ModelReport) -> None:
    """What the training code cannot express, said before anything is written (never dropped silently)."""
    model = report.model
    if len(model.inputs) != 1 or output_layer(report) is None:
        raise NotImplementedError("the PyTorch backend trains models of one input and one output only")
    for metric in model.training.metrics:
        if metric not in SUPPORTED_METRICS:
            raise NotImplementedError(f"the PyTorch backend cannot emit the metric `{metric}` (it has: accuracy)")


def default_checkpoint(report: ModelReport) -> str | None:
    checkpoint = report.model.training.checkpoint
    if checkpoint is None:
        return None
    return checkpoint.path or f"{report.model.name}_best.pt"


def write_training_members(writer: SourceWriter, report: ModelReport, label: str) -> None:
    """The class attributes and methods a model with a training section gains, after its forward."""
    training = report.model.training
    where = f"{label}:{training.span.line}"
    loss, loss_why, logits = _loss(report)
    classes, units = trained_classes(report)
    metrics = tuple(dict.fromkeys(SUPPORTED_METRICS[m] for m in training.metrics))
    stopping = training.early_stopping
    writer.line()
    writer.line(f"# {where}: the spec's training section, which train() below reads.")
    writer.line(f"LOSS = {literal(training.loss)}")
    writer.line(f"LOGITS = {literal(logits)}", comment="whether forward returns logits")
    writer.line(f"CLASSES = {literal(classes)}", comment="the classes the data must have (None: not checked)")
    writer.line(f"OUTPUT_UNITS = {literal(units)}")
    writer.line(f"METRICS = {literal(metrics)}")
    writer.line(f"EPOCHS = {literal(training.epochs)}")
    writer.line(f"BATCH_SIZE = {literal(training.batch_size)}", comment="over all processes, as Keras's")
    writer.line(f"VALIDATION_SPLIT = {literal(training.validation_split)}")
    writer.line(f"MONITOR = {literal(stopping.monitor if stopping else 'val_loss')}")
    writer.line(
        f"PATIENCE = {literal(stopping.patience if stopping else None)}", comment="epochs; None: no early stopping"
    )
    writer.line(f"RESTORE_BEST_WEIGHTS = {literal(bool(stopping and stopping.restore_best_weights))}")
    writer.line(f"CHECKPOINT = {literal(default_checkpoint(report))}", comment="the best weights; None: none saved")
    checkpoint_monitor = training.checkpoint.monitor if training.checkpoint else "val_loss"
    writer.line(f"CHECKPOINT_MONITOR = {literal(checkpoint_monitor)}")
    taken = taken_activation(report)
    activation = taken or (LOSS_ACTIVATION.get(training.loss) if logits else None)
    writer.line()
    writer.line("def probabilities(self, x: torch.Tensor) -> torch.Tensor:")
    writer.indent()
    if activation is not None:
        what = "the spec's output" if taken else "the output (the loss takes logits: from_logits=true)"
        writer.line(f'"""{what.capitalize()} as probabilities: {activation} of the logits forward returns."""')
        writer.line(f"return {PROBABILITIES[activation]}")
    else:
        writer.line('"""The output as the spec computes it: forward applies its activation itself."""')
        writer.line("return self(x)")
    writer.dedent()
    writer.line()
    writer.line("def loss_function(self) -> nn.Module:")
    writer.indent()
    writer.line(f"return {loss}", comment=loss_why)
    writer.dedent()
    writer.line()
    writer.line("def optimizer(self, parameters) -> torch.optim.Optimizer:")
    writer.indent()
    constructor, arguments, why = _optimizer(report)
    writer.line(f"# {where}: {why}")
    writer.lines(call(f"return {constructor}", ["parameters", *arguments], indent=2))
    writer.dedent()
    writer.line()
    writer.line("def schedule(")
    writer.line("    self, optimizer: torch.optim.Optimizer, epochs: int")
    writer.line(") -> torch.optim.lr_scheduler.LRScheduler | None:")
    writer.indent()
    writer.line('"""The learning-rate schedule, stepped once per epoch; None: the rate stays."""')
    schedule = _schedule(report)
    if schedule is None:
        writer.line("return None")
    else:
        writer.line(f"# {schedule[1]}")
        writer.line(f"return {schedule[0]}")
    writer.dedent()


def write_training_script(writer: SourceWriter, trained: list[tuple[ModelReport, str]]) -> None:
    """TRAINED (the models with a training section, by name), the training runtime and the script's entry."""
    writer.line()
    writer.line()
    items = ", ".join(f"{literal(report.model.name)}: {identifier(name)}" for report, name in trained)
    writer.line(f"TRAINED = {{{items}}}", comment="the models with a training section; --model picks one")
    writer.top_level_block(TRAINING_RUNTIME)
    writer.line()
    writer.line()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("sys.exit(main())")
    writer.dedent()
