"""Leaner ONNX graphs from tf2onnx, for the per-call overhead of small models.

At batch 1 a decoder step or a short classification is a few hundred small
kernels, and onnxruntime's time goes to the number of nodes more than to the
arithmetic. tf2onnx's einsum optimizer decomposes every ONNX `Einsum` into
Reshape / Transpose / MatMul chains with run-time shape arithmetic for each
dynamic axis (about 20 nodes an einsum, over a quarter of the default
summarizer's decoder-step nodes); onnxruntime's own `Einsum` kernel does the
same contraction in one node. `keep_einsum()` turns that optimizer off.

The files stay behind the same gates: onnxruntime loads and runs them during
export, and the parity gate compares them with Keras.
"""

import contextlib

from tf2onnx import optimizer as tf2onnx_optimizer

_EINSUM_OPTIMIZER = "einsum_optimizer"


@contextlib.contextmanager
def keep_einsum():
    """Within the block, tf2onnx leaves `Einsum` nodes for onnxruntime to run."""
    optimizers = tf2onnx_optimizer._optimizers  # noqa: SLF001 (tf2onnx's optimizer registry)
    removed = optimizers.pop(_EINSUM_OPTIMIZER, None)
    try:
        yield
    finally:
        if removed is not None:
            optimizers[_EINSUM_OPTIMIZER] = removed
