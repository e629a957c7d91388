"""Emit stage: checked IR -> framework source. One module per backend; none of them re-parses a spec.

`specc.backends.python_source` is the writer they share (indentation, literals, identifiers).
`keras` emits Keras 3 functional-API source and `torch` PyTorch nn.Module source; `keras_verify`
and `torch_verify` build what they emit with the real framework, and `verify` compares the
figures with the checker. `transfer` copies weights between a Keras build and a PyTorch build.
Frameworks are imported only by the *_verify modules and `transfer`, and only when called.
"""
