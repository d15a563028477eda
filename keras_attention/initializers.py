import keras


def clone_initializer(initializer):
    """A fresh copy of `initializer` for one weight.

    An unseeded Keras 3 initializer instance returns the same values on every
    call, so sharing one between the query, key and value kernels would make
    them identical. keras.layers.MultiHeadAttention clones for the same reason.
    """
    if not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    return initializer.__class__.from_config(initializer.get_config())
