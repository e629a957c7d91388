"""Command line: check, summary, build, train, graph, fmt, diff, lsp.

Exit codes: 0 clean, 1 errors in a spec, 2 usage errors; `train` exits with its training script's code.

Only the check path is imported at start-up. Each other command imports what it needs when it
runs: rich for tables and progress, the backend for `build` and `train`, Keras only for `build --verify`,
pygls for `lsp`; `train` runs the module it writes in a process of its own, which loads the framework.
"""

# No `from __future__ import annotations`: typer reads every command's annotations on each start-up,
# and as strings each one would be evaluated again.
import gc
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NamedTuple

# specc's IR uses no pydantic plugin, and looking for them scans every installed distribution's
# entry points when the first model class is built: tens of milliseconds of each `specc check`.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# Importing the libraries and specc's IR creates some 57,000 objects the collector tracks, all living as long as
# the process: the cycle collector walked them about 90 times, then all at once when the check's first collection
# came, some 10% of the instructions of a whole `specc check`. It is paused for the imports, what they made is
# frozen out of its reach (as the language server does), and it is restored as it was.
_collecting = gc.isenabled()
gc.disable()
try:
    import typer
    from typer.core import TyperCommand

    from specc import __version__
    from specc.pipeline import CheckedSource, check_bytes
    from specc.render import count_by_severity, file_record, format_diagnostic, format_result_line, use_color
finally:
    gc.freeze()
    if _collecting:
        gc.enable()

EXIT_CLEAN, EXIT_SPEC_ERRORS, EXIT_USAGE = 0, 1, 2


class _Command(TyperCommand):
    """A command whose help names its arguments as command lines write them: `FILE...` in the usage line and
    in the list of arguments (typer's own writes `{files}...` and the annotation, `<list[Path]>`).

    Every argument declares its metavar (`FILE`); the `...` of one taking several files is added here.
    """

    def _argument_names(self, ctx) -> list[tuple[str, str]]:
        arguments = [param for param in self.get_params(ctx) if param.param_type_name == "argument"]
        return [(f"{param.metavar}{'...' * (param.nargs != 1)}", param.help or "") for param in arguments]

    def collect_usage_pieces(self, ctx) -> list[str]:
        options = [self.options_metavar] if self.options_metavar else []
        return [*options, *(name for name, _ in self._argument_names(ctx))]

    def format_options(self, ctx, formatter) -> None:
        if arguments := self._argument_names(ctx):
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        options = [param.get_help_record(ctx) for param in self.get_params(ctx) if param.param_type_name == "option"]
        with formatter.section("Options"):
            formatter.write_dl([record for record in options if record is not None])


