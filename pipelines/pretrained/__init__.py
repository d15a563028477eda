"""Pretrained BERT-family checkpoints: the reader, their tokenizer and the encoder built
from keras_attention layers, shared by the classification and summarization pipelines.

>>> from pipelines.pretrained import CheckpointTokenizerLayer, build_pretrained_encoder
>>> encoder = build_pretrained_encoder("minilm")  # or any Hugging Face BERT directory
>>> tokenizer = CheckpointTokenizerLayer.from_checkpoint("minilm", max_length=128)
>>> outputs = encoder(tokenizer(["a gorgeous, witty film"]))  # hidden states + padding mask
>>> tuple(outputs["hidden_states"].shape)
(1, 7, 384)

Names are imported on first use, so `import pipelines.pretrained` loads no
TensorFlow: the reader and the encoder need Keras and NumPy only (the summarizer's
Keras-only model uses them), the tokenizer TensorFlow.
"""

from pipelines.common.lazy_exports import lazy_exports

_EXPORTS = {
    "Checkpoint": "pipelines.pretrained.checkpoint",
    "CheckpointTokenizer": "pipelines.pretrained.tokenizer",
    "CheckpointTokenizerLayer": "pipelines.pretrained.tokenizer_layer",
    "EncoderSettings": "pipelines.pretrained.checkpoint",
    "apply_pretrained_encoder": "pipelines.pretrained.encoder",
    "build_pretrained_encoder": "pipelines.pretrained.encoder",
    "checkpoint_tokenizer": "pipelines.pretrained.tokenizer",
    "freeze_token_embeddings": "pipelines.pretrained.encoder",
    "load_encoder_weights": "pipelines.pretrained.encoder",
    "read_checkpoint": "pipelines.pretrained.checkpoint",
    "resolve_checkpoint_dir": "pipelines.pretrained.known_checkpoints",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra="pipelines")
