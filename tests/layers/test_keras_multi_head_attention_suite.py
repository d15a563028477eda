"""Keras's own MultiHeadAttention tests, run against keras_attention.MultiHeadAttention.

This imports the test module Keras ships (`keras/src/layers/attention/
multi_head_attention_test.py`, Keras 3.15) and swaps the class its tests
build: every `layers.MultiHeadAttention` in that file is ours. Nothing is
copied or edited; the tests below are Keras's, collected from a subclass of
Keras's test case. Left out (not collected), each with the reason:

- `test_sliding_window_serialization`: reads `_sliding_window`, a private
  attribute of Keras's layer; ours is the public `sliding_window`
  (test_multi_head_attention_keras_arguments.py checks its round trip).
- On TensorFlow only, `test_basics_with_flash_attention` and
  `test_flash_attention_with_errors`: Keras skips both there itself
  (no flash attention on TensorFlow); both run on JAX.
"""

import types

import keras
import keras.src.layers
from keras.src.layers.attention import multi_head_attention_test as keras_tests

import keras_attention

LEFT_OUT = {
    "test_sliding_window_serialization": "reads Keras's private `_sliding_window`",
}
if keras.backend.backend() == "tensorflow":
    LEFT_OUT.update(
        {
            "test_basics_with_flash_attention": "Keras skips it on TensorFlow",
            "test_flash_attention_with_errors": "Keras skips it on TensorFlow",
        }
    )

# Keras's test module reads the class from its `layers` global: give it a
# namespace where MultiHeadAttention is ours and every other layer is Keras's.
keras_tests.layers = types.SimpleNamespace(
    **{name: getattr(keras.src.layers, name) for name in dir(keras.src.layers)},
)
keras_tests.layers.MultiHeadAttention = keras_attention.MultiHeadAttention


class TestKerasMultiHeadAttentionOnOurs(keras_tests.MultiHeadAttentionTest):
    pass


# A name bound to None is not a test method, so pytest does not collect it.
for _name in list(LEFT_OUT):
    for _attribute in dir(TestKerasMultiHeadAttentionOnOurs):
        if _attribute == _name or _attribute.startswith(_name + "_"):
            setattr(TestKerasMultiHeadAttentionOnOurs, _attribute, None)


def test_the_keras_tests_build_our_class():
    assert keras_tests.layers.MultiHeadAttention is keras_attention.MultiHeadAttention
    assert keras_tests.layers.Embedding is keras.layers.Embedding