# Plain help, as click prints it: typer's rich panels put a type after every flag (`--force <bool>`).
app = typer.Typer(
    name="specc",
    help="Check and compile CNN specs (*.cnn): every shape and parameter count before any framework runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Format(StrEnum):
    text = "text"
    json = "json"
    gcc = "gcc"
    sarif = "sarif"


class Dtype(StrEnum):
    """The number types memory figures may be counted in (specc.figures.DTYPE_BYTES)."""

    float32 = "float32"
    float16 = "float16"
    bfloat16 = "bfloat16"


class Backend(StrEnum):
    keras = "keras"
    torch = "torch"


class Framework(NamedTuple):
    """What --verify tells the user about a backend's framework."""

    name: str
    loading: str  # what the progress line says is loading
    install: str


FRAMEWORKS = {
    Backend.keras: Framework(
        "Keras",
        "TensorFlow and Keras",
        "pip install 'specc[keras]' (from a clone: pip install -e '.[keras]')",
    ),
    Backend.torch: Framework(
        "PyTorch",
        "PyTorch",
        "pip install 'specc[torch]' (from a clone, the CPU build: pip install -c constraints.txt -e '.[torch]')",
    ),
}


def _emit(backend: Backend, reports, source_path: str) -> str:
    if backend is Backend.torch:
        from specc.backends.torch import emit_torch

        return emit_torch(reports, source_path)
    from specc.backends.keras import emit_keras

    return emit_keras(reports, source_path)


def _verifier(backend: Backend, verbose: bool):
    """The framework module's loader and build_and_compare for a backend, imported only for --verify."""
    if backend is Backend.torch:
        from specc.backends import torch_verify

        return torch_verify.load_torch, torch_verify.build_and_compare
    from specc.backends import keras_verify

    return (lambda: keras_verify.load_keras(verbose)), keras_verify.build_and_compare


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"specc: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _read(path: Path) -> bytes:
    """The file's bytes; a path that cannot be read is a usage error, not a spec error."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise _usage_error(f"no such file: {path}") from None
    except IsADirectoryError:
        raise _usage_error(f"{path} is a directory; name the .cnn files, e.g. {path}/*.cnn") from None
    except OSError as error:
        raise _usage_error(f"cannot read {path}: {error.strerror or error}") from None


# Past this many diagnostics in one file the rest are counted, not printed; --format json has them all.
MAX_PRINTED_DIAGNOSTICS = 100


def _print_diagnostics(path: str, checked: CheckedSource, color: bool) -> None:
    lines = checked.lines
    for diagnostic in checked.diagnostics[:MAX_PRINTED_DIAGNOSTICS]:
        typer.echo(format_diagnostic(path, lines, diagnostic, color))
    hidden = len(checked.diagnostics) - MAX_PRINTED_DIAGNOSTICS
    if hidden > 0:
        typer.echo(f"{path}: {hidden} more diagnostics not shown; `specc check --format json` lists them all")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"specc {__version__}")
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """specc: a shape checker and compiler for CNN specs."""


@app.command(cls=_Command, short_help="Check specs: shapes and parameters, or what does not fit.")
def check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="Spec files to check.", show_default=False)],
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text for people; json for tools; gcc (file:line:col: severity: message) for editors "
            "and CI logs; sarif for code-scanning tools.",
        ),
    ] = Format.text,
    fix: Annotated[
        bool,
        typer.Option("--fix", help="Apply the fixes of errors that have one (the editor's quick fixes), in place."),
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Print what --fix would change as a unified diff; change nothing.")
    ] = False,
) -> None:
    """Check specs: every layer's output shape and parameters, or where and why the network does not fit."""
    contents = [(path, _read(path)) for path in files]
    results = [(str(path), check_bytes(data)) for path, data in contents]
    if fix or diff:
        results = _fix(contents, results, write=not diff)
        if diff:
            raise typer.Exit(EXIT_SPEC_ERRORS if any(not checked.ok for _, checked in results) else EXIT_CLEAN)
    failed = any(not checked.ok for _, checked in results)
    if output_format is Format.json:
        import json

        typer.echo(json.dumps({"version": __version__, "files": [file_record(p, c) for p, c in results]}, indent=2))
        raise typer.Exit(EXIT_SPEC_ERRORS if failed else EXIT_CLEAN)
    if output_format is Format.gcc:
        from specc.render import format_gcc

        for path, checked in results:
            for diagnostic in checked.diagnostics:
                typer.echo(format_gcc(path, diagnostic))
        raise typer.Exit(EXIT_SPEC_ERRORS if failed else EXIT_CLEAN)
    if output_format is Format.sarif:
        import json

        from specc.sarif import sarif_log

        typer.echo(json.dumps(sarif_log(results), indent=2))
        raise typer.Exit(EXIT_SPEC_ERRORS if failed else EXIT_CLEAN)
    color = use_color()
    total_errors = total_warnings = 0
    for path, checked in results:
        _print_diagnostics(path, checked, color)
        errors, warnings = count_by_severity(checked.diagnostics)
        total_errors, total_warnings = total_errors + errors, total_warnings + warnings
        if checked.ok:
            typer.echo(format_result_line(path, checked))
    noun = "file" if len(results) == 1 else "files"
    verdict = f"{total_errors} error{'s' * (total_errors != 1)}, {total_warnings} warning{'s' * (total_warnings != 1)}"
    typer.echo(f"checked {len(results)} {noun}: {verdict}", err=True)
    raise typer.Exit(EXIT_SPEC_ERRORS if failed else EXIT_CLEAN)


def _fix(contents: list[tuple[Path, bytes]], results: list[tuple[str, CheckedSource]], write: bool) -> list:
    """Apply each file's fixes: written in place (atomically) and the fixed text's check returned, or, when not
    writing, printed as a unified diff, and the checks returned as they were."""
    import codecs
    import difflib

    from specc.fixes import fix_text
    from specc.write import write_atomically

    fixed_results = []
    for (path, data), (name, checked) in zip(contents, results, strict=True):
        if any(diagnostic.code == "E100" for diagnostic in checked.diagnostics):  # not text: nothing to fix
            fixed_results.append((name, checked))
            continue
        text, applied, fixed = fix_text(checked.text)
        noun = f"{applied} error{'s' * (applied != 1)}"
        if applied and not write:
            before, after = checked.text.splitlines(keepends=True), text.splitlines(keepends=True)
            for line in difflib.unified_diff(before, after, name, name):
                # A last line without a newline is marked as diff and patch mark it.
                sys.stdout.write(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n")
            typer.echo(f"would fix {noun} in {name}", err=True)
        elif applied:
            bom = codecs.BOM_UTF8.decode() if data.startswith(codecs.BOM_UTF8) else ""
            try:
                write_atomically(path, bom + text)
            except OSError as error:
                raise _usage_error(f"cannot write {path}: {error.strerror or error}") from None
            typer.echo(f"fixed {noun} in {name}", err=True)
        fixed_results.append((name, fixed if write else checked))
    return fixed_results


@app.command(cls=_Command, short_help="Print a table like Keras's model.summary() for a spec.")
def summary(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The spec file.", show_default=False)],
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Only this model of the file.")
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", "-e", help="Show the arithmetic behind each shape and count.")
    ] = False,
    costs: Annotated[
        bool, typer.Option("--costs", help="Add each layer's MACs, output memory and receptive field.")
    ] = False,
    dtype: Annotated[
        Dtype,
        typer.Option(
            "--dtype", metavar="DTYPE", help="float32, float16 or bfloat16: the number type memory is counted in."
        ),
    ] = Dtype.float32,
    batch: Annotated[
        int, typer.Option("--batch", min=1, metavar="N", help="Examples per batch for the memory figures.")
    ] = 1,
    input_shape: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            metavar="HxWxC",
            help="Evaluate a spec whose input is left open (`input ?x?x3`) at this size, e.g. 224x224x3.",
        ),
    ] = None,
) -> None:
    """Print a table like Keras's model.summary(): each layer's output shape and parameters, and the totals,
    with the model's MACs and memory (docs/figures.md).

    A spec with errors gets its diagnostics, then each table up to the layer the checker stopped at. A spec
    whose input is left open is evaluated at --input, or at a size it accepts (224 where it can)."""
    data = _read(file)
    evaluate_at = _evaluation_size(file, data, input_shape) if input_shape is not None else None
    checked = check_bytes(data, evaluate_at)
    for report in checked.reports:
        sizes = report.input_sizes
        if sizes is not None and sizes.evaluated_at is not None:
            shown = ", ".join(f"{name}={size}" for name, size in sizes.evaluated_at.items())
            typer.echo(
                f"model {report.model.name}: input {sizes.describe()}; output {sizes.describe_outputs()}; "
                f"evaluated at {shown}" + ("" if input_shape else " (--input chooses another size)")
            )
    if not checked.ok:
        _print_diagnostics(str(file), checked, use_color())
    reports = checked.reports
    if model is not None:
        reports = [r for r in reports if r.model.name == model]
        if not reports:
            names = ", ".join(r.model.name for r in checked.reports)
            raise _usage_error(f"{file} has no model `{model}`; it has: {names}")
    from specc.summary import print_summaries  # rich is loaded only when a table is drawn

    print_summaries(
        reports,
        explain,
        diagnostics=checked.diagnostics,
        source_lines=checked.lines,
        costs=costs,
        dtype=dtype.value,
        batch=batch,
    )
    raise typer.Exit(EXIT_CLEAN if checked.ok else EXIT_SPEC_ERRORS)


