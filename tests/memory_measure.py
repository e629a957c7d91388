"""Test-only: the most activation memory a PyTorch module holds at once during one inference forward pass on the
CPU, measured by watching every tensor PyTorch's dispatcher creates (the oracle for specc's peak_forward_bytes).

`LiveStorageBytes` is a TorchDispatchMode: every op's output is looked at as it is created, and the bytes of its
storage are added to the live total the first time that storage is seen (a view, or an in-place op's result,
shares its base's storage: counted once, by the storage's data pointer). A `weakref.finalize` on the storage
takes them off again when PyTorch frees it: since PyTorch 2.0 a storage's Python object lives exactly as long as
the storage itself (as torch.distributed._tools.mem_tracker relies on), so the callback runs when the memory goes
back to the allocator, not when some Python wrapper dies. The peak is the largest live total seen.

What is counted is every tensor PyTorch really makes, which is more than the values a spec names: a layer with a
fused activation (`F.relu(self.conv(x))`) holds the convolution's output and the activation's at once; a max pool
makes int64 indices beside its output (CPU inference too: aten::max_pool2d calls max_pool2d_with_indices), freed
when it returns; the input is alive for the whole pass, as the caller holds it. Not counted: storages that existed
before the pass (the module's weights and buffers, and views of them), and memory a kernel uses without making a
tensor (a convolution's im2col workspace, oneDNN's reorders), which specc does not count either.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveStorageBytes(TorchDispatchMode):
    """Within the mode: `live` bytes of storages created and not yet freed, and their `peak`. Storages of the
    `existing` tensors (a module's weights and buffers) are never counted, nor are views of them (a weight's
    transpose for a matrix product)."""

    def __init__(self, existing=()) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._existing = {tensor.untyped_storage().data_ptr() for tensor in existing}
        self._sizes: dict[int, int] = {}  # data pointer -> bytes, for the storages alive now

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(output):
            if isinstance(leaf, torch.Tensor):
                self._track(leaf.untyped_storage())
        return output

    def _track(self, storage) -> None:
        pointer, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or pointer in self._sizes or pointer in self._existing:
            return
        self._sizes[pointer] = size
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._freed, pointer)

    def _freed(self, pointer: int) -> None:
        self.live -= self._sizes.pop(pointer)


def forward_peak_bytes(module, input_shapes) -> int:
    """The peak of live activation bytes, inputs included, while `module` (in eval mode, without gradients) runs
    once on random float32 inputs of these shapes (PyTorch's layout, batch first), one per input."""
    module.eval()
    with torch.no_grad():
        with LiveStorageBytes(existing=[*module.parameters(), *module.buffers()]) as measured:
            inputs = [torch.randn(*shape) for shape in input_shapes]
            output = module(*inputs)
            del inputs, output
    return measured.peak
