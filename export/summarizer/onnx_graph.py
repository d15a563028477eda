"""The summarizer as two ONNX graphs: the encoder, and one cached decoder step.

Built on the summarization pipeline's `InferenceModel` (the trained layers,
same weights), converted with tf2onnx (opset 18, dynamic batch and source axes):

- `encoder.onnx`: `encoder_ids` int32 `[batch, source]` (0 = padding) →
  `encoder_padding_mask` int32 `[batch, source]` and, per decoder layer i,
  `cross_key_values_i` float32 `[batch, 2, source, heads, head_dim]` (the
  cross-attention keys and values, computed once per document).
- `decoder_step.onnx`: `token_ids` int32 `[batch, 1]`, `index` int32 scalar
  (the token's position), `encoder_padding_mask`, `past_key_values_i` float32
  `[batch, 2, max_length, heads, head_dim]` and `cross_key_values_i` →
  `logits` float32 `[batch, vocabulary]` and `present_key_values_i` (the past
  with this step's keys and values written at `index`). The self-attention
  cache has a fixed capacity of `max_length` steps; start from zeros.
- A copying summarizer (`PointerGenerator`): the encoder also outputs what its
  copy head reads, and the decoder step takes it as inputs: `copy_source_ids`
  int32 `[batch, source]` (the source tokens as output ids; 0 is never copied),
  `copy_keys` float32 `[batch, source, key_dim]` (only a copy head with an
  attention of its own, `copy_attention="head"`; one that copies with the last
  block's cross-attention reads that inside the step) and `copy_encoder_outputs`
  float32 `[batch, source, hidden]`. Its `logits` are normalized
  log-probabilities (logits of the same distribution). The copy distribution
  is a `TensorScatterAdd` (ONNX `ScatterND` with `reduction="add"`, opset ≥ 16),
  so repeated source tokens sum as in TensorFlow.

The cache write is a `TensorScatterUpdate` (ONNX `ScatterND`; see
`keras_attention.key_value_cache.write_cache`).
Both files are loaded in onnxruntime and checked against TensorFlow for a few
greedy steps right after writing. `summarizer_onnx_config` is the
`onnx/config.json` that `OnnxSummarizer.load` reads.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from export import layout
from export.onnx_conversion import OnnxExportError
from export.onnx_conversion import convert_function
from export.onnx_metadata import rename_dimensions
from pipelines.decoding.settings import FORBIDDEN_SCORE
from pipelines.summarization.special_tokens import SEARCH_IDS

ENCODER_FILE = "encoder.onnx"
DECODER_STEP_FILE = "decoder_step.onnx"
CHECK_STEPS = 4
LOGITS_TOLERANCE = 1e-4


def cache_shape(inference_model):
    attention = inference_model.decoder_blocks[0].self_attention
    return attention.num_heads, attention.key_dim


COPY_INPUTS = ("copy_source_ids", "copy_keys", "copy_encoder_outputs")  # `CopyMemory`'s fields


def copy_inputs(copy_memory):
    """`{input name: tensor}` of a `CopyMemory`; fields it lacks (None) are no inputs."""
    return {name: value for name, value in zip(COPY_INPUTS, copy_memory) if value is not None}


def encoder_function(inference_model, max_length):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="encoder_ids")])
    def encode(encoder_ids):
        outputs, padding_mask = inference_model.encode(encoder_ids)
        state = inference_model.initial_state(outputs, padding_mask, max_length, encoder_ids)
        named = {"encoder_padding_mask": tf.cast(padding_mask, tf.int32)}
        for index, cache in enumerate(state.cross_attention_caches):
            named[f"cross_key_values_{index}"] = cache
        if state.copy_memory is not None:
            named.update(copy_inputs(state.copy_memory))
        return named

    return encode


def decoder_step_function(inference_model, max_length):
    from pipelines.summarization.inference import CopyMemory
    from pipelines.summarization.inference import DecoderState

    layers = len(inference_model.decoder_blocks)
    heads, head_dim = cache_shape(inference_model)
    signature = [
        tf.TensorSpec([None, 1], tf.int32, name="token_ids"),
        tf.TensorSpec([], tf.int32, name="index"),
        tf.TensorSpec([None, None], tf.int32, name="encoder_padding_mask"),
    ]
    signature += [
        tf.TensorSpec([None, 2, max_length, heads, head_dim], tf.float32, name=f"past_key_values_{i}")
        for i in range(layers)
    ]
    signature += [
        tf.TensorSpec([None, 2, None, heads, head_dim], tf.float32, name=f"cross_key_values_{i}")
        for i in range(layers)
    ]
    copy_specs = copy_input_specs(inference_model)
    signature += copy_specs

    @tf.function(input_signature=signature)
    def decode_step(token_ids, index, encoder_padding_mask, *caches):
        copy_memory = None
        if inference_model.copies:
            given = dict(zip([spec.name for spec in copy_specs], caches[2 * layers :]))
            copy_memory = CopyMemory(*(given.get(name) for name in COPY_INPUTS))
        state = DecoderState(
            tuple(caches[:layers]), tuple(caches[layers : 2 * layers]),
            tf.cast(encoder_padding_mask, tf.bool), copy_memory,
        )
        logits, state = inference_model.decode_step(token_ids, index, state)
        named = {"logits": logits}
        for i, cache in enumerate(state.self_attention_caches):
            named[f"present_key_values_{i}"] = cache
        return named

    return decode_step


def copy_input_specs(inference_model):
    """The decoder step's copy inputs (`COPY_INPUTS` the model's copy head reads)."""
    if not inference_model.copies:
        return []
    # The width of what the decoder attends to: the encoder outputs.
    encoder_dim = inference_model.decoder_blocks[0].cross_attention.key_kernel.shape[0]
    specs = [tf.TensorSpec([None, None], tf.int32, name="copy_source_ids")]
    if inference_model.copy_head.copy_attention == "head":
        key_dim = inference_model.copy_head.key_dense.units
        specs.append(tf.TensorSpec([None, None, key_dim], tf.float32, name="copy_keys"))
    specs.append(tf.TensorSpec([None, None, encoder_dim], tf.float32, name="copy_encoder_outputs"))
    return specs


def convert(function, path, opset):
    return convert_function(function, path, opset, edit=name_dynamic_axes)


def name_dynamic_axes(model_proto):
    """Names the free axes `batch` and `source_sequence` (tf2onnx leaves `unk__N`);
    the cache's length is fixed (`max_length`), the vocabulary too."""
    names = {}
    for value in list(model_proto.graph.input) + list(model_proto.graph.output):
        rank = len(value.type.tensor_type.shape.dim)
        if rank:
            names[(value.name, 0)] = "batch"
        if value.name in ("encoder_ids", "encoder_padding_mask") + COPY_INPUTS:
            names[(value.name, 1)] = "source_sequence"
        elif value.name.startswith("cross_key_values_"):
            names[(value.name, 2)] = "source_sequence"
    rename_dimensions(model_proto, names)


