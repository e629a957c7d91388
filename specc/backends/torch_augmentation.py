"""Emit stage: Keras's random preprocessing layers -> kornia.augmentation modules, applied in training only.

Keras's RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast and RandomBrightness act
in training and are the identity at inference. kornia's augmentations act whenever they are called, so each
is wrapped in the `Augmentation` helper, which applies it only in train mode. kornia works on images in
0..1: contrast and brightness scale the layer's value_range (0..255 by default, as Keras) to 0..1 and back.

Each emitter draws what Keras draws (see docs/training_torch.md for where kornia cannot):
- flip: p=0.5 per image and direction, as Keras;
- rotation: a fraction of a full turn, in degrees (factor * 360), counter-clockwise as both;
- zoom: Keras draws the size of the region sampled, 1 + factor (positive zooms out); kornia draws the scale
  of the content, so the range is 1 / (1 + factor); one draw for both axes unless width_factor is given;
- translation: kornia's range is symmetric, so only a symmetric one (f or (-f, f)) can be expressed;
- fill: Keras's reflect, nearest and constant are kornia's reflection, border and fill padding; wrap has none;
- contrast: Keras draws c in [1 - lower, 1 + upper] (a number f is (0, f), as Keras 3 reads it) and computes
  (x - mean) * c + mean with each channel's mean; kornia's ColorJitter uses the image's grey-level mean;
- brightness: the same uniform delta, a fraction of the value range, added to the image and clipped.
"""

from __future__ import annotations

from specc.backends.python_source import literal
from specc.layers import (
    LayerBase,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)

AUGMENTATION_HELPER = '''\
class Augmentation(nn.Module):
    """A Keras random preprocessing layer: a kornia augmentation applied in training mode only, as Keras
    applies it (kornia's apply whenever called). With value_range, the images are scaled to kornia's 0..1 and
    back."""

    def __init__(self, augment: nn.Module, value_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.augment, self.value_range = augment, value_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        if self.value_range is None:
            return self.augment(x)
        low, high = self.value_range
        return self.augment((x - low) / (high - low)) * (high - low) + low'''

# Keras's fill modes as kornia's padding modes; `wrap` has none.
PADDING_MODES = {"reflect": "reflection", "nearest": "border", "constant": "fill"}


def is_augmentation(layer: LayerBase) -> bool:
    return bool(getattr(layer, "augmentation", False))


def keras_factor(factor: float | tuple[float, ...], low_bound: float) -> tuple[float, float]:
    """(lower, upper) as Keras 3's _set_factor reads a factor: a pair sorted; a number f as (max(-f, low), f)."""
    if isinstance(factor, tuple):
        lower, upper = sorted(factor)
        return float(lower), float(upper)
    return float(max(-abs(factor), low_bound)), float(abs(factor))


def pair_factor(factor: float | tuple[float, ...]) -> tuple[float, float]:
    """RandomZoom's and RandomTranslation's factors: a pair as given, a number f as (-f, f)."""
    if isinstance(factor, tuple):
        return float(factor[0]), float(factor[1])
    return -float(abs(factor)), float(abs(factor))


def _geometric(layer, arguments: list[str]) -> str:
    """kornia.augmentation.RandomAffine with the layer's fill and interpolation, applied to every image."""
    if layer.fill_mode not in PADDING_MODES:
        raise NotImplementedError(
            f"the PyTorch backend cannot emit fill_mode={layer.fill_mode} (kornia pads with reflection, "
            "border or a constant)"
        )
    arguments.append(f"padding_mode={literal(PADDING_MODES[layer.fill_mode])}")
    if layer.fill_mode == "constant":
        arguments.append(f"fill_value={literal(float(layer.fill_value))}")
    if layer.interpolation == "nearest":
        arguments.append("resample='nearest'")
    arguments.append("p=1.0")
    return f"K.RandomAffine({', '.join(arguments)})"


def _degrees(factor) -> tuple[float, float]:
    lower, upper = keras_factor(factor, -1.0)
    return lower * 360.0, upper * 360.0


def kornia_augmentation(layer: LayerBase) -> tuple[tuple[str, ...], str]:
    """(the Augmentation helper's arguments, a note) for one Keras augmentation layer."""
    if isinstance(layer, RandomFlip):
        flips = {
            "horizontal": "K.RandomHorizontalFlip(p=0.5)",
            "vertical": "K.RandomVerticalFlip(p=0.5)",
            "horizontal_and_vertical": "nn.Sequential(K.RandomHorizontalFlip(p=0.5), K.RandomVerticalFlip(p=0.5))",
        }
        return (flips[layer.mode],), f"RandomFlip({layer.mode}), in training only"
    if isinstance(layer, RandomRotation):
        degrees = _degrees(layer.factor)
        return (_geometric(layer, [f"degrees={literal(degrees)}"]),), "RandomRotation: factor * 360 degrees"
    if isinstance(layer, RandomZoom):
        heights = pair_factor(layer.height_factor)
        # Keras samples a region 1 + f times the image; kornia scales the content: 1 / (1 + f).
        height_scale = (1.0 / (1.0 + heights[1]), 1.0 / (1.0 + heights[0]))
        if layer.width_factor is None:
            scale = height_scale
        else:
            widths = pair_factor(layer.width_factor)
            scale = (1.0 / (1.0 + widths[1]), 1.0 / (1.0 + widths[0]), *height_scale)
        # Twelve significant digits (1/1.1 is 0.909090909091) keep the line readable; the rest is below 1e-12.
        arguments = ["degrees=0.0", f"scale={literal(tuple(float(f'{factor:.12g}') for factor in scale))}"]
        return (_geometric(layer, arguments),), "RandomZoom: kornia's scale is 1 / (1 + Keras's factor)"
    if isinstance(layer, RandomTranslation):
        shifts = []
        for argument in ("width_factor", "height_factor"):  # kornia's translate is (horizontal, vertical)
            lower, upper = pair_factor(getattr(layer, argument))
            if lower != -upper:
                raise NotImplementedError(
                    f"the PyTorch backend cannot emit random_translation's {argument} ({lower:g}, {upper:g}): "
                    "kornia shifts within a symmetric range (-f, f) only"
                )
            shifts.append(upper)
        arguments = ["degrees=0.0", f"translate={literal(tuple(shifts))}"]
        return (_geometric(layer, arguments),), "RandomTranslation: fractions of the width and height"
    if isinstance(layer, RandomContrast):
        lower, upper = keras_factor(layer.factor, 0.0)
        contrast = (1.0 - lower, 1.0 + upper)
        value_range = tuple(float(v) for v in layer.value_range)
        return (
            f"K.ColorJitter(contrast={literal(contrast)}, p=1.0)",
            f"value_range={literal(value_range)}",
        ), "RandomContrast: (x - mean) * c + mean, clipped to value_range"
    if isinstance(layer, RandomBrightness):
        lower, upper = keras_factor(layer.factor, -1.0)
        value_range = tuple(float(v) for v in layer.value_range)
        return (
            f"K.RandomBrightness(brightness={literal((1.0 + lower, 1.0 + upper))}, p=1.0)",
            f"value_range={literal(value_range)}",
        ), "RandomBrightness: + a fraction of value_range, clipped to it"
    raise NotImplementedError(f"the PyTorch backend cannot emit augmentation `{layer.kind}`")