def _evaluation_size(file: Path, data: bytes, written: str) -> tuple[int, ...]:
    """--input's shape, checked against the spec's open input: same rank, the given extents equal."""
    parts = written.lower().split("x")
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise _usage_error(f"--input expects a shape such as 224x224x3, got {written!r}")
    shape = tuple(int(part) for part in parts)
    opened = [i for r in check_bytes(data).reports for i in r.model.inputs if i.open_axes]
    if not opened:
        raise _usage_error(f"--input is for a spec whose input is left open (`input ?x?x3`); {file}'s is not")
    first = opened[0]
    given = [extent for extent, name in zip(first.shape, first.open_axes, strict=True) if name is None]
    fixed = [extent for extent, name in zip(shape, first.open_axes, strict=False) if name is None]
    if len(shape) != len(first.shape) or given != fixed:
        written_input = "x".join(name or str(extent) for extent, name in zip(first.shape, first.open_axes, strict=True))
        raise _usage_error(f"--input {written} does not fit the spec's input {written_input}")
    return shape


def _build_target(spec: Path, output: str | None, backend: Backend) -> Path | None:
    """Where `build` writes: -o's path (a directory gets the default name in it), the default beside the spec,
    or None for stdout."""
    if output == "-":
        return None
    default_name = f"{spec.stem}_{backend.value}.py"
    if output is None:
        return spec.with_name(default_name)
    target = Path(output)
    if target.is_dir():
        return target / default_name
    # `-o out/` names a directory: it is never made into a file named `out`, and specc makes no directories.
    if os.path.basename(output) in ("", ".", "..") or (os.altsep and output.endswith(os.altsep)):
        if target.exists():
            raise _usage_error(f"cannot write {output}: {target} is not a directory")
        raise _usage_error(f"cannot write {output}: no directory {target}")
    if not target.parent.is_dir():
        raise _usage_error(f"cannot write {target}: no directory {target.parent}")
    return target


