"""Benchmark: whole-process wall time of `specc check` against `python -c pass` and a Keras summary.

Run from the repository root:  python bench/check_speed.py [--runs 7] [--keras-runs 5]

Every figure is the median of several runs taken in this one invocation, printed with ratios
against baselines measured here too, so numbers from different machines compare as ratios.
The Keras baseline builds the same network as examples/mnist.cnn and calls summary(), which is
what a user runs today to learn its shapes. A third baseline runs typer, pydantic and lark with no
specc at all: what any program on them pays, so Keras over it is the most specc's ratio could be.
The benchmark also lists any framework module that the check path imports (there must be none), and
where specc's import time goes, by library.

Every command runs with bytecode caching allowed (PYTHONDONTWRITEBYTECODE removed), as an installed
package has its .pyc files: the warm-up run writes specc's, which a checkout may otherwise lack
while Keras and the standard library have theirs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "mnist.cnn"
FRAMEWORKS = ("tensorflow", "torch", "keras", "jax")
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "NO_COLOR": "1"}
# Import time is charged to the nearest module up the import chain that is not in the standard
# library (asyncio imported by typing_extensions counts as typing_extensions), and those packages
# to the library they come with.
LIBRARY_OF = {
    "pydantic_core": "pydantic",
    "typing_extensions": "pydantic",
    "typing_inspection": "pydantic",
    "annotated_types": "pydantic",
    "regex": "lark",
    "click": "typer",
    "shellingham": "typer",
    "annotated_doc": "typer",
}

KERAS_SUMMARY = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
from keras import layers
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    layers.Conv2D(32, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.summary()
"""

# What any command-line program built on specc's three mandated libraries pays before doing its own work, set up
# as specc sets them up: import them with the cycle collector paused (specc.cli does too), run a typer command
# that takes files (typer builds a pydantic TypeAdapter per parameter), validate one pydantic model, and build
# a lark parser. specc can at best add nothing to it, so keras / this is the most its ratio could be.
LIBRARIES_ALONE = """
import gc
gc.disable()
import pathlib
import lark
import typer
from pydantic import BaseModel, ConfigDict, Field
gc.freeze()
gc.enable()

class Layer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)
    filters: int = Field(gt=0)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)

@app.command()
def check(files: list[pathlib.Path], output_format: str = "text") -> None:
    lark.Lark('start: "conv"', parser="lalr")
    Layer(filters=32)

app(["examples/mnist.cnn"], standalone_mode=False)
"""


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, env=ENV)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {completed.returncode}:\n{completed.stderr.decode()[-2000:]}")
    return elapsed


def interleaved_medians(commands: dict[str, list[str]], runs: dict[str, int]) -> dict[str, float]:
    """Median wall time of each command, taking the runs in rounds so that drift in the machine's
    speed during the benchmark falls on every command alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_number in range(max(runs.values())):
        for name, command in commands.items():
            if round_number < runs[name]:
                times[name].append(wall_time(command))
    return {name: statistics.median(values) for name, values in times.items()}


def import_times() -> list[tuple[str, int, int]]:
    """(module, depth in the import tree, self microseconds) for each module `specc check` imports, in
    python -X importtime's order: a module comes after the modules it imported."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", "check", str(SPEC)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=ENV,
    )
    rows = []
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            rows.append((name.strip(), (len(name) - len(name.lstrip()) - 1) // 2, int(own)))
    return rows


def framework_imports(rows: list[tuple[str, int, int]]) -> list[str]:
    """Framework modules among the imported ones."""
    return sorted({name for name, _, _ in rows if name.split(".")[0] in FRAMEWORKS})


def import_time_by_library(rows: list[tuple[str, int, int]]) -> dict[str, float]:
    """Milliseconds of import by library (see LIBRARY_OF), specc's own modules as `specc`."""
    totals: dict[str, float] = {}
    # Walk backwards so that each module's importer, shallower in the tree, is already on the stack.
    stack: list[tuple[int, str]] = []
    for name, depth, own in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        top = name.split(".")[0]
        if stack and stack[0][1] == "python start-up":
            owner = "python start-up"  # what site imports (a .pth file's packages too) runs for `python -c pass`
        elif top in sys.stdlib_module_names or top.startswith("_sysconfigdata"):
            owner = stack[-1][1] if stack else "python start-up"
        else:
            owner = LIBRARY_OF.get(top, top)
        stack.append((depth, owner))
        totals[owner] = totals.get(owner, 0.0) + own / 1000
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of the fast commands (median taken)")
    parser.add_argument("--keras-runs", type=int, default=5, help="runs of the Keras summary (median taken)")
    args = parser.parse_args()

    python = sys.executable
    commands = {
        "pass": [python, "-c", "pass"],
        "import": [python, "-c", "import specc.cli"],
        "check": [python, "-m", "specc", "check", str(SPEC)],
        "libraries": [python, "-c", LIBRARIES_ALONE],
        "keras": [python, "-c", KERAS_SUMMARY],
    }
    # Warm the lark grammar cache, the bytecode and the file-system cache so that every timed run is alike.
    wall_time(commands["check"])
    runs = {name: args.runs for name in commands} | {"keras": args.keras_runs}
    medians = interleaved_medians(commands, runs)
    baseline, imports, check, keras = medians["pass"], medians["import"], medians["check"], medians["keras"]
    libraries = medians["libraries"]
    profiles = [import_times() for _ in range(args.runs)]
    imported = framework_imports(profiles[0])
    # The least each library took over the runs: noise from the machine only ever adds time.
    by_library: dict[str, float] = {}
    for totals in map(import_time_by_library, profiles):
        for library, ms in totals.items():
            by_library[library] = min(ms, by_library.get(library, ms))

    print(f"specc check examples/mnist.cnn, whole process, median of {args.runs} (keras: {args.keras_runs}) runs")
    print(f"  python -c pass           {baseline * 1000:8.1f} ms   1.0x")
    print(f"  import specc.cli         {imports * 1000:8.1f} ms   {imports / baseline:.1f}x python -c pass")
    print(f"  specc check              {check * 1000:8.1f} ms   {check / baseline:.1f}x python -c pass")
    print(f"  keras build + summary()  {keras * 1000:8.1f} ms   {keras / baseline:.1f}x python -c pass")
    print(f"  typer+pydantic+lark alone {libraries * 1000:8.1f} ms   {libraries / baseline:.1f}x python -c pass")
    print(f"  keras summary / specc check: {keras / check:.1f}x (target: at least 20x, 25x if the libraries allow)")
    print(f"  keras summary / the libraries alone: {keras / libraries:.1f}x (the most any program on them could reach)")
    print(f"  specc's own share of its check: {(check - libraries) * 1000:.1f} ms above the libraries alone")
    print(f"  specc's imports above python start-up: {(imports - baseline) * 1000:.1f} ms")
    print(f"  specc check above python start-up: {(check - baseline) * 1000:.1f} ms")
    print(f"  import time of specc check by library, least of {args.runs} runs of python -X importtime:")
    for library, ms in sorted(by_library.items(), key=lambda item: -item[1]):
        if ms >= 0.5:
            print(f"    {library:<20} {ms:6.1f} ms")
    print(f"  framework modules imported by specc check: {', '.join(imported) if imported else 'none'}")


if __name__ == "__main__":
    main()
