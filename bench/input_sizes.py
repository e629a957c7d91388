"""Benchmark: what finding the sizes an open input accepts costs, against checking one size and against one
probe with Keras, in the same run.

Run from the repository root:  python bench/input_sizes.py [NETWORK...] [--runs 3] [--no-keras]

For each zoo network (default: all), as `backbone NETWORK weights=none include_top=false` after `input ?x?x3`:
  - open: check_text on the open spec, which finds the accepted sizes (specc.input_sizes) and checks the model
    once at the size it is evaluated at: the median of --runs, after one untimed warm-up;
  - one size: check_text on the same spec with the input written as 224x224x3 (the baseline: one check);
  - Keras: keras.applications.NETWORK(weights=None, include_top=False, input_shape=(224, 224, 3)), once, what a
    user runs to learn whether one size fits (the least of --runs builds, each in a cleared session).
It prints the times, the sizes found, open / one size (how many checks the search costs) and Keras / open (how
many searches one Keras probe pays for). Nothing is asserted, and no test runs this.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc.input_sizes import period  # noqa: E402
from specc.pipeline import check_text  # noqa: E402
from specc.zoo import ZOO, ZOO_BY_NAME  # noqa: E402

from timing import median_seconds  # noqa: E402


def spec(network: str, shape: str) -> str:
    return f"model m {{\n  input {shape}\n  backbone {network} weights=none include_top=false\n}}\n"


def keras_probe_seconds(network: str, runs: int) -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    application = getattr(keras.applications, ZOO_BY_NAME[network].keras_application)
    times = []
    for _ in range(runs):
        keras.backend.clear_session()
        start = time.perf_counter()
        application(weights=None, include_top=False, input_shape=(224, 224, 3))
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "networks", nargs="*", metavar="NETWORK", help=f"zoo networks (default all): {', '.join(ZOO_BY_NAME)}"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each measurement")
    parser.add_argument("--no-keras", action="store_true", help="leave out the Keras probe")
    args = parser.parse_args()
    unknown = [name for name in args.networks if name not in ZOO_BY_NAME]
    if unknown:
        parser.error(f"not in the zoo: {', '.join(unknown)}")
    networks = args.networks or [network.name for network in ZOO]
    print(f"{os.cpu_count()} CPUs; median of {args.runs} runs (Keras: the least)")
    header = ("network", "period", "open", "one size", "Keras", "open/one", "Keras/open")
    widths = (-20, 7, 11, 11, 11, 10, 12)
    print(
        "".join(f"{cell:<{-w}}" if w < 0 else f"{cell:>{w}}" for cell, w in zip(header, widths, strict=True))
        + "  sizes"
    )
    for network in networks:
        open_text, fixed_text = spec(network, "?x?x3"), spec(network, "224x224x3")
        open_seconds = median_seconds(lambda text=open_text: check_text(text), args.runs)
        one_seconds = median_seconds(lambda text=fixed_text: check_text(text), args.runs)
        checked = check_text(open_text)
        (report,) = checked.reports
        keras_seconds = None if args.no_keras else keras_probe_seconds(network, args.runs)
        keras_cells = (
            ("-", "-") if keras_seconds is None else (f"{keras_seconds:.3f} s", f"{keras_seconds / open_seconds:.1f}x")
        )
        print(
            f"{network:<20}{period(checked.spec.models[0]):>7}{open_seconds:>9.3f} s{one_seconds:>9.3f} s"
            f"{keras_cells[0]:>11}{open_seconds / one_seconds:>9.1f}x{keras_cells[1]:>12}  "
            f"{report.input_sizes.describe()} -> {report.input_sizes.describe_outputs()}"
        )


if __name__ == "__main__":
    main()
