"""NaN and infinity in weights: counted without copying a large array twice.

A checkpoint's tensors, a model's weights before a backup or a save, and a
`model.keras` before it is used are all checked here.
"""

import numpy as np

# Values checked at a time: the check's temporary stays small however large the array.
CHUNK_VALUES = 1 << 20


def non_finite_count(array, chunk=CHUNK_VALUES):
    """How many values of `array` are NaN or infinite, counted `chunk` values at a time."""
    flat = np.asarray(array).reshape(-1)
    count = 0
    for start in range(0, flat.size, chunk):
        part = flat[start : start + chunk]
        count += part.size - int(np.count_nonzero(np.isfinite(part)))
    return count


def first_non_finite(named_arrays):
    """(name, count of non-finite values, size) of the first array holding any, or None.

    `named_arrays` is an iterable of (name, array) pairs; it is consumed lazily,
    so arrays converted on the fly are held one at a time.
    """
    for name, array in named_arrays:
        array = np.asarray(array)
        if not np.issubdtype(array.dtype, np.floating) and array.dtype.name != "bfloat16":
            continue  # integer counters (an optimizer's step) are always finite
        count = non_finite_count(array)
        if count:
            return name, count, array.size
    return None


def model_non_finite(model):
    """`first_non_finite` over a Keras model's weights, named by their paths."""
    import keras

    return first_non_finite(
        (variable.path, keras.ops.convert_to_numpy(variable.value)) for variable in model.weights
    )