def _verify(backend: Backend, source: str, filename: str, checked: CheckedSource, verbose: bool) -> list:
    """Build every model of the emitted module with the framework, with progress while it loads; the
    framework's own start-up messages only if verbose."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from specc.backends.verify import run_module

    framework, loading, install = FRAMEWORKS[backend]
    load, build_and_compare = _verifier(backend, verbose)
    found = []
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(f"loading {loading}", total=len(checked.reports) + 1)
        try:
            module = load()
        except ImportError as error:
            raise _usage_error(
                f"--verify needs {framework}, which is not installed ({error}); install it with: {install}"
            ) from None
        generated = run_module(source, filename)
        progress.advance(task)
        for report in checked.reports:
            progress.update(
                task, description=f"building model {report.model.name} with {framework} {module.__version__}"
            )
            found.extend(build_and_compare(generated, report))
            progress.advance(task)
    return found


@app.command(cls=_Command, short_help="Compile a spec to a Keras or PyTorch module.")
def build(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The spec file.", show_default=False)],
    backend: Annotated[
        Backend,
        typer.Option("--backend", "-b", metavar="BACKEND", help="The framework to emit code for: keras or torch."),
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write the module; - for stdout. Default: <spec>_<backend>.py beside it.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the output even if specc did not generate it.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Build every model with the framework and compare each layer with the checker."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="With --verify, let the framework print its start-up messages.")
    ] = False,
) -> None:
    """Compile a spec that checks clean to a Python module that builds its models with the framework."""
    from specc.write import NotARegularFile, WouldOverwrite, write_generated

    checked = check_bytes(_read(file))
    color = use_color()
    for diagnostic in checked.diagnostics[:MAX_PRINTED_DIAGNOSTICS]:
        typer.echo(format_diagnostic(str(file), checked.lines, diagnostic, color), err=True)
    if not checked.ok:
        typer.echo(f"specc: {file} has errors; nothing was built", err=True)
        raise typer.Exit(EXIT_SPEC_ERRORS)
    target = _build_target(file, output, backend)
    source = _emit(backend, checked.reports, str(file))
    if target is None:
        sys.stdout.write(source)
        sys.stdout.flush()
    else:
        try:
            write_generated(target, source, force=force, inputs=[file])
        except WouldOverwrite:
            raise _usage_error(f"{target} exists and was not generated by specc; use --force to overwrite it") from None
        except NotARegularFile as error:
            raise _usage_error(f"cannot write {target}: {error.strerror} (-o - writes to stdout)") from None
        except OSError as error:
            raise _usage_error(f"cannot write {target}: {error.strerror or error}") from None
        models = ", ".join(report.model.name for report in checked.reports)
        typer.echo(f"wrote {target} (model{'s' * (len(checked.reports) != 1)} {models})", err=True)
    if not verify:
        raise typer.Exit(EXIT_CLEAN)
    mismatches = _verify(backend, source, str(target or "<stdout>"), checked, verbose)
    for diagnostic in mismatches:
        typer.echo(format_diagnostic(str(file), checked.lines, diagnostic, color), err=True)
    if mismatches:
        raise typer.Exit(EXIT_SPEC_ERRORS)
    for report in checked.reports:
        typer.echo(
            f"verified model {report.model.name} with {FRAMEWORKS[backend].name}: "
            f"{len(report.layers)} layer{'s' * (len(report.layers) != 1)}, "
            f"{report.total_params:,} params, every shape and count as checked",
            err=True,
        )
    raise typer.Exit(EXIT_CLEAN)


class _TrainCommand(_Command):
    """`train`'s command: what follows `--` on its command line goes to the training script unchanged, and
    anything else click does not know stays an error (a second FILE is not quietly handed to the script)."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            args, ctx.meta["script_args"] = args[:cut], args[cut + 1 :]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx) -> list[str]:
        return [*super().collect_usage_pieces(ctx), "[-- SCRIPT_ARG...]"]


