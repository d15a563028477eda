"""Devices and numeric precision. TensorFlow places work on a GPU by itself when it
sees one; these helpers only report it and pick the matching mixed-precision policy."""

import keras
import tensorflow as tf


def accelerators():
    """Names of the GPUs TensorFlow can use (empty on CPU-only machines)."""
    return [device.name for device in tf.config.list_physical_devices("GPU")]


def describe_devices():
    gpus = accelerators()
    return f"training on {len(gpus)} GPU(s)" if gpus else "training on CPU (no GPU visible to TensorFlow)"


def set_precision(mixed_precision):
    """Sets the global Keras dtype policy and returns its name.

    Mixed precision uses float16 on GPUs (tensor cores) and bfloat16 on CPUs,
    where float16 matrix products are not accelerated.
    """
    if not mixed_precision:
        policy = "float32"
    else:
        policy = "mixed_float16" if accelerators() else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
