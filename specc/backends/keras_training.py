"""Emit stage: a model's training section -> Keras source: `compile_<model>`, the learning rate of each epoch,
`train_<model>` around fit, and the module's script (load the data, check it against the spec, train, evaluate, save).

Only a model with a training section gets these; emit_keras calls this module for those alone, so a module
without one stays as it was. What comes from the spec reaches the source as repr()'d literals and validated
identifiers only; the data loaders and the script's `main` are fixed text (DATA_SOURCE, SCRIPT_SOURCE) that
reads each model's figures from the TRAINING table, so no spec value is ever pasted into them.

The learning rate changes once per epoch, at its start, as a LearningRateScheduler callback computes it from
the epoch's index (0 for the first): `step` is lr * gamma ** (epoch // step_size) (torch's StepLR stepped once
per epoch), `cosine` is lr * (alpha + (1 - alpha) * (1 + cos(pi * epoch / epochs)) / 2) over the epochs trained
(torch's CosineAnnealingLR with T_max=epochs and eta_min=alpha * lr, stepped once per epoch; Keras's
CosineDecay with decay_steps=epochs, evaluated at the epoch). The PyTorch backend changes it likewise.
This module imports no framework: it only writes text.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from specc.backends.python_source import SourceWriter, identifier, literal, word
from specc.check import ModelReport
from specc.ir import OptimizerSpec, Training

# Each optimizer's Keras class and the defaults Keras 3 gives the arguments the spec may set; an argument
# equal to its default is left out, the learning rate never (it is the figure a reader looks for).
KERAS_OPTIMIZERS: dict[str, tuple[str, dict[str, object]]] = {
    "adam": ("Adam", {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "weight_decay": None}),
    "adamw": ("AdamW", {"weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
    "sgd": ("SGD", {"momentum": 0.0, "nesterov": False, "weight_decay": None}),
    "rmsprop": ("RMSprop", {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "weight_decay": None}),
}

# Losses by the spec's name -> Keras's class; a name Keras knows otherwise goes to compile as the string.
KERAS_LOSSES = {
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "binary_crossentropy": "BinaryCrossentropy",
    "mse": "MeanSquaredError",
    "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mean_absolute_error": "MeanAbsoluteError",
    "huber": "Huber",
}

# How labels must come for each classification loss (image_dataset_from_directory's label_mode); other losses
# take the labels as the data holds them, unchecked.
LABEL_MODES = {
    "sparse_categorical_crossentropy": "int",
    "categorical_crossentropy": "categorical",
    "binary_crossentropy": "binary",
}

# The imports of a module that trains, after `import keras`; math only where a cosine schedule needs it.
STANDARD_IMPORTS = ("import argparse", "import math", "import sys", "from pathlib import Path")
FRAMEWORK_IMPORTS = ("import numpy as np", "import tensorflow as tf")


def compile_function_name(model_name: str) -> str:
    return identifier(f"compile_{model_name}")


def train_function_name(model_name: str) -> str:
    return identifier(f"train_{model_name}")


def learning_rate_function_name(model_name: str) -> str:
    return identifier(f"learning_rate_{model_name}")


# The parameters and variables of the functions written per model (compile_, learning_rate_, train_).
FUNCTION_NAMES = (
    *("model", "epoch", "epochs", "rate", "train_data", "validation_data", "batch_size", "distribute"),
    *("strategy", "callbacks", "history", "images", "labels", "float", "int", "isinstance"),
)


def training_names(reports: Sequence[ModelReport]) -> set[str]:
    """Every module-level name the training code of these reports takes (none when no model trains)."""
    trained = [report.model.name for report in reports if training_of(report) is not None]
    if not trained:
        return set()
    per_model = (compile_function_name, train_function_name, learning_rate_function_name)
    return set(_template_names()) | set(FUNCTION_NAMES) | {name(model) for model in trained for name in per_model}


def _template_names() -> frozenset[str]:
    """Every name the fixed text binds or reads (imports, functions, their variables), so that no function
    the spec names (a block's) takes one, nor a variable of the module's shadows one."""
    tree = ast.parse("\n".join((*STANDARD_IMPORTS, *FRAMEWORK_IMPORTS, DATA_SOURCE, SCRIPT_SOURCE)))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
    return frozenset(names)


def training_of(report: ModelReport) -> Training | None:
    return report.model.training


def _keyword(key: str, value) -> str:
    return f"{identifier(key)}={literal(value)}"


def _line_of(training: Training, setting: str, label: str) -> str:
    """`m.cnn:14`: where the setting is written, or the training section's line when it is left at its default."""
    return f"{label}:{training.setting_spans.get(setting, training.span).line}"


def optimizer_source(optimizer: OptimizerSpec) -> str:
    """`keras.optimizers.Adam(learning_rate=0.001, ...)`: the spec's optimizer, with the arguments that differ
    from Keras's defaults."""
    if optimizer.name not in KERAS_OPTIMIZERS:
        raise NotImplementedError(f"the Keras backend cannot emit optimizer `{optimizer.name}`")
    class_name, defaults = KERAS_OPTIMIZERS[optimizer.name]
    arguments = [_keyword("learning_rate", float(optimizer.learning_rate))]
    for key, default in defaults.items():
        value = getattr(optimizer, key)
        if value is not None and value != default:
            arguments.append(_keyword(key, value))
    return f"keras.optimizers.{class_name}({', '.join(arguments)})"


def loss_source(training: Training) -> str:
    """The loss compile takes: Keras's class for the spec's name (with from_logits=True when the spec says so)."""
    class_name = KERAS_LOSSES.get(training.loss)
    if class_name is None:
        if training.from_logits:
            raise NotImplementedError(f"the Keras backend cannot emit loss `{training.loss}` with from_logits")
        return literal(training.loss)
    arguments = _keyword("from_logits", True) if training.from_logits else ""
    return f"keras.losses.{class_name}({arguments})"


def _write_compile(writer: SourceWriter, report: ModelReport, training: Training, label: str) -> None:
    model = report.model.name
    writer.line(f"def {compile_function_name(model)}(model: keras.Model) -> keras.Model:")
    writer.indent()
    writer.line(f'"""Compile model {word(model)} with its training section\'s optimizer, loss and metrics."""')
    writer.line("model.compile(")
    writer.indent()
    writer.line(f"optimizer={optimizer_source(training.optimizer)},", comment=_line_of(training, "optimizer", label))
    writer.line(f"loss={loss_source(training)},", comment=_line_of(training, "loss", label))
    metrics = ", ".join(literal(metric) for metric in training.metrics)
    writer.line(f"metrics=[{metrics}],", comment=_line_of(training, "metrics", label))
    writer.dedent()
    writer.line(")")
    writer.line("return model")
    writer.dedent()


def _write_learning_rate(writer: SourceWriter, report: ModelReport, training: Training, label: str) -> None:
    schedule = training.schedule
    rate = literal(float(training.optimizer.learning_rate))
    name = learning_rate_function_name(report.model.name)
    comment = _line_of(training, "schedule", label)
    if schedule.name == "step":
        writer.line(f"def {name}(epoch: int) -> float:", comment=comment)
        writer.indent()
        writer.line(
            f'"""The learning rate of an epoch (0 for the first): multiplied by {literal(float(schedule.gamma))} '
            f'every {literal(int(schedule.step_size))} epochs."""'
        )
        writer.line(
            f"return {rate} * {literal(float(schedule.gamma))} ** (epoch // {literal(int(schedule.step_size))})"
        )
    elif schedule.name == "cosine":
        alpha = float(schedule.alpha)
        writer.line(f"def {name}(epoch: int, epochs: int) -> float:", comment=comment)
        writer.indent()
        floor = f", down towards {literal(alpha)} of it" if alpha else ""
        writer.line(
            f'"""The learning rate of an epoch (0 for the first) of `epochs`: half a cosine from {rate}{floor}."""'
        )
        cosine = "(1 + math.cos(math.pi * epoch / epochs)) / 2"
        if alpha:
            writer.line(f"return {rate} * ({literal(alpha)} + {literal(1.0 - alpha)} * {cosine})")
        else:
            writer.line(f"return {rate} * {cosine}")
    else:
        raise NotImplementedError(f"the Keras backend cannot emit schedule `{schedule.name}`")
    writer.dedent()


def _callbacks(report: ModelReport, training: Training, label: str) -> list[tuple[str, str]]:
    """Each callback fit takes, as source text, with the spec line it comes from."""
    callbacks = []
    stopping = training.early_stopping
    if stopping is not None:
        arguments = [] if stopping.monitor == "val_loss" else [_keyword("monitor", stopping.monitor)]
        arguments.append(_keyword("patience", int(stopping.patience)))
        if stopping.restore_best_weights:
            arguments.append(_keyword("restore_best_weights", True))
        text = f"keras.callbacks.EarlyStopping({', '.join(arguments)})"
        callbacks.append((text, _line_of(training, "early_stopping", label)))
    checkpoint = training.checkpoint
    if checkpoint is not None:
        arguments = [literal(checkpoint_path(report, training))]
        if checkpoint.monitor != "val_loss":
            arguments.append(_keyword("monitor", checkpoint.monitor))
        arguments.append(_keyword("save_best_only", True))
        text = f"keras.callbacks.ModelCheckpoint({', '.join(arguments)})"
        callbacks.append((text, _line_of(training, "checkpoint", label)))
    schedule = training.schedule
    if schedule is not None:
        function = learning_rate_function_name(report.model.name)
        # LearningRateScheduler calls schedule(epoch, current learning rate) at the start of each epoch.
        computed = f"{function}(epoch)" if schedule.name == "step" else f"{function}(epoch, epochs)"
        text = f"keras.callbacks.LearningRateScheduler(lambda epoch, rate: {computed})"
        callbacks.append((text, _line_of(training, "schedule", label)))
    return callbacks


def checkpoint_path(report: ModelReport, training: Training) -> str | None:
    """Where the best model is saved: the spec's path, else `<model>_best.keras` (None without a checkpoint)."""
    if training.checkpoint is None:
        return None
    return training.checkpoint.path or f"{report.model.name}_best.keras"


def _write_train(writer: SourceWriter, report: ModelReport, build_function: str, training: Training, label: str):
    model = word(report.model.name)
    split = literal(float(training.validation_split))
    writer.line(
        f"def {train_function_name(report.model.name)}(train_data, validation_data=None, "
        f"epochs={literal(int(training.epochs))}, batch_size={literal(int(training.batch_size))}, distribute=False):",
        comment=f"{label}:{training.span.line}",
    )
    writer.indent()
    writer.line(
        f'"""Build model {model}, compile it and fit it as its training section says; returns it and the History.'
    )
    writer.line()
    writer.line("train_data and validation_data are each a pair of arrays (images, labels), or a tf.data.Dataset of")
    writer.line("batches of them (it keeps its own batch size). Without validation_data, fit holds back the last")
    writer.line(f"{split} of arrays for it. distribute=True builds and compiles the model in the scope of")
    writer.line("tf.distribute.MirroredStrategy: a replica on each GPU of this machine, each batch split among them")
    writer.line("(one replica on the CPU where there is no GPU).")
    writer.line('"""')
    writer.line("# The default strategy's scope, when not distributing, changes nothing.")
    writer.line("strategy = tf.distribute.MirroredStrategy() if distribute else tf.distribute.get_strategy()")
    writer.line("with strategy.scope():")
    writer.indent()
    writer.line(f"model = {compile_function_name(report.model.name)}({build_function}())")
    writer.dedent()
    callbacks = _callbacks(report, training, label)
    if callbacks:
        writer.line("callbacks = [")
        writer.indent()
        for text, comment in callbacks:
            writer.line(f"{text},", comment=comment)
        writer.dedent()
        writer.line("]")
    else:
        writer.line("callbacks = []")
    writer.line("if isinstance(train_data, tf.data.Dataset):")
    writer.indent()
    writer.line("history = model.fit(train_data, validation_data=validation_data, epochs=epochs, callbacks=callbacks)")
    writer.dedent()
    writer.line("else:")
    writer.indent()
    writer.line("images, labels = train_data")
    writer.line("history = model.fit(")
    writer.indent()
    writer.line("images,")
    writer.line("labels,")
    writer.line("batch_size=batch_size,")
    writer.line("epochs=epochs,")
    writer.line("validation_data=validation_data,")
    writer.line(f"validation_split={split},", comment=_line_of(training, "validation_split", label))
    writer.line("callbacks=callbacks,")
    writer.dedent()
    writer.line(")")
    writer.dedent()
    writer.line("return model, history")
    writer.dedent()


def write_training(writer: SourceWriter, report: ModelReport, build_function: str, label: str) -> None:
    """compile_<model>, learning_rate_<model> (with a schedule) and train_<model> for one model with a training
    section; each function preceded by two blank lines."""
    training = training_of(report)
    assert training is not None
    if len(report.model.inputs) != 1 or len(report.model.outputs) != 1:
        raise NotImplementedError(
            f"the Keras backend trains models of one input and one output; model `{report.model.name}` has "
            f"{len(report.model.inputs)} and {len(report.model.outputs)}"
        )
    writer.line()
    writer.line()
    _write_compile(writer, report, training, label)
    if training.schedule is not None:
        writer.line()
        writer.line()
        _write_learning_rate(writer, report, training, label)
    writer.line()
    writer.line()
    _write_train(writer, report, build_function, training, label)


def _data_figures(report: ModelReport, training: Training) -> list[tuple[str, str]]:
    """What the script needs of one model to load and check its data, as (key, source text)."""
    model = report.model
    output_shape = report.output_shape
    label_mode = LABEL_MODES.get(training.loss) if output_shape is not None and len(output_shape) == 1 else None
    classes = None
    if label_mode is not None:
        units = output_shape[-1]
        # One sigmoid unit tells two classes apart.
        classes = 2 if label_mode == "binary" and units == 1 else units
        if label_mode == "binary" and units != 1:
            label_mode = None  # several sigmoid units: labels several per image, as the data holds them
            classes = None
    return [
        ("train", train_function_name(model.name)),
        ("input_shape", literal(tuple(model.inputs[0].shape))),
        ("label_mode", literal(label_mode)),
        ("classes", literal(classes)),
        ("validation_split", literal(float(training.validation_split))),
        ("epochs", literal(int(training.epochs))),
        ("batch_size", literal(int(training.batch_size))),
        ("checkpoint", literal(checkpoint_path(report, training))),
    ]


def write_script(writer: SourceWriter, reports: Sequence[ModelReport]) -> None:
    """The TRAINING table, the data loaders and `main`, then the module's `if __name__ == '__main__'`; for the
    models with a training section (at least one)."""
    trained = [report for report in reports if training_of(report) is not None]
    writer.line("# What the script needs of each model it trains: the function, and the figures its data must fit.")
    writer.line("TRAINING = {")
    writer.indent()
    for report in trained:
        writer.line(f"{literal(report.model.name)}: {{")
        writer.indent()
        for key, text in _data_figures(report, training_of(report)):
            writer.line(f"{literal(key)}: {text},")
        writer.dedent()
        writer.line("},")
    writer.dedent()
    writer.line("}")
    for source in (DATA_SOURCE, SCRIPT_SOURCE):
        writer.top_level_block(source)
    writer.line()
    writer.line()
    writer.line("if __name__ == '__main__':")
    writer.indent()
    writer.line("sys.exit(main())")
    writer.dedent()


# The data loaders: fixed text, the same in every module; each model's figures come as arguments.
DATA_SOURCE = '''\
class DataError(Exception):
    """Data that does not fit the model, found before any epoch: the script says so and exits with status 2."""


IMAGE_SUFFIXES = ('.bmp', '.gif', '.jpeg', '.jpg', '.png')  # what image_dataset_from_directory reads
COLOR_MODES = {1: 'grayscale', 3: 'rgb', 4: 'rgba'}


def load_data(path, input_shape, label_mode, classes, validation_split, batch_size, seed):
    """(train, validation, test) from a folder of class subfolders (tf.data.Datasets; validation None without a
    split, test None) or an .npz file of x_train, y_train and perhaps x_test, y_test (pairs of arrays).

    The images must have the model's input size and the labels as many classes as its output: else DataError.
    A folder's first image is checked (image_dataset_from_directory would resize any other to the input size).
    """
    path = Path(path)
    if path.is_dir():
        return _load_folder(path, input_shape, label_mode, classes, validation_split, batch_size, seed)
    if not path.exists():
        raise DataError(f'{path}: no such folder or file')
    if path.suffix != '.npz':
        raise DataError(f'{path} is neither a folder of class subfolders nor an .npz file')
    return _load_arrays(path, input_shape, label_mode, classes, validation_split, seed)


def _size(shape):
    return 'x'.join(str(extent) for extent in shape)


def _load_folder(path, input_shape, label_mode, classes, validation_split, batch_size, seed):
    if label_mode is None:
        raise DataError(f'{path}: a folder of class subfolders gives class labels, which this loss does not take')
    if input_shape[-1] not in COLOR_MODES:
        raise DataError(f'{path}: images have 1, 3 or 4 channels; the model takes {input_shape[-1]}')
    folders = sorted(entry for entry in path.iterdir() if entry.is_dir())
    if len(folders) != classes:
        names = ', '.join(folder.name for folder in folders) or 'none'
        raise DataError(
            f'{path} has {len(folders)} class subfolders ({names}), but the model is built for {classes} classes'
        )
    images = sorted(
        entry for folder in folders for entry in folder.iterdir() if entry.suffix.lower() in IMAGE_SUFFIXES
    )
    if not images:
        raise DataError(f'{path}: its class subfolders hold no images ({", ".join(IMAGE_SUFFIXES)})')
    first = tf.io.decode_image(tf.io.read_file(str(images[0])), expand_animations=False)
    size = tuple(first.shape[:2])
    if any(wanted and found != wanted for found, wanted in zip(size, input_shape[:2], strict=True)):
        raise DataError(f'{images[0]} is {_size(size)}, but the model takes {_size(input_shape[:2])} images')
    image_size = tuple(wanted or found for found, wanted in zip(size, input_shape[:2], strict=True))
    options = {
        'label_mode': label_mode,
        'color_mode': COLOR_MODES[input_shape[-1]],
        'image_size': image_size,
        'batch_size': batch_size,
        'seed': seed,
    }
    if not validation_split:
        return keras.utils.image_dataset_from_directory(path, **options), None, None
    train, validation = keras.utils.image_dataset_from_directory(
        path, validation_split=validation_split, subset='both', **options
    )
    return train, validation, None


def _load_arrays(path, input_shape, label_mode, classes, validation_split, seed):
    try:
        data = np.load(path)
    except (OSError, ValueError) as error:
        raise DataError(f'cannot read {path}: {error}') from None
    missing = [key for key in ('x_train', 'y_train') if key not in data.files]
    if missing:
        held = ', '.join(data.files) or 'nothing'
        raise DataError(f'{path} has no {" or ".join(missing)} (it holds {held})')
    train = _arrays(path, data, 'train', input_shape, label_mode, classes)
    test = None
    if 'x_test' in data.files and 'y_test' in data.files:
        test = _arrays(path, data, 'test', input_shape, label_mode, classes)
    # Shuffled before the split, so that data stored class by class gives a validation set of every class.
    order = np.random.default_rng(seed).permutation(len(train[0]))
    images, labels = train[0][order], train[1][order]
    count = int(len(images) * validation_split)
    if not count:
        return (images, labels), None, test
    return (images[:-count], labels[:-count]), (images[-count:], labels[-count:]), test


def _arrays(path, data, part, input_shape, label_mode, classes):
    """x_<part> and y_<part> as the model takes them: float32 images, labels for the loss."""
    images, labels = data[f'x_{part}'], data[f'y_{part}']
    if images.ndim == len(input_shape) and input_shape[-1] == 1:
        images = images[..., np.newaxis]  # one channel, stored without its axis (as MNIST is)
    found = images.shape[1:]
    differs = len(found) != len(input_shape)
    if differs or any(want and got != want for got, want in zip(found, input_shape, strict=True)):
        raise DataError(f'{path}: x_{part} holds {_size(found)} images, but the model takes {_size(input_shape)}')
    if len(labels) != len(images):
        raise DataError(f'{path}: y_{part} has {len(labels)} labels for {len(images)} images')
    return images.astype('float32'), _labels(path, labels, f'y_{part}', label_mode, classes, part == 'train')


def _labels(path, labels, name, label_mode, classes, every_class):
    if label_mode is None:
        return labels
    if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot
        found, indices = labels.shape[1], labels.argmax(axis=1)
    else:
        indices = labels.reshape(len(labels))
        if len(indices) and (indices.min() < 0 or np.any(indices != np.round(indices))):
            raise DataError(f'{path}: {name} holds labels that are not class numbers 0, 1, ...')
        indices = indices.astype('int64')
        found = int(indices.max()) + 1 if len(indices) else 0
    if found > classes or (every_class and found != classes):
        raise DataError(f'{path}: {name} has {found} classes, but the model is built for {classes} classes')
    if label_mode == 'categorical':
        return np.eye(classes, dtype='float32')[indices]
    if label_mode == 'binary':
        return indices.astype('float32').reshape(-1, 1)
    return indices'''

# The script: fixed text; what differs between models is in TRAINING.
SCRIPT_SOURCE = '''\
def main(argv=None) -> int:
    """Train a model of this module on a folder or an .npz file, print its evaluation and save it."""
    parser = argparse.ArgumentParser(description='Train a model as its spec says, evaluate it and save it.')
    parser.add_argument(
        '--data', required=True, help='a folder of class subfolders of images, or an .npz of x_train, y_train'
    )
    parser.add_argument('--model', choices=list(TRAINING), default=next(iter(TRAINING)), help='the model to train')
    parser.add_argument('--epochs', type=int, help="the number of epochs (default: the spec's)")
    parser.add_argument('--output', help='where to save the trained model, a .keras file (default: <model>.keras)')
    parser.add_argument(
        '--distribute', action='store_true', help='train on every GPU of this machine (MirroredStrategy)'
    )
    parser.add_argument('--seed', type=int, default=0, help='the seed of the split, the shuffling and the weights')
    arguments = parser.parse_args(argv)
    setup = TRAINING[arguments.model]
    output = Path(arguments.output or f'{arguments.model}.keras')
    try:
        for saved in (output, setup['checkpoint']):
            if saved is not None and Path(saved).suffix != '.keras':
                raise DataError(f'{saved}: Keras saves a whole model only to a .keras file')
            if saved is not None and not Path(saved).parent.is_dir():
                raise DataError(f'{saved}: no folder {Path(saved).parent}')
        train, validation, test = load_data(
            arguments.data,
            setup['input_shape'],
            setup['label_mode'],
            setup['classes'],
            setup['validation_split'],
            setup['batch_size'],
            arguments.seed,
        )
    except DataError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    keras.utils.set_random_seed(arguments.seed)
    model, history = setup['train'](
        train,
        validation,
        epochs=arguments.epochs or setup['epochs'],
        batch_size=setup['batch_size'],
        distribute=arguments.distribute,
    )
    trained = {name: values for name, values in history.history.items() if name != 'learning_rate'}
    # As the PyTorch script prints them: the loss first, then the metrics, then the same for validation.
    names = sorted(trained, key=lambda name: (name.startswith('val_'), name.removeprefix('val_') != 'loss', name))
    for epoch in range(len(trained['loss'])):
        figures = ' '.join(f'{name}={trained[name][epoch]:.4f}' for name in names)
        print(f"epoch {epoch + 1}/{len(trained['loss'])}: {figures}")
    evaluated, on = (test, 'the test data') if test is not None else (validation, 'the validation data')
    if evaluated is None:
        evaluated, on = train, 'the training data (there is no test or validation data)'
    if isinstance(evaluated, tf.data.Dataset):
        results = model.evaluate(evaluated, return_dict=True, verbose=0)
    else:
        results = model.evaluate(*evaluated, batch_size=setup['batch_size'], return_dict=True, verbose=0)
    ordered = {'loss': results['loss'], **{name: value for name, value in results.items() if name != 'loss'}}
    print(f'evaluation on {on}')
    print('final: ' + ' '.join(f'{name}={value:.4f}' for name, value in ordered.items()))
    model.save(output)
    print(f'saved {output}')
    return 0'''