def _default_training(model):
    """The training section a model without one trains with: every setting at its default, the loss the one
    its output calls for (as a section that names none gets)."""
    from specc.ir import OptimizerSpec, Training
    from specc.lower_training import DEFAULT_LEARNING_RATE, default_loss, output_head

    loss, from_logits = default_loss(*output_head(model.layers, model.outputs[0]))
    optimizer = OptimizerSpec(name="adam", learning_rate=DEFAULT_LEARNING_RATE["adam"], span=model.span)
    return Training(optimizer=optimizer, loss=loss, from_logits=from_logits, span=model.span)


def _trained_report(file: Path, checked: CheckedSource, model: str | None):
    """The report of the model `train` trains: the one --model names, or the file's only one."""
    reports = checked.reports
    names = ", ".join(report.model.name for report in reports) or "none"
    if model is not None:
        found = [report for report in reports if report.model.name == model]
        if not found:
            raise _usage_error(f"{file} has no model `{model}`; it has: {names}")
        return found[0]
    if len(reports) != 1:
        raise _usage_error(f"{file} has {len(reports)} models ({names}); name the one to train with --model")
    return reports[0]


@app.command(cls=_TrainCommand, short_help="Build a spec and train its model on a folder of images or an npz.")
def train(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The spec file.", show_default=False)],
    backend: Annotated[
        Backend,
        typer.Option("--backend", "-b", metavar="BACKEND", help="The framework to train with: keras or torch."),
    ],
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            "-d",
            metavar="PATH",
            help="A folder of class subfolders of images, or an .npz with x_train, y_train (and x_test, y_test).",
            show_default=False,
        ),
    ],
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, metavar="N", help="Train this many epochs instead of the spec's."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="NAME", help="The model to train, when the file has several."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Where to write the module, as `build` does. Default: <spec>_<backend>.py beside it.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the module even if specc did not generate it.")
    ] = False,
) -> None:
    """Build a spec that checks clean as `build` does and run the module as a training script with this Python:
    its output is streamed and its exit code is train's (2 for data it refuses before any epoch). A model
    without a `train` section trains with the defaults (docs/training.md). Arguments after `--` go to the
    script, e.g. `-- --output model.keras`."""
    import importlib.util

    from specc.write import NotARegularFile, WouldOverwrite, write_generated

    if not data.exists():
        raise _usage_error(f"--data {data}: no such file or directory")
    if output == "-":
        raise _usage_error("train runs the module it writes, so it needs a file: -o - is for `build`")
    framework = FRAMEWORKS[backend]
    if importlib.util.find_spec(backend.value) is None:
        raise _usage_error(f"training with {framework.name} needs it installed; install it with: {framework.install}")
    checked = check_bytes(_read(file))
    color = use_color()
    for diagnostic in checked.diagnostics[:MAX_PRINTED_DIAGNOSTICS]:
        typer.echo(format_diagnostic(str(file), checked.lines, diagnostic, color), err=True)
    if not checked.ok:
        typer.echo(f"specc: {file} has errors; nothing was built or trained", err=True)
        raise typer.Exit(EXIT_SPEC_ERRORS)
    trained = _trained_report(file, checked, model)
    reports = checked.reports
    if trained.model.training is None:
        import dataclasses

        defaults = _default_training(trained.model)
        given = dataclasses.replace(trained, model=trained.model.model_copy(update={"training": defaults}))
        reports = [given if report is trained else report for report in reports]
        loss = f"{defaults.loss}{' from_logits=true' * defaults.from_logits}"
        typer.echo(
            f"specc: model {trained.model.name} has no train section; training with the defaults: "
            f"optimizer adam learning_rate={defaults.optimizer.learning_rate:g}, loss {loss}, metrics accuracy, "
            f"epochs {defaults.epochs}, batch_size {defaults.batch_size}",
            err=True,
        )
    target = _build_target(file, output, backend)
    try:
        source = _emit(backend, reports, str(file))
    except NotImplementedError as error:  # what a backend cannot express, said, never dropped
        typer.echo(f"specc: the {framework.name} backend cannot train {file}: {error}", err=True)
        raise typer.Exit(EXIT_SPEC_ERRORS) from None
    try:
        write_generated(target, source, force=force, inputs=[file])
    except WouldOverwrite:
        raise _usage_error(f"{target} exists and was not generated by specc; use --force to overwrite it") from None
    except NotARegularFile as error:
        raise _usage_error(f"cannot write {target}: {error.strerror}") from None
    except OSError as error:
        raise _usage_error(f"cannot write {target}: {error.strerror or error}") from None
    typer.echo(f"wrote {target}; training model {trained.model.name} with {framework.name}", err=True)
    command = [sys.executable, str(target), "--data", str(data)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    if len(reports) > 1:
        command += ["--model", trained.model.name]
    command += ctx.meta.get("script_args", [])
    # The script's output goes straight to the terminal (progress as it happens); its exit code is ours.
    sys.stdout.flush()
    sys.stderr.flush()
    raise typer.Exit(_run_script(command))


def _run_script(command: list[str]) -> int:
    """Run the training script to its end and return its exit code (128 + N when signal N killed it, as a shell
    says). Ctrl-C reaches the script too, from the terminal: it is left to stop as it chooses (a checkpoint
    written, a message), not killed under it."""
    import subprocess

    process = subprocess.Popen(command)
    while True:
        try:
            code = process.wait()
            break
        except KeyboardInterrupt:
            continue
    return 128 - code if code < 0 else code


class GraphFormat(StrEnum):
    dot = "dot"
    mermaid = "mermaid"


# What each file suffix -o may end in writes: DOT or Mermaid text, or a picture the `dot` program renders.
GRAPH_SUFFIXES = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".svg": "svg", ".png": "png", ".pdf": "pdf"}


