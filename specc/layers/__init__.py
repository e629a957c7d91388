"""IR stage: every layer kind specc knows, each a pydantic model with its shape rule and parameter count.

A layer kind is one class and nothing else: the fields are its normalised arguments (a 3 becomes (3, 3) at
lowering), the class variables say how it is spelt in a spec, and `infer` is the one place that computes its
output shape and parameters. The checker, the summary, the editor's hover and the backends' verification all
call `infer`. Shapes leave out the batch axis and are channels-last, as in Keras.

Each kind's class lives in a module of this package named by its IR kind (`specc/layers/conv2d.py`), or by its
family where kinds share a base (`pooling`, `global_pooling`, `merging`, `augmentation`); `specc.layers.base`
holds what all share.
A kind's module is imported the first time a spec uses the kind, or anything names its class here
(`specc.layers.Conv2D`): creating a pydantic class costs most of a millisecond, and a check of a small spec
uses a handful of the kinds.
"""

import functools
import operator
from collections.abc import Iterator, Mapping
from typing import Annotated, NamedTuple

from pydantic import Field

from specc.layers.base import (
    ACTIVATIONS,
    FILL_MODES,
    FLIP_MODES,
    MAX_EXTENT,
    MAX_TENSOR_ELEMENTS,
    MAX_TENSOR_ELEMENTS_TEXT,
    PARAMETER_SHORT_FORMS,
    Activation,
    AxisWindow,
    Cost,
    CostTerms,
    ExplicitPadding,
    Inference,
    LayerBase,
    Problem,
    Shape,
    format_shape,
    keras_auto_name,
    parameter_names,
    written_value,
)

__all__ = [
    "ACTIVATIONS",
    "FILL_MODES",
    "FLIP_MODES",
    "KINDS",
    "KIND_BY_SPELLING",
    "MAX_EXTENT",
    "MAX_TENSOR_ELEMENTS",
    "MAX_TENSOR_ELEMENTS_TEXT",
    "PARAMETER_SHORT_FORMS",
    "Activation",
    "AxisWindow",
    "Cost",
    "CostTerms",
    "ExplicitPadding",
    "Inference",
    "KindEntry",
    "LayerBase",
    "Problem",
    "Shape",
    "format_shape",
    "keras_auto_name",
    "kind_class",
    "parameter_names",
    "written_value",
]


class KindEntry(NamedTuple):
    """Where a kind's class is and how a spec writes the kind, known before its module is imported."""

    class_name: str
    module: str
    # As the class's `spellings` and `keras_class` (tests/test_layer_kinds.py holds them equal).
    spellings: tuple[str, ...]
    keras_class: str


