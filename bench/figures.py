"""Benchmark: specc's figures for a zoo network (check + model_figures) against PyTorch's FlopCounterMode running
the module specc emits for the same network, in the same run.

Run from the repository root:  python bench/figures.py [NETWORK] [--runs 5]

For the network (default resnet50, at its default input size with its top) it measures, in this one process, so
that numbers from different machines compare as ratios:
  - specc: check_text on the spec's text, then model_figures on the report (MACs, FLOPs, memory and receptive
    fields of every layer): the median of --runs, after one untimed warm-up;
  - the baseline, what a PyTorch user runs to learn the MACs: one inference pass of the emitted module on one
    example under torch.utils.flop_counter.FlopCounterMode on the CPU (module built beforehand, not timed):
    the median of --runs, after one untimed warm-up; building the module (its weights' initialisation) is
    printed apart, the least of the runs;
  - the same pass on PyTorch's meta device (shapes only, no arithmetic), the cheapest way to run the counter.
It prints each time, the ratios baseline / specc, and both MAC counts (which tests/test_flop_oracle.py requires to
agree). Nothing is asserted, and no test runs this.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from specc.backends.torch import emit_torch  # noqa: E402
from specc.backends.verify import run_module  # noqa: E402
from specc.figures import format_count, model_figures  # noqa: E402
from specc.pipeline import check_text  # noqa: E402
from specc.zoo import ZOO_BY_NAME  # noqa: E402

from timing import median_seconds  # noqa: E402


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?", default="resnet50", choices=sorted(ZOO_BY_NAME))
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each measurement (median taken)")
    args = parser.parse_args()
    text = ZOO_BY_NAME[args.network].text()

    def specc_figures():
        (report,) = check_text(text).reports
        return model_figures(report)

    specc_seconds = median_seconds(specc_figures, args.runs)
    (report,) = check_text(text).reports
    macs = model_figures(report).macs
    model_class = run_module(emit_torch([report], f"{args.network}.cnn"), "<generated torch>").MODELS[report.model.name]
    shape = (1, report.model.inputs[0].shape[-1], *report.model.inputs[0].shape[:-1])

    builds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        module = model_class().eval()
        builds.append(time.perf_counter() - start)
    with torch.device("meta"):
        meta_module = model_class().eval()
    counted = {}

    def count(module, example, key):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(example)
        counted[key] = counter.get_total_flops()

    cpu_seconds = median_seconds(lambda: count(module, torch.randn(shape), "cpu"), args.runs)
    meta_seconds = median_seconds(lambda: count(meta_module, torch.empty(shape, device="meta"), "meta"), args.runs)

    print(
        f"{args.network} at {'x'.join(map(str, report.model.inputs[0].shape))}: Python {platform.python_version()},"
        f" torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads;"
        f" median of {args.runs} runs"
    )
    print(f"  specc check + model_figures:        {milliseconds(specc_seconds):>12}   MACs {format_count(macs)}")
    print(
        f"  FlopCounterMode pass, CPU:          {milliseconds(cpu_seconds):>12}"
        f"   MACs {format_count(counted['cpu'] // 2)}   ratio {cpu_seconds / specc_seconds:.1f}x"
    )
    print(
        f"  FlopCounterMode pass, meta device:  {milliseconds(meta_seconds):>12}"
        f"   MACs {format_count(counted['meta'] // 2)}   ratio {meta_seconds / specc_seconds:.1f}x"
    )
    print(f"  building the PyTorch module (not in the ratios): {milliseconds(min(builds))}")
    agree = counted["cpu"] == counted["meta"] == 2 * macs
    print(f"  PyTorch's FLOPs = 2 x specc's MACs: {'yes' if agree else 'NO'}")


if __name__ == "__main__":
    main()