def _graph_output(output: str | None, output_format: GraphFormat | None) -> tuple[Path | None, str]:
    """Where `graph` writes (None: stdout) and what: dot, mermaid, or a format `dot` renders (svg, png, pdf).
    -o's suffix says what; --format, if given, must agree with it."""
    if output is None or output == "-":
        return None, (output_format or GraphFormat.dot).value
    target = Path(output)
    written = GRAPH_SUFFIXES.get(target.suffix.lower())
    if written is None:
        raise _usage_error(f"cannot tell what to write to {output}: name a file ending in {', '.join(GRAPH_SUFFIXES)}")
    # DOT is what the pictures are rendered from, so --format dot goes with them too.
    if output_format is not None and (output_format is GraphFormat.mermaid) != (written == "mermaid"):
        raise _usage_error(f"--format {output_format.value} does not write {target.suffix} files")
    if not target.parent.is_dir():
        raise _usage_error(f"cannot write {target}: no directory {target.parent}")
    return target, written


@app.command(cls=_Command, short_help="Draw a spec's network: Graphviz (svg, png, pdf, dot) or Mermaid.")
def graph(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The spec file.", show_default=False)],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="The file to write; its suffix says what: .svg, .png, .pdf (rendered by Graphviz's dot program), "
            ".dot or .gv (DOT text), .mmd (Mermaid). Default: the text to stdout.",
        ),
    ] = None,
    output_format: Annotated[
        GraphFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="dot (Graphviz, the default) or mermaid (for Markdown).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Only this model of the file.")
    ] = None,
    collapse: Annotated[
        bool, typer.Option("--collapse", help="Draw each outermost block use and backbone as one box.")
    ] = False,
) -> None:
    """Draw a spec's network top to bottom: a box per input and layer (name, Keras class, output shape,
    parameters), an edge per value read, each block use a cluster.

    A spec with errors gets its diagnostics and is drawn as far as it was inferred; the exit code is then 1."""
    import shutil

    from specc import drawing
    from specc.write import NotARegularFile, write_atomically

    target, written = _graph_output(output, output_format)
    rendered = written in drawing.RENDERED_FORMATS
    if rendered and shutil.which(drawing.DOT_PROGRAM) is None:
        raise _usage_error(f"writing {target} needs Graphviz's `dot` program, not found on PATH; {drawing.INSTALL_DOT}")
    checked = check_bytes(_read(file))
    color = use_color()
    # To stderr, as `build` prints them: stdout may be the drawing.
    for diagnostic in checked.diagnostics[:MAX_PRINTED_DIAGNOSTICS]:
        typer.echo(format_diagnostic(str(file), checked.lines, diagnostic, color), err=True)
    reports = checked.reports
    if model is not None:
        reports = [r for r in reports if r.model.name == model]
        if not reports:
            names = ", ".join(r.model.name for r in checked.reports)
            raise _usage_error(f"{file} has no model `{model}`; it has: {names}")
    if not reports:
        typer.echo(f"specc: {file} has no model to draw", err=True)
        raise typer.Exit(EXIT_SPEC_ERRORS)
    pictures = drawing.drawings(reports, collapse, checked.lines)
    text = drawing.mermaid_source(pictures) if written == "mermaid" else drawing.dot_source(pictures)
    exit_code = EXIT_CLEAN if checked.ok else EXIT_SPEC_ERRORS
    if not checked.ok:
        typer.echo(f"specc: {file} has errors; drawn as far as it was inferred", err=True)
    if target is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        raise typer.Exit(exit_code)
    try:
        write_atomically(target, drawing.render(text, written) if rendered else text)
    except drawing.DotNotFound:
        raise _usage_error(f"writing {target} needs Graphviz's `dot` program; {drawing.INSTALL_DOT}") from None
    except drawing.DotFailed as error:
        raise _usage_error(f"Graphviz's `dot` could not render {target}: {error}") from None
    except NotARegularFile as error:
        raise _usage_error(f"cannot write {target}: {error.strerror}") from None
    except OSError as error:
        raise _usage_error(f"cannot write {target}: {error.strerror or error}") from None
    models = ", ".join(report.model.name for report in reports)
    typer.echo(f"wrote {target} (model{'s' * (len(reports) != 1)} {models})", err=True)
    raise typer.Exit(exit_code)


