"""Emit stage: checked IR -> framework source. One module per backend; none of them re-parses a spec.

`specc.backends.python_source` is the writer they share (indentation, literals, identifiers);
`keras` emits Keras 3 functional-API source and `keras_verify` builds it with real Keras and
compares every layer with the checker. Frameworks are imported only by the *_verify modules.
"""
