"""Benchmark: `specc check` on each zoo network against building it with keras.applications and calling summary().

Run from the repository root:  python bench/zoo.py [NETWORK ...] [--quick] [--runs 9] [--keras-runs 2]

For each network of specc.zoo.ZOO whose spec file exists (a missing one is skipped, and said so), it measures
in this one run, so that numbers from different machines compare as ratios:
  - `python -m specc check specc/zoo/<name>.cnn` in a fresh process, as a user runs it, Python's start-up
    included: the median of --runs runs, after one untimed warm-up run;
  - check_text on the spec's text in this process, what the editor pays on each edit: the median of --text-runs;
  - the baseline, a fresh Python that imports Keras, builds `keras.applications.<X>(weights=None)` and calls
    `model.summary()`, the way a user learns the same figures today: the least of --keras-runs runs (it is slow;
    the least favours Keras, as noise only ever adds time);
  - within each of those Keras runs, the build and summary alone, once Keras is imported: the first model of a
    fresh session, as in a notebook (the least of the runs).
It prints both times and the ratio baseline / specc for every network, and whether ResNet50 meets the 20x target
(whole process), with `python -c pass` for scale: a loaded machine inflates it and every whole-process figure.
Keras runs without weights (nothing is downloaded), on the CPU (CUDA_VISIBLE_DEVICES=-1), with TF_CPP_MIN_LOG_LEVEL=3.
Nothing is asserted, and no test runs this.

Every command runs with bytecode caching allowed (PYTHONDONTWRITEBYTECODE removed), as in bench/check_speed.py: an
installed package has its .pyc files, and the warm-up run writes specc's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.diagnostics import Severity  # noqa: E402
from specc.pipeline import check_text  # noqa: E402
from specc.zoo import ZOO, ZOO_BY_NAME, ZooNetwork  # noqa: E402

from timing import median_seconds  # noqa: E402

ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "NO_COLOR": "1"}
KERAS_ENV = {**ENV, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
TARGET_NETWORK, TARGET_RATIO = "resnet50", 20.0
QUICK_NETWORKS = (TARGET_NETWORK,)
# The last line the Keras script writes to stderr carries what it measured inside, after this marker.
MARKER = "bench/zoo.py:"

# What a user runs to learn a network's shapes and weights today. It times itself after the import, and says
# which Keras it ran, on stderr, so that the same run gives the whole-process and the in-process figures.
KERAS_SUMMARY = f"""
import json, sys, time
import keras
start = time.perf_counter()
model = getattr(keras.applications, sys.argv[1])(weights=None)
model.summary()
seconds = time.perf_counter() - start
about = {{"seconds": seconds, "keras": keras.__version__, "backend": keras.backend.backend()}}
print({MARKER!r}, json.dumps(about), file=sys.stderr)
"""


@dataclass
class Figures:
    network: ZooNetwork
    layers: int
    errors: int  # the spec's error diagnostics: a spec still being written may have some
    cli: float  # seconds, median of the runs
    text: float  # seconds, median of the runs
    keras_cli: float | None = None  # seconds, least of the runs; None when Keras failed
    keras_inside: float | None = None
    keras_about: str = ""


def run(command: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one command, from the start of the process to its end, and what it did."""
    start = time.perf_counter()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, completed


def keras_inside(completed: subprocess.CompletedProcess) -> dict:
    """What the Keras script measured inside its process."""
    lines = [line for line in completed.stderr.splitlines() if line.startswith(MARKER)]
    return json.loads(lines[-1].removeprefix(MARKER))


def in_process_seconds(text: str, runs: int) -> float:
    """Median seconds of check_text on `text`, after one untimed call."""
    return median_seconds(lambda: check_text(text), runs)


def measure(network: ZooNetwork, runs: int, keras_runs: int, text_runs: int) -> Figures:
    """Every figure of one network. The Keras runs are spread among the specc runs, so that drift in the
    machine's speed during the benchmark falls on both alike."""
    check = [sys.executable, "-m", "specc", "check", str(network.path.relative_to(ROOT))]
    keras = [sys.executable, "-c", KERAS_SUMMARY, network.keras_application]
    run(check, ENV)  # warm the grammar cache, the bytecode and the file-system cache
    text = network.text()
    checked = check_text(text)
    figures = Figures(
        network=network,
        layers=sum(len(report.model.layers) for report in checked.reports),
        errors=sum(d.severity is Severity.ERROR for d in checked.diagnostics),
        cli=0.0,
        text=in_process_seconds(text, text_runs),
    )
    cli_times, keras_times, inside_times = [], [], []
    keras_rounds = {round(i * runs / keras_runs) for i in range(keras_runs)}
    keras_failed = False
    for round_number in range(runs):
        cli_times.append(run(check, ENV)[0])
        if round_number in keras_rounds and not keras_failed:
            seconds, completed = run(keras, KERAS_ENV)
            if completed.returncode != 0:
                print(f"{network.keras_application} failed:\n{completed.stderr[-2000:]}", file=sys.stderr)
                keras_failed = True
                continue
            about = keras_inside(completed)
            keras_times.append(seconds)
            inside_times.append(about["seconds"])
            figures.keras_about = f"keras {about['keras']} ({about['backend']})"
    figures.cli = statistics.median(cli_times)
    if keras_times and not keras_failed:
        figures.keras_cli, figures.keras_inside = min(keras_times), min(inside_times)
    return figures


def milliseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f}"


def ratio(baseline: float | None, specc: float) -> str:
    if baseline is None:
        return "-"
    times = baseline / specc
    return f"{times:.1f}x" if times < 100 else f"{times:,.0f}x"


def print_table(rows: list[Figures]) -> None:
    header = (
        f"{'network':<20} {'layers':>6}  {'specc check':>11} {'keras summary':>13} {'ratio':>6}"
        f"  {'check_text':>10} {'build+summary':>13} {'ratio':>7}"
    )
    print(f"{'':<29}{'whole process, ms':^32}  {'in process, ms':^32}")
    print(header)
    print("-" * len(header))
    for row in rows:
        name = row.network.name + (" *" if row.errors else "")
        print(
            f"{name:<20} {row.layers:>6}  {milliseconds(row.cli):>11} {milliseconds(row.keras_cli):>13}"
            f" {ratio(row.keras_cli, row.cli):>6}  {milliseconds(row.text):>10}"
            f" {milliseconds(row.keras_inside):>13} {ratio(row.keras_inside, row.text):>7}"
        )
    for row in rows:
        if row.errors:
            print(
                f"* {row.network.name}.cnn has {row.errors} error(s): specc's figures are for a check that stops short"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "networks", nargs="*", metavar="NETWORK", help=f"zoo networks (default: all): {', '.join(ZOO_BY_NAME)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{', '.join(QUICK_NETWORKS)} only (unless named), 5 runs, 1 Keras run"
    )
    parser.add_argument("--runs", type=int, help="runs of `specc check` per network (median taken; default 9, quick 5)")
    parser.add_argument(
        "--keras-runs", type=int, help="runs of the Keras summary per network (least taken; default 2, quick 1)"
    )
    parser.add_argument(
        "--text-runs", type=int, default=20, help="in-process check_text calls per network (median taken)"
    )
    args = parser.parse_args()
    unknown = [name for name in args.networks if name not in ZOO_BY_NAME]
    if unknown:
        parser.error(f"not in the zoo: {', '.join(unknown)} (the zoo: {', '.join(ZOO_BY_NAME)})")
    names = args.networks or (QUICK_NETWORKS if args.quick else [network.name for network in ZOO])
    runs = args.runs or (5 if args.quick else 9)
    keras_runs = args.keras_runs if args.keras_runs is not None else (1 if args.quick else 2)
    if runs < 1 or keras_runs > runs:
        parser.error("--runs must be at least 1 and at least --keras-runs")

    networks = [ZOO_BY_NAME[name] for name in names]
    present = [network for network in networks if network.path.exists()]
    for network in networks:
        if network not in present:
            print(f"skipped {network.name}: {network.path.relative_to(ROOT)} does not exist yet")
    if not present:
        return

    started = time.perf_counter()
    # Python's own start-up, for scale: on a loaded machine it grows, and every whole-process figure with it.
    python_start = statistics.median(run([sys.executable, "-c", "pass"], ENV)[0] for _ in range(runs))
    rows = []
    for network in present:
        print(f"measuring {network.name} ...", file=sys.stderr, flush=True)
        rows.append(measure(network, runs, keras_runs, args.text_runs))
    about = next((row.keras_about for row in rows if row.keras_about), "keras not measured")
    print(
        f"specc check vs keras.applications(weights=None) + summary(): Python {platform.python_version()}, {about},"
        f" {os.cpu_count()} CPUs; specc: median of {runs} runs (check_text: {args.text_runs}),"
        f" keras: least of {keras_runs}; python -c pass: {milliseconds(python_start)} ms"
    )
    print_table(rows)
    target = next((row for row in rows if row.network.name == TARGET_NETWORK), None)
    if target is None or target.keras_cli is None:
        print(f"{TARGET_NETWORK}: not measured in this run, so the {TARGET_RATIO:.0f}x target is not judged")
    else:
        achieved = target.keras_cli / target.cli
        verdict = "meets" if achieved >= TARGET_RATIO else "does not meet"
        print(
            f"{TARGET_NETWORK}: keras summary / specc check = {achieved:.1f}x, whole process:"
            f" {verdict} the {TARGET_RATIO:.0f}x target"
        )
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
