"""Emit stage, PyTorch: every attribute name an `nn.Module` has itself, which no layer's attribute may take.

A submodule stored under one of these names shadows what PyTorch looks up on every module: under
`_call_impl` calling the module recurses until Python gives up, under `_modules`, `_parameters`,
`_version` or `_state_dict_hooks` building, `state_dict()` or `load_state_dict()` breaks, under
`forward` or `eval` the method is gone. The list is derived from torch, not written by hand: it is
every attribute of the class and of a fresh instance (`derive`), private ones included, less the
names starting with two underscores, which specc never uses as attributes anyway (Python mangles them).

It is committed here rather than derived at run time because the build path imports no framework:
`specc build --backend torch` only writes text, and must work, fast, where torch is not installed.
tests/test_torch_backend.py checks that it equals what the installed torch derives, so it cannot
drift from the torch that constraints.txt pins. To regenerate after upgrading torch:

    python -m specc.backends.torch_module_names
"""

from __future__ import annotations

import re
from pathlib import Path

# Derived from torch 2.13.0 by `python -m specc.backends.torch_module_names`; do not edit by hand.
NN_MODULE_ATTRIBUTES = frozenset(
    {
        "T_destination",
        "_apply",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_buffers",
        "_call_impl",
        "_compiled_call_impl",
        "_forward_hooks",
        "_forward_hooks_always_called",
        "_forward_hooks_with_kwargs",
        "_forward_pre_hooks",
        "_forward_pre_hooks_with_kwargs",
        "_get_backward_hooks",
        "_get_backward_pre_hooks",
        "_get_name",
        "_is_full_backward_hook",
        "_load_from_state_dict",
        "_load_state_dict_post_hooks",
        "_load_state_dict_pre_hooks",
        "_maybe_warn_non_full_backward_hook",
        "_modules",
        "_named_members",
        "_non_persistent_buffers_set",
        "_parameters",
        "_register_load_state_dict_pre_hook",
        "_register_state_dict_hook",
        "_replicate_for_data_parallel",
        "_save_to_state_dict",
        "_slow_forward",
        "_state_dict_hooks",
        "_state_dict_pre_hooks",
        "_version",
        "_wrapped_call_impl",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    }
)


def derive() -> frozenset[str]:
    """The names, from the installed torch (imported here, so only tests and regeneration call this)."""
    import torch

    names = set(dir(torch.nn.Module)) | set(vars(torch.nn.Module()))
    return frozenset(name for name in names if not name.startswith("__"))


def _regenerate() -> None:
    import torch

    path = Path(__file__)
    listed = "".join(f"        {name!r},\n".replace("'", '"') for name in sorted(derive()))
    source = re.sub(
        r"# Derived from torch .*?\n(NN_MODULE_ATTRIBUTES = frozenset\(\n    \{\n).*?(    \}\n\))",
        lambda match: (
            f"# Derived from torch {torch.__version__.split('+')[0]} by `python -m specc.backends.torch_module_names`; "
            f"do not edit by hand.\n{match.group(1)}{listed}{match.group(2)}"
        ),
        path.read_text(encoding="utf-8"),
        count=1,
        flags=re.DOTALL,
    )
    path.write_text(source, encoding="utf-8")


if __name__ == "__main__":
    _regenerate()
