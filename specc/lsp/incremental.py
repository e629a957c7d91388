"""Editor edge: re-checking a document after each edit.

For now this runs the whole check path on every text; see the benchmark in bench/lsp_latency.py.
"""

from __future__ import annotations

from specc.pipeline import CheckedSource, check_text


class IncrementalChecker:
    """Checks successive versions of one document."""

    def check(self, text: str) -> CheckedSource:
        return check_text(text)
