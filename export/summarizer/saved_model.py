"""The summarizer as a TF Serving-ready SavedModel: dialogues in, summaries out.

Signatures (dynamic batch; generation runs inside the graph):

- `serving_default`: `texts` (string, [batch]) → `summary` (string, [batch]),
  the text `python -m pipelines.summarization summarize --beams 1` prints, and
  `summary_ids` (int32, [batch, max_length]: tokens, `[EOS]`, then 0).
  Greedy search with the run's generation settings (minimum and maximum
  length, no-repeat n-gram size).
- `beam_search`: the same with beam search (the run's beam width, 4 if it
  decodes greedily; length penalty from the run). The width is fixed per
  signature: the search keeps static `[batch, beams, ...]` shapes, and TF
  Serving clients choose a signature by name rather than pass a shape-changing
  scalar.
- `generate_token_ids`, `beam_search_token_ids`: `token_ids` (int32, [batch,
  length], 0 = padding, cut to the model's `max_document_length`) →
  `summary_ids` and `summary` (lower-case: truecasing needs the dialogue).
- `tokenize`: `texts` → `token_ids` (int32, [batch, length]), what the text
  signatures feed the model before cutting.

Tokenization (tensorflow-text), the search loops (`pipelines.decoding.tf_search`
with the decoder's key/value cache), detokenization and truecasing
(`pipelines.summarization.postprocessing.graph_text`) are all graph ops; there
is no Python at serving time. The graph is not XLA-compiled (the tokenizer ops
have no XLA kernels), and it holds no XLA op: the cache write is a
`TensorScatterUpdate`, so the stock TF Serving model server runs it
(`export.serving_ops` lists the ops; tests check every signature).
"""

import tensorflow as tf

from export.serving import SERVING_DEFAULT
from export.serving import TEXTS_INPUT
from export.serving import TEXTS_SPEC
from export.serving import TOKEN_IDS_INPUT
from export.serving import TOKEN_IDS_SPEC
from export.serving import TOKENIZE
from export.serving import write_saved_model
from pipelines.summarization.postprocessing.graph_text import restore_document_form_batch

BEAM_SEARCH = "beam_search"
GENERATE_TOKEN_IDS = "generate_token_ids"
BEAM_SEARCH_TOKEN_IDS = "beam_search_token_ids"
SUMMARY_OUTPUT = "summary"
SUMMARY_IDS_OUTPUT = "summary_ids"
TEXT_SIGNATURES = {"greedy": SERVING_DEFAULT, "beam": BEAM_SEARCH}
TOKEN_ID_SIGNATURES = {"greedy": GENERATE_TOKEN_IDS, "beam": BEAM_SEARCH_TOKEN_IDS}


def encoder_ids(token_ids, max_document_length):
    """Ids cut to the model's input length, with at least one (padding) column."""
    token_ids = token_ids[:, :max_document_length]
    missing = tf.maximum(1 - tf.shape(token_ids)[1], 0)
    return tf.pad(token_ids, [[0, 0], [0, missing]])


def summarizer_endpoints(run):
    """The signature functions of a `SummarizerRun` (plain Python callables over tensors)."""
    from pipelines.summarization.generation import Generator

    tokenizer = run.tokenizer
    max_document_length = run.max_document_length
    generators = {
        search: Generator(
            run.model, run.search_options(beams), max_document_length=max_document_length,
            jit_compile=False,
        )
        for search, beams in (("greedy", 1), ("beam", run.beams))
    }

    def compiled_search(generator):
        # One trace of the search loop, called by both signatures of a search.
        return tf.function(
            lambda token_ids: generator.search(encoder_ids(token_ids, max_document_length)),
            input_signature=[TOKEN_IDS_SPEC],
        )

    def ids_endpoint(search):
        def generate_token_ids(token_ids):
            summary_ids = search(token_ids)
            return {SUMMARY_IDS_OUTPUT: summary_ids, SUMMARY_OUTPUT: tokenizer.detokenize(summary_ids)}

        return generate_token_ids

    def text_endpoint(search):
        def summarize(texts):
            summary_ids = search(tokenizer.tokenize(texts)[:, :max_document_length].to_tensor())
            summary = restore_document_form_batch(tokenizer.detokenize(summary_ids), texts)
            return {SUMMARY_OUTPUT: summary, SUMMARY_IDS_OUTPUT: summary_ids}

        return summarize

    def tokenize(texts):
        return {TOKEN_IDS_INPUT: tokenizer.tokenize(texts).to_tensor()}

    endpoints = {TOKENIZE: (tokenize, TEXTS_SPEC)}
    for name, generator in generators.items():
        search = compiled_search(generator)
        endpoints[TEXT_SIGNATURES[name]] = (text_endpoint(search), TEXTS_SPEC)
        endpoints[TOKEN_ID_SIGNATURES[name]] = (ids_endpoint(search), TOKEN_IDS_SPEC)
    return endpoints


def write_summarizer_saved_model(run, directory):
    """Writes the SavedModel of a `SummarizerRun` into `directory` (which must be empty)."""
    write_saved_model(run, directory, summarizer_endpoints(run))


def summarizer_warmup_inputs(texts, tokenizer):
    """`(signature, inputs)` pairs for one dialogue per signature (TF Serving warmup)."""
    batch = tf.constant([texts[0]], tf.string)
    token_ids = tokenizer.tokenize(batch).to_tensor().numpy()
    pairs = [(TOKENIZE, {TEXTS_INPUT: batch.numpy()})]
    for search in ("greedy", "beam"):
        pairs.append((TEXT_SIGNATURES[search], {TEXTS_INPUT: batch.numpy()}))
        pairs.append((TOKEN_ID_SIGNATURES[search], {TOKEN_IDS_INPUT: token_ids}))
    return pairs