def convert_summarizer(model, directory, max_length, opset=18, check_ids=None):
    """Writes `encoder.onnx` and `decoder_step.onnx` into `directory`; checks them.

    Args:
        model: the Keras summarizer (`build_summarizer` / `model.keras`).
        directory: str. Existing folder to write into.
        max_length: int. Capacity of the self-attention cache (longest summary).
        opset: int. 17 or 18.
        check_ids: int array `(batch, source)` for the check; defaults to a
            small padded batch.

    Returns:
        `(encoder_session, decoder_step_session)` of onnxruntime.
    """
    from pipelines.summarization.inference import InferenceModel

    inference_model = InferenceModel(model)
    encode = encoder_function(inference_model, max_length)
    decode_step = decoder_step_function(inference_model, max_length)
    encoder = convert(encode, os.path.join(directory, ENCODER_FILE), opset)
    step = convert(decode_step, os.path.join(directory, DECODER_STEP_FILE), opset)
    if check_ids is None:
        check_ids = np.array([[7, 8, 9, 10, 11], [12, 13, 0, 0, 0]], dtype=np.int32)
    check_against_tensorflow(encoder, step, encode, decode_step, check_ids)
    return encoder, step


def session_outputs(session, feeds):
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def check_against_tensorflow(encoder, step, encode, decode_step, encoder_ids, steps=CHECK_STEPS):
    """Greedy steps in onnxruntime and TensorFlow from the same start; raises on a difference."""
    encoded = session_outputs(encoder, {"encoder_ids": encoder_ids})
    layers = len([name for name in encoded if name.startswith("cross_key_values_")])
    for name, value in encode(tf.constant(encoder_ids)).items():
        difference = float(np.max(np.abs(encoded[name] - value.numpy())))
        if not difference <= LOGITS_TOLERANCE:
            raise OnnxExportError(f"encoder.onnx output {name} differs from TensorFlow by {difference:.2e}")
    past_spec = decode_step.input_signature[3]
    past = {
        f"past_key_values_{i}": np.zeros([len(encoder_ids)] + past_spec.shape.as_list()[1:], np.float32)
        for i in range(layers)
    }
    token_ids = np.full((len(encoder_ids), 1), 1, dtype=np.int32)
    for index in range(steps):
        # The padding mask, cross-attention caches and (copying models) the copy inputs.
        feeds = {"token_ids": token_ids, "index": np.array(index, np.int32), **past, **encoded}
        onnx_outputs = session_outputs(step, feeds)
        ordered = [feeds[spec.name] for spec in decode_step.input_signature]
        tf_outputs = decode_step(*[tf.constant(value) for value in ordered])
        difference = float(np.max(np.abs(onnx_outputs["logits"] - tf_outputs["logits"].numpy())))
        if not difference <= LOGITS_TOLERANCE:
            raise OnnxExportError(
                f"decoder_step.onnx logits differ from TensorFlow by {difference:.2e} at step {index}"
            )
        past = {f"past_key_values_{i}": onnx_outputs[f"present_key_values_{i}"] for i in range(layers)}
        token_ids = onnx_outputs["logits"].argmax(axis=-1).astype(np.int32)[:, None]


