"""The summarizer's tied embeddings under the names that older files give them.

`TiedEmbedding` (the from-scratch model's one table) and `BertTiedEmbedding` (the
warm-started decoder's) are keras_attention layers, registered as
`keras_attention>TiedEmbedding` and `keras_attention>BertTiedEmbedding`. Runs
written while they lived here name them `pipelines.summarization>TiedEmbedding`
and `pipelines.summarization>BertTiedEmbedding`; this module registers those
names too, so such `model.keras` files still load with `safe_mode=True`. Their
weights load as they are: same classes, same variable order and paths.
`model.py` imports it, so whatever builds or loads a summarizer has the names.
"""

import keras

from keras_attention.bert_tied_embedding import BertTiedEmbedding
from keras_attention.tied_embedding import TiedEmbedding

__all__ = ["BertTiedEmbedding", "TiedEmbedding"]

FORMER_REGISTERED_NAMES = {
    "pipelines.summarization>TiedEmbedding": TiedEmbedding,
    "pipelines.summarization>BertTiedEmbedding": BertTiedEmbedding,
}
# Lookup only: what Keras writes for these classes stays their keras_attention name.
keras.saving.get_custom_objects().update(FORMER_REGISTERED_NAMES)
