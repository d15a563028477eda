"""Dense and EinsumDense projections written as one 2-D matrix product.

The layers here call their projection sublayers, or, where it measured faster
(benchmarks/layers.py, BENCHMARKS.md), multiply by the sublayer's own kernel and
bias: the same weights and the same numbers in float32.
"""

import keras
from keras import ops


def in_tensorflow_xla_function():
    """Whether ops are being traced into an XLA-compiled TensorFlow function."""
    if keras.backend.backend() != "tensorflow":
        return False
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # TensorFlow's internal module moved: keep the graph form
        return False
    if tf.executing_eagerly():
        return False
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def kernel_gives_output(projection):
    """Whether `projection` (a Dense or EinsumDense) computes `activation(x @ kernel + bias)`
    and nothing more: no LoRA, no quantized kernel, no activity regularizer."""
    return (
        not projection.lora_enabled
        and projection.quantization_mode is None
        and projection.activity_regularizer is None
    )


def flat_matmul(inputs, kernel, bias=None):
    """`inputs @ kernel + bias` as one 2-D product over `(batch·length, features)`.

    A 3-D matmul compiles to a batched product under XLA, slower than one 2-D
    product. Inside an XLA-compiled TensorFlow function the product also has
    the gradient of `_matmul_add`; graphs without XLA, and so every export,
    hold a plain MatMul and bias addition.
    """
    shape = ops.shape(inputs)
    # An explicit width, not -1: -1 cannot be inferred when the batch is empty.
    flat = ops.reshape(inputs, (-1, kernel.shape[0]))
    if bias is not None and in_tensorflow_xla_function():
        product = _matmul_add(flat, ops.convert_to_tensor(kernel), ops.convert_to_tensor(bias))
    else:
        product = ops.matmul(flat, kernel)
        if bias is not None:
            product = product + bias
    return ops.reshape(product, tuple(shape[:-1]) + (kernel.shape[1],))


@ops.custom_gradient
def _matmul_add(flat, kernel, bias):
    """`flat @ kernel + bias`, with the kernel and bias gradients from one product.

    XLA on the CPU sums the bias gradient over the batch several times slower
    than it multiplies matrices. With a column of ones appended to `flat`, the
    product that gives the kernel gradient gives the bias gradient as its last
    row. The odd width also keeps that product's transposed operand off a
    power-of-two stride, where XLA's CPU matrix product is slow (2048 x 1024
    activations: 7.0 instead of 10.2 ms). The input gradient is the usual
    product with the kernel, not widened by the ones.
    """

    def grad(upstream):
        with_ones = ops.pad(flat, ((0, 0), (0, 1)), constant_values=1)
        kernel_and_bias = ops.matmul(ops.transpose(with_ones), upstream)
        flat_gradient = ops.matmul(upstream, ops.transpose(kernel))
        return flat_gradient, kernel_and_bias[:-1], kernel_and_bias[-1]

    return ops.matmul(flat, kernel) + bias, grad