# Every layer kind, in the order specc lists them. The spellings repeat the classes' own, so that a spelling
# finds its kind without importing every kind first.
KINDS: tuple[KindEntry, ...] = (
    KindEntry("Conv2D", "conv2d", ("conv", "conv2d"), "Conv2D"),
    KindEntry("MaxPool2D", "pooling", ("maxpool", "maxpool2d", "max_pool", "maxpooling2d"), "MaxPooling2D"),
    KindEntry("AvgPool2D", "pooling", ("avgpool", "avgpool2d", "avg_pool", "averagepooling2d"), "AveragePooling2D"),
    KindEntry("MinPool2D", "pooling", ("minpool", "minpool2d", "min_pool"), "MinPooling2D"),
    KindEntry(
        "GlobalAvgPool2D",
        "global_pooling",
        ("global_avgpool", "global_avgpool2d", "globalavgpool", "globalaveragepooling2d"),
        "GlobalAveragePooling2D",
    ),
    KindEntry(
        "GlobalMaxPool2D",
        "global_pooling",
        ("global_maxpool", "global_maxpool2d", "globalmaxpool", "globalmaxpooling2d"),
        "GlobalMaxPooling2D",
    ),
    KindEntry("ZeroPad2D", "zeropad2d", ("zeropad", "zeropad2d", "zeropadding2d"), "ZeroPadding2D"),
    KindEntry("BatchNorm", "batchnorm", ("batchnorm", "bn", "batch_norm", "batchnormalization"), "BatchNormalization"),
    KindEntry("Dropout", "dropout", ("dropout",), "Dropout"),
    KindEntry("Flatten", "flatten", ("flatten",), "Flatten"),
    KindEntry("Dense", "dense", ("dense", "fc", "linear"), "Dense"),
    KindEntry("ActivationLayer", "activation", ("activation",), "Activation"),
    KindEntry("DepthwiseConv2D", "depthwise_conv2d", ("depthwise",), "DepthwiseConv2D"),
    KindEntry("SeparableConv2D", "separable_conv2d", ("separable",), "SeparableConv2D"),
    KindEntry("Conv2DTranspose", "conv2d_transpose", ("conv_transpose",), "Conv2DTranspose"),
    KindEntry("UpSampling2D", "upsampling2d", ("upsample",), "UpSampling2D"),
    KindEntry("Cropping2D", "cropping2d", ("crop",), "Cropping2D"),
    KindEntry("Reshape", "reshape", ("reshape",), "Reshape"),
    KindEntry("Rescaling", "rescaling", ("rescaling",), "Rescaling"),
    KindEntry("Normalization", "normalization", ("normalization",), "Normalization"),
    KindEntry("LayerNorm", "layernorm", ("layernorm",), "LayerNormalization"),
    KindEntry("ReLU", "relu", ("relu",), "ReLU"),
    KindEntry("Add", "merging", ("add",), "Add"),
    KindEntry("Subtract", "merging", ("subtract",), "Subtract"),
    KindEntry("Multiply", "merging", ("multiply",), "Multiply"),
    KindEntry("Average", "merging", ("average",), "Average"),
    KindEntry("Maximum", "merging", ("maximum",), "Maximum"),
    KindEntry("Minimum", "merging", ("minimum",), "Minimum"),
    KindEntry("ScaledAdd", "merging", ("scaled_add",), "CustomScaleLayer"),
    KindEntry("Concat", "concat", ("concat", "concatenate"), "Concatenate"),
    KindEntry("RandomFlip", "augmentation", ("random_flip",), "RandomFlip"),
    KindEntry("RandomRotation", "augmentation", ("random_rotation",), "RandomRotation"),
    KindEntry("RandomZoom", "augmentation", ("random_zoom",), "RandomZoom"),
    KindEntry("RandomTranslation", "augmentation", ("random_translation",), "RandomTranslation"),
    KindEntry("RandomContrast", "augmentation", ("random_contrast",), "RandomContrast"),
    KindEntry("RandomBrightness", "augmentation", ("random_brightness",), "RandomBrightness"),
)
_KIND_BY_CLASS_NAME = {entry.class_name: entry for entry in KINDS}


def kind_class(entry: KindEntry) -> type[LayerBase]:
    """The class of a kind, its module imported if this is the first use."""
    # __import__, not importlib.import_module: only the former is timed by `python -X importtime`, whose profile
    # bench/check_speed.py reports.
    module = __import__(f"specc.layers.{entry.module}", fromlist=[entry.class_name])
    return getattr(module, entry.class_name)


class _KindsBySpelling(Mapping[str, type[LayerBase]]):
    """Every way a layer kind may be written, lower-cased (its spellings and its Keras class), to its class.
    Looking a spelling up imports only that kind's module; the spellings alone need none."""

    def __init__(self) -> None:
        self._entries = {
            spelling: entry for entry in KINDS for spelling in (*entry.spellings, entry.keras_class.lower())
        }

    def __getitem__(self, spelling: str) -> type[LayerBase]:
        return kind_class(self._entries[spelling])

    def __contains__(self, spelling: object) -> bool:
        return spelling in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


KIND_BY_SPELLING: Mapping[str, type[LayerBase]] = _KindsBySpelling()


def __getattr__(name: str) -> object:
    """A kind's class by name (`specc.layers.Conv2D`); LAYER_KINDS, every kind's class in KINDS' order; and
    Layer, their discriminated union, for validating a layer of any kind. Each imports what it names."""
    if name in _KIND_BY_CLASS_NAME:
        return kind_class(_KIND_BY_CLASS_NAME[name])
    if name == "LAYER_KINDS":
        value: object = tuple(kind_class(entry) for entry in KINDS)
    elif name == "Layer":
        value = Annotated[
            functools.reduce(operator.or_, (kind_class(entry) for entry in KINDS)), Field(discriminator="kind")
        ]
    else:
        raise AttributeError(f"module 'specc.layers' has no attribute {name!r}")
    globals()[name] = value
    return value