@app.command(cls=_Command, short_help="Rewrite specs in the one canonical layout.")
def fmt(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE", help="Spec files to format in place; - reads stdin, writes stdout.", show_default=False
        ),
    ],
    check_only: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if a file would be reformatted.")
    ] = False,
) -> None:
    """Rewrite specs in the one canonical layout; comments are kept and the meaning never changes."""
    from specc.fmt import format_text
    from specc.pipeline import decode
    from specc.write import write_atomically

    color = use_color()
    failed = would_change = unwritten = False
    for path in files:
        from_stdin = str(path) == "-"
        data = sys.stdin.buffer.read() if from_stdin else _read(path)
        name = "<stdin>" if from_stdin else str(path)
        text, problem = decode(data)
        formatted, diagnostics = format_text(text) if problem is None else (None, [problem])
        if formatted is None:
            lines = text.split("\n")
            for diagnostic in diagnostics[:MAX_PRINTED_DIAGNOSTICS]:
                typer.echo(format_diagnostic(name, lines, diagnostic, color), err=True)
            typer.echo(f"specc: {name} has syntax errors; it was left as it is", err=True)
            failed = True
            continue
        # Compared as bytes, so a byte order mark or CRLF line ends alone make a file change.
        changed = formatted.encode("utf-8") != data
        if from_stdin:
            if not check_only:
                sys.stdout.write(formatted)
            would_change |= changed
            continue
        if not changed:
            continue
        would_change = True
        if check_only:
            typer.echo(f"would reformat {path}")
        else:
            try:
                write_atomically(path, formatted)
            except OSError as error:
                # Like a file that cannot be read, a usage error; the file is as it was, the others still formatted.
                typer.echo(f"specc: error: cannot write {path}: {error.strerror or error}", err=True)
                unwritten = True
                continue
            typer.echo(f"reformatted {path}")
    if unwritten:
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_SPEC_ERRORS if failed or (check_only and would_change) else EXIT_CLEAN)


class DiffFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class _DiffSide(NamedTuple):
    """One side of `specc diff`: the argument as given, the file and the model it names (None: the file's only one)."""

    label: str
    path: Path
    model: str | None