def summarizer_onnx_config(run, opset):
    """`onnx/config.json`: everything `OnnxSummarizer.load` and other clients need."""
    from pipelines.summarization.inference import InferenceModel

    inference = InferenceModel(run.model)
    heads, head_dim = cache_shape(inference)
    generation = run.search_options(run.beams)
    config = {
        "task": run.task,
        "encoder_file": ENCODER_FILE,
        "decoder_step_file": DECODER_STEP_FILE,
        "tokenizer_file": os.path.basename(layout.ONNX_TOKENIZER),
        # A warm-started run's documents: the checkpoint's tokenizer (None: `tokenizer_file`).
        "document_tokenizer_file": (
            os.path.basename(layout.ONNX_DOCUMENT_TOKENIZER) if run.is_warm_started else None
        ),
        "max_document_length": run.max_document_length,
        "generation": generation.to_dict(),  # `DecodingSettings`
        "special_ids": dataclasses.asdict(SEARCH_IDS),  # `SpecialIds`
        "forbidden_score": FORBIDDEN_SCORE,
        "decoder_layers": len(inference.decoder_blocks),
        "cache_shape": [2, generation.max_length, heads, head_dim],
        "opset": opset,
        "encoder": {
            "inputs": {"encoder_ids": "int32 [batch, source]; 0 = [PAD]"},
            "outputs": {
                "encoder_padding_mask": "int32 [batch, source]",
                "cross_key_values_i": "float32 [batch, 2, source, heads, head_dim], one per decoder layer",
            },
        },
        "decoder_step": {
            "inputs": {
                "token_ids": "int32 [batch, 1]; the token at position index ([BOS] at 0)",
                "index": "int32 scalar",
                "encoder_padding_mask": "from the encoder",
                "past_key_values_i": "float32 [batch] + cache_shape; zeros before the first step",
                "cross_key_values_i": "from the encoder",
            },
            "outputs": {
                "logits": "float32 [batch, vocabulary]; of the token at index + 1",
                "present_key_values_i": "past_key_values_i with this step written at index",
            },
        },
        "copies": inference.copies,
    }
    if inference.copies:
        config["copy_attention"] = inference.copy_head.copy_attention
        descriptions = {
            "copy_source_ids": "int32 [batch, source]; the source tokens as output ids, 0 = never copied",
            "copy_keys": "float32 [batch, source, key_dim]; the copy attention's keys",
            "copy_encoder_outputs": "float32 [batch, source, hidden]",
        }
        copy_outputs = {spec.name: descriptions[spec.name] for spec in copy_input_specs(inference)}
        config["encoder"]["outputs"].update(copy_outputs)
        config["decoder_step"]["inputs"].update({name: "from the encoder" for name in copy_outputs})
        config["decoder_step"]["outputs"]["logits"] = (
            "float32 [batch, vocabulary]; normalized log-probabilities of the token at index + 1 "
            "(the copy mixture; logits of the same distribution)"
        )
    return config
