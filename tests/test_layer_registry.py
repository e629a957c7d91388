"""specc.layers' table of kinds (KINDS) against the classes it stands for: every kind is listed, once, with the
spellings and Keras class its class declares and the module that defines it; a spelling finds its kind by
importing that module alone; and `Layer` is the discriminated union of every kind."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

import specc.layers
from specc.diagnostics import Span
from specc.layers import KIND_BY_SPELLING, KINDS, LayerBase

REPO = Path(__file__).resolve().parent.parent


def _defined_kinds() -> dict[str, tuple[str, type[LayerBase]]]:
    """Every concrete layer kind defined in a module of specc.layers: its kind, to its module and class."""
    found = {}
    for module_info in pkgutil.iter_modules(specc.layers.__path__):
        module = importlib.import_module(f"specc.layers.{module_info.name}")
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, LayerBase) and cls.__module__ == module.__name__:
                kind = cls.model_fields["kind"].default
                if isinstance(kind, str):
                    found[kind] = (module_info.name, cls)
    return found


def test_every_kind_a_module_defines_is_in_the_table_once_with_its_module():
    defined = _defined_kinds()
    listed = [(entry.module, entry.class_name) for entry in KINDS]
    assert len(set(listed)) == len(listed)
    assert sorted(listed) == sorted((module, cls.__name__) for module, cls in defined.values())


@pytest.mark.parametrize("entry", KINDS, ids=lambda entry: entry.class_name)
def test_the_table_repeats_the_spellings_and_keras_class_the_kind_declares(entry):
    cls = specc.layers.kind_class(entry)
    assert (entry.spellings, entry.keras_class) == (cls.spellings, cls.keras_class)


def test_a_kind_of_its_own_module_is_named_by_its_ir_kind():
    # Families share a base class; every other kind has the module of its name.
    families = {"pooling", "global_pooling", "merging", "augmentation"}
    for kind, (module, _) in _defined_kinds().items():
        assert module in families or module == kind, (kind, module)


def test_no_two_kinds_share_a_spelling():
    spellings = [s for entry in KINDS for s in {*entry.spellings, entry.keras_class.lower()}]
    repeated = {s for s in spellings if spellings.count(s) > 1}
    assert not repeated


_LOOK_UP_ONE = """
import json, sys
from specc.layers import KIND_BY_SPELLING
known = "upsample" in KIND_BY_SPELLING and len(list(KIND_BY_SPELLING)) > 36
cls = KIND_BY_SPELLING["upsample"]
print(json.dumps({
    "class": cls.__name__,
    "known": known,
    "modules": sorted(m for m in sys.modules if m.startswith("specc.layers.")),
}))
"""


def test_looking_a_spelling_up_imports_that_kinds_module_alone():
    result = subprocess.run([sys.executable, "-c", _LOOK_UP_ONE], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == {
        "class": "UpSampling2D",
        "known": True,
        "modules": ["specc.layers.base", "specc.layers.upsampling2d"],
    }


def test_every_spelling_and_keras_class_finds_its_kind():
    for entry in KINDS:
        cls = specc.layers.kind_class(entry)
        for spelling in (*entry.spellings, entry.keras_class.lower()):
            assert KIND_BY_SPELLING[spelling] is cls
    assert "conv2D" not in KIND_BY_SPELLING
    with pytest.raises(KeyError):
        KIND_BY_SPELLING["vgg16"]


def test_layer_is_the_discriminated_union_of_every_kind():
    adapter = pydantic.TypeAdapter(specc.layers.Layer)
    span = Span(1, 1, 1, 5)
    conv = adapter.validate_python(
        {"kind": "conv2d", "name": "conv2d", "span": span, "filters": 8, "kernel_size": (3, 3)}
    )
    assert type(conv) is specc.layers.Conv2D
    with pytest.raises(pydantic.ValidationError, match="does not match any of the expected tags"):
        adapter.validate_python({"kind": "vgg16", "name": "x", "span": span})
    assert specc.layers.LAYER_KINDS == tuple(specc.layers.kind_class(entry) for entry in KINDS)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Conv3D'"):
        specc.layers.Conv3D  # noqa: B018
