"""Writes legacy_layout.keras/.npz: a small model in the weight layout keras_attention
used before the projections became EinsumDense sublayers. Run once at commit 566cc42
(`PYTHONPATH=. python tests/layers/data/make_legacy_layout.py`); kept for the record."""
import numpy as np
import keras
import keras_attention as ka

keras.utils.set_random_seed(0)
tokens = keras.Input((None,), dtype="int32", name="tokens")
target = keras.Input((None,), dtype="int32", name="target")
x = ka.TokenAndPositionEmbedding(20, 8, name="source_embedding")(tokens)
x = ka.MultiHeadAttention(2, 4, value_dim=3, output_shape=8, bias_initializer="random_normal", name="attention")(x, x)
encoded = ka.TransformerEncoderBlock(16, 2, bias_initializer="random_normal", name="encoder")(x)
y = ka.TokenAndPositionEmbedding(20, 8, name="target_embedding")(target)
y = ka.TransformerDecoderBlock(16, 2, bias_initializer="random_normal", name="decoder")(y, encoded)
no_bias = ka.MultiHeadAttention(2, 4, use_bias=False, name="attention_no_bias")(y, encoded)
model = keras.Model([tokens, target], [y, no_bias])
rng = np.random.default_rng(0)
source_ids = rng.integers(1, 20, size=(2, 6)); source_ids[0, 4:] = 0
target_ids = rng.integers(1, 20, size=(2, 5)); target_ids[1, 3:] = 0
outputs = model.predict([source_ids, target_ids], verbose=0)
model.save("tests/layers/data/legacy_layout.keras")
np.savez("tests/layers/data/legacy_layout.npz", source_ids=source_ids, target_ids=target_ids,
         decoded=outputs[0], attended=outputs[1])
