"""keras_attention imports no TensorFlow: the lean install (Keras and NumPy only) runs
the layers on another backend. A subprocess makes TensorFlow unimportable, as on
a machine without it, then imports every module and runs a layer on JAX."""

import os
import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
sys.modules["tensorflow"] = None  # `import tensorflow` now fails, as where it is not installed
import keras_attention
for module_info in pkgutil.walk_packages(keras_attention.__path__, "keras_attention."):
    importlib.import_module(module_info.name)
import numpy as np
inputs = np.ones((2, 3, 8), "float32")
print(tuple(keras_attention.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs).shape))
print(sorted(name for name in sys.modules if name.split(".")[0] == "tensorflow"))
"""


def test_keras_attention_imports_and_runs_without_tensorflow():
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=environment
    )
    assert completed.returncode == 0, completed.stderr
    shape, tensorflow_modules = completed.stdout.strip().splitlines()[-2:]
    assert shape == "(2, 3, 8)"
    assert tensorflow_modules == "['tensorflow']"  # only the blocked entry
