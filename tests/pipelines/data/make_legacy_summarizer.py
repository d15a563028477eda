"""Writes legacy_summarizer.keras/.weights.h5/.npz: a tiny summarizer whose TiedEmbedding
was a plain `keras.layers.Layer` holding its table and output bias itself. Run once at
commit e93cae8 (`KERAS_BACKEND=tensorflow PYTHONPATH=. python
tests/pipelines/data/make_legacy_summarizer.py`); kept for the record."""
import keras
import numpy as np

from pipelines.summarization.config import ModelConfig
from pipelines.summarization.model import build_summarizer

keras.utils.set_random_seed(0)
config = ModelConfig(vocabulary_size=30, max_document_length=8, max_summary_length=6, hidden_dim=8,
                     intermediate_dim=16, num_heads=2, encoder_layers=1, decoder_layers=1, dropout=0.0)
model = build_summarizer(config)
rng = np.random.default_rng(0)
for weight in model.weights:  # a non-zero output bias and random norms, so each weight shows
    weight.assign(rng.normal(size=weight.shape).astype("float32") * 0.5)
encoder_ids = rng.integers(1, 30, size=(2, 8)); encoder_ids[0, 5:] = 0
decoder_ids = rng.integers(1, 30, size=(2, 6)); decoder_ids[1, 4:] = 0
logits = model.predict({"encoder_ids": encoder_ids, "decoder_ids": decoder_ids}, verbose=0)
model.save("tests/pipelines/data/legacy_summarizer.keras")
model.save_weights("tests/pipelines/data/legacy_summarizer.weights.h5")
np.savez("tests/pipelines/data/legacy_summarizer.npz", encoder_ids=encoder_ids, decoder_ids=decoder_ids,
         logits=logits)
