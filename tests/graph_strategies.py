"""Test-only hypothesis strategies: random specs of graph models, for any backend's property tests.

`graph_specs()` draws one model: a chain of convolutions and pools with merges (add, subtract,
multiply, average, maximum, minimum, concat) of the latest value with random earlier ones, so that
operand shapes sometimes fit (same size and channels, a 1-channel map or a global pool's vector
that broadcasts) and sometimes do not. The last value is an output, sometimes with another, so
that some values reach none. Ranks are tracked so that 2-D layers read only feature maps and dense
only vectors: what fails is a merge's operands, or a pool on a map that is too small.
"""

from __future__ import annotations

from hypothesis import strategies as st

MERGES = ("add", "subtract", "multiply", "average", "maximum", "minimum", "concat")


@st.composite
def graph_specs(draw, max_layers: int = 8) -> str:
    """The text of one model `drawn`, its values named v0 (the input), v1, v2... one a line."""
    size = draw(st.sampled_from([2, 4, 6, 8]))
    channels = draw(st.integers(1, 4))
    lines = [f"v0 = input {size}x{size}x{channels}"]
    # Each value's name and rank (3: a feature map, 1: a vector).
    values: list[tuple[str, int]] = [("v0", 3)]
    for index in range(1, draw(st.integers(2, max_layers)) + 1):
        name = f"v{index}"
        maps = [value for value, rank in values if rank == 3]
        vectors = [value for value, rank in values if rank == 1]
        kinds = ["merge", "merge"]
        if maps:
            kinds += ["conv", "conv", "pool", "global_avgpool"]
        if vectors:
            kinds += ["dense"]
        kind = draw(st.sampled_from(kinds))
        if kind == "merge":
            merge = draw(st.sampled_from(MERGES))
            count = 2 if merge == "subtract" else draw(st.integers(2, 3))
            # The latest value and earlier ones, as a skip connection reads.
            operands = [values[-1][0]] + draw(
                st.lists(st.sampled_from([v for v, _ in values]), min_size=count - 1, max_size=count - 1)
            )
            lines.append(f"{name} = {merge} {' '.join(operands)}")
            ranks = {rank for value, rank in values if value in operands}
            values.append((name, max(ranks)))
            continue
        if kind == "dense":
            source = draw(st.sampled_from(vectors))
            units = draw(st.sampled_from([1, channels, 3]))
            activation = draw(st.sampled_from(["", " relu", " sigmoid"]))
            lines.append(f"{name} = dense {units}{activation} from {source}")
            values.append((name, 1))
            continue
        source = draw(st.sampled_from(maps[-2:]))
        if kind == "conv":
            filters = draw(st.sampled_from([1, channels, 3]))
            options = draw(st.sampled_from(["same", "same", "1", "2 strides=2 same", "3 same use_bias=false"]))
            kernel, _, rest = options.partition(" ") if options[0].isdigit() else ("3", "", options)
            lines.append(f"{name} = conv {filters} {kernel} {rest} from {source}".replace("  ", " "))
        elif kind == "pool":
            pool = draw(st.sampled_from(["maxpool 2", "avgpool 2 same", "maxpool 3 strides=1 same"]))
            lines.append(f"{name} = {pool} from {source}")
        else:
            lines.append(f"{name} = global_avgpool from {source}")
            values.append((name, 1))
            continue
        values.append((name, 3))
    names = [value for value, _ in values[1:]]
    outputs = [names[-1]] + draw(st.lists(st.sampled_from(names[:-1]), max_size=1)) if len(names) > 1 else names
    body = "".join(f"  {line}\n" for line in [*lines, f"output {' '.join(outputs)}"])
    return f"model drawn {{\n{body}}}\n"
