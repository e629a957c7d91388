"""The model zoo: keras.applications' networks written in specc, one `.cnn` file each in this directory.

Each spec is the whole network with its classifier top, at its default input size, every layer named as
Keras names it. What the spec cannot say about the Keras function is written here: which layer ends
the network without its top, and what Keras calls the pooling it adds for `pooling=avg|max`. A `backbone`
line in a user's spec takes the network from here (see specc.backbones).
"""

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ZOO_DIRECTORY = Path(__file__).resolve().parent


# Compared and hashed by identity: each network is one object, and functions cache what they derive from it.
@dataclass(frozen=True, eq=False)
class ZooNetwork:
    # The word after `backbone`, and the spec's file name without `.cnn`.
    name: str
    # keras.applications' function that builds it, e.g. "ResNet50".
    keras_application: str
    # The last layer of the network without its classifier top (include_top=False, pooling=None).
    features: str
    # keras.applications' obtain_input_shape: the only size its ImageNet top accepts, and the least height and
    # width it accepts at all (it raises below it, whatever the arithmetic would allow).
    default_size: int
    min_size: int
    # Keras's names for the global pooling include_top=False adds with pooling="avg" and pooling="max".
    pooling: dict[str, str] = field(
        default_factory=lambda: {"avg": "global_average_pooling2d", "max": "global_max_pooling2d"}
    )

    @property
    def path(self) -> Path:
        return ZOO_DIRECTORY / f"{self.name}.cnn"

    def text(self) -> str:
        return _text(self.path)


_NAMED_POOLING = {"avg": "avg_pool", "max": "max_pool"}

ZOO: tuple[ZooNetwork, ...] = (
    ZooNetwork("vgg16", "VGG16", "block5_pool", 224, 32),
    ZooNetwork("vgg19", "VGG19", "block5_pool", 224, 32),
    ZooNetwork("resnet50", "ResNet50", "conv5_block3_out", 224, 32, _NAMED_POOLING),
    ZooNetwork("mobilenet_v2", "MobileNetV2", "out_relu", 224, 32),
    ZooNetwork("xception", "Xception", "block14_sepconv2_act", 299, 71),
    ZooNetwork("inception_v3", "InceptionV3", "mixed10", 299, 75),
    ZooNetwork("inception_resnet_v2", "InceptionResNetV2", "conv_7b_ac", 299, 75),
    ZooNetwork("densenet121", "DenseNet121", "relu", 224, 32, _NAMED_POOLING),
    ZooNetwork("efficientnet_b0", "EfficientNetB0", "top_activation", 224, 32, _NAMED_POOLING),
)

ZOO_BY_NAME = {network.name: network for network in ZOO}


@cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")
