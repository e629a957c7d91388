"""Benchmark: whole-process wall time of `specc check` against `python -c pass` and a Keras summary.

Run from the repository root:  python bench/check_speed.py [--runs 7] [--keras-runs 5]

Every figure is the median of several runs taken in this one invocation, printed with ratios
against baselines measured here too, so numbers from different machines compare as ratios.
The Keras baseline builds the same network as examples/mnist.cnn and calls summary(), which is
what a user runs today to learn its shapes. The benchmark also lists any framework module
that the check path imports (there must be none).
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


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, env={**os.environ, "NO_COLOR": "1"})
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


def framework_imports() -> list[str]:
    """Framework modules that `specc check` imports, from python -X importtime."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "specc", "check", str(SPEC)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    modules = [
        line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if line.startswith("import time:")
    ]
    return sorted({m for m in modules if m.split(".")[0] in FRAMEWORKS})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of the fast commands (median taken)")
    parser.add_argument("--keras-runs", type=int, default=5, help="runs of the Keras summary (median taken)")
    args = parser.parse_args()

    python = sys.executable
    commands = {
        "pass": [python, "-c", "pass"],
        "check": [python, "-m", "specc", "check", str(SPEC)],
        "keras": [python, "-c", KERAS_SUMMARY],
    }
    # Warm the lark grammar cache and the file-system cache so that every timed run is alike.
    wall_time(commands["check"])
    medians = interleaved_medians(commands, {"pass": args.runs, "check": args.runs, "keras": args.keras_runs})
    baseline, check, keras = medians["pass"], medians["check"], medians["keras"]
    imported = framework_imports()

    print(f"specc check examples/mnist.cnn, whole process, median of {args.runs} (keras: {args.keras_runs}) runs")
    print(f"  python -c pass           {baseline * 1000:8.1f} ms   1.0x")
    print(f"  specc check              {check * 1000:8.1f} ms   {check / baseline:.1f}x python -c pass")
    print(f"  keras build + summary()  {keras * 1000:8.1f} ms   {keras / baseline:.1f}x python -c pass")
    print(f"  keras summary / specc check: {keras / check:.1f}x (target: at least 25x)")
    print(f"  specc check above python start-up: {(check - baseline) * 1000:.1f} ms")
    print(f"  framework modules imported by specc check: {', '.join(imported) if imported else 'none'}")


if __name__ == "__main__":
    main()