def _diff_side(argument: str, model: str | None) -> _DiffSide:
    """`FILE` or `FILE:MODEL`; split at the last `:` only when the whole argument is not a file that exists."""
    path = Path(argument)
    if not path.exists() and ":" in argument:
        file, _, name = argument.rpartition(":")
        if file and name:
            return _DiffSide(argument, Path(file), name)
    return _DiffSide(argument, path, model)


def _diff_report(side: _DiffSide, checked: CheckedSource):
    """The report of the model a side names; a usage error when the file has no such model, or several and
    none is named."""
    reports = checked.reports
    names = ", ".join(report.model.name for report in reports) or "none"
    if side.model is not None:
        found = [report for report in reports if report.model.name == side.model]
        if not found:
            raise _usage_error(f"{side.path} has no model `{side.model}`; it has: {names}")
        return found[0]
    if len(reports) != 1:
        raise _usage_error(
            f"{side.path} has {len(reports)} models ({names}); name one as {side.path}:MODEL or with --model"
        )
    return reports[0]


@app.command(cls=_Command, short_help="Compare two specs or models layer by layer.")
def diff(
    before: Annotated[
        str, typer.Argument(metavar="A", help="The spec before the change: FILE or FILE:MODEL.", show_default=False)
    ],
    after: Annotated[
        str, typer.Argument(metavar="B", help="The spec after the change: FILE or FILE:MODEL.", show_default=False)
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", metavar="NAME", help="Compare the model of this name in both files."),
    ] = None,
    output_format: Annotated[
        DiffFormat,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="text for people; json for tools; markdown for a pull request.",
        ),
    ] = DiffFormat.text,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when the networks differ, as `git diff --exit-code`.")
    ] = False,
) -> None:
    """Compare two models layer by layer (matched by name): output shapes, parameters, MACs and receptive
    fields of the layers added, removed and changed, and the totals' deltas. Exit 0 when both specs check,
    1 when either has errors, 2 for usage errors."""
    sides = [_diff_side(before, model), _diff_side(after, model)]
    checks: dict[Path, CheckedSource] = {}
    for side in sides:
        if side.path not in checks:
            checks[side.path] = check_bytes(_read(side.path))
    failing = [(str(path), checked) for path, checked in checks.items() if not checked.ok]
    if failing:
        if output_format is DiffFormat.json:
            import json

            records = [file_record(path, checked) for path, checked in failing]
            typer.echo(json.dumps({"version": __version__, "ok": False, "files": records}, indent=2))
        else:
            for path, checked in failing:
                _print_diagnostics(path, checked, use_color())
            typer.echo(f"specc: {', '.join(path for path, _ in failing)} has errors; nothing to compare", err=True)
        raise typer.Exit(EXIT_SPEC_ERRORS)
    old, new = (_diff_report(side, checks[side.path]) for side in sides)
    new = _evaluated_alike(old, new, sides[1])

    from specc.diff import diff_markdown, diff_models, diff_record, print_diff

    compared = diff_models(old, new)
    labels = sides[0].label, sides[1].label
    if output_format is DiffFormat.json:
        import json

        typer.echo(json.dumps({"version": __version__, "ok": True, **diff_record(compared, *labels)}, indent=2))
    elif output_format is DiffFormat.markdown:
        sys.stdout.write(diff_markdown(compared, *labels))
    else:
        print_diff(compared, *labels)
    raise typer.Exit(EXIT_SPEC_ERRORS if exit_code and compared.differs else EXIT_CLEAN)


def _evaluated_alike(old, new, side: _DiffSide):
    """B's report evaluated at the input size A's was, when both models' inputs are open and B accepts it, so
    that their layers compare at one size; else B's as it was."""
    at = old.input_sizes and old.input_sizes.evaluated_at
    if not at or new.input_sizes is None or new.input_sizes.evaluated_at == at:
        return new
    shape = next(i.shape for i in old.model.inputs if i.open_axes)
    rechecked = check_bytes(_read(side.path), evaluate_at=shape)
    return _diff_report(side, rechecked) if rechecked.ok else new


@app.command(cls=_Command, short_help="Run the language server, for editors.")
def lsp() -> None:
    """Run the language server on stdin and stdout, for editors (diagnostics, hover, shape hints...)."""
    from specc.lsp import serve

    serve()


def run() -> None:
    """Console entry point; a usage error from click exits 2 and nothing reaches the user as a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
