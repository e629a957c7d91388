"""Shared test set-up: Keras, where a test builds it, runs quietly on the TensorFlow backend."""

from __future__ import annotations

import os

# Before anything imports keras or tensorflow (tests/keras_reference.py sets them again when it does).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"
