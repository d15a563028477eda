"""The layout of an exported version, the one place that names its files.

    saved_models/NAME/VERSION/          TF Serving's model_base_path/NAME/VERSION
      saved_model.pb, fingerprint.pb    the SavedModel (signatures: see TASK/saved_model.py)
      batching_params.pbtxt             TF Serving's per-model batching (export/batching.py)
      variables/                        its weights
      assets/vocabulary.txt             the WordPiece vocabulary (for clients sending token ids)
      assets.extra/tf_serving_warmup_requests
                                        PredictionLog records TF Serving replays at load
      onnx/classifier.onnx              classifier: token_ids + attention_mask → probabilities
                                        (standard ONNX ops, any ONNX runtime; OnnxClassifier's)
      onnx/classifier.onnxruntime.onnx  the same graph with onnxruntime's fused contrib ops
                                        (export/onnx_fusion.py)
      onnx/encoder.onnx                 summarizer: encoder_ids → cross-attention keys/values
      onnx/decoder_step.onnx            summarizer: one cached decoder step → logits
      onnx/*.int8.onnx                  with --quantize int8: each file above with int8 weights
                                        (onnxruntime dynamic quantization, export/quantization.py)
      onnx/tokenizer.json               Hugging Face `tokenizers` file, same ids as tensorflow-text
      onnx/document_tokenizer.json      warm-started summarizer: the checkpoint's, for documents
      onnx/config.json                  task, labels or generation settings, input/output names, opset
      model_card.json, MODEL_CARD.md    task, labels, run metrics, vocabulary hash, versions
      parity.json                       the parity gate's report

TF Serving loads only all-digit version folders, so the staging and rejected
folders that export keeps beside them (`.staging-*`, `rejected-*`) are never served.
"""

import os
import re

from pipelines.common.errors import UserInputError

SAVED_MODEL_FILE = "saved_model.pb"
ASSETS_DIR = "assets"
VOCABULARY_ASSET = os.path.join(ASSETS_DIR, "vocabulary.txt")
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
BATCHING_PARAMETERS_FILE = "batching_params.pbtxt"  # where TF Serving looks: beside saved_model.pb
ONNX_DIR = "onnx"
ONNX_CLASSIFIER = os.path.join(ONNX_DIR, "classifier.onnx")
ONNX_CLASSIFIER_ONNXRUNTIME = os.path.join(ONNX_DIR, "classifier.onnxruntime.onnx")
ONNX_TOKENIZER = os.path.join(ONNX_DIR, "tokenizer.json")
ONNX_DOCUMENT_TOKENIZER = os.path.join(ONNX_DIR, "document_tokenizer.json")
ONNX_CONFIG = os.path.join(ONNX_DIR, "config.json")
INT8_SUFFIX = ".int8.onnx"
MODEL_CARD_JSON = "model_card.json"
MODEL_CARD_MARKDOWN = "MODEL_CARD.md"
PARITY_REPORT = "parity.json"

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def int8_onnx_file(file_name):
    """The name of the int8 file quantized from the float ONNX file `file_name`
    (`classifier.onnx` → `classifier.int8.onnx`), kept beside it in `onnx/`."""
    stem, extension = os.path.splitext(file_name)
    if extension != ".onnx":
        raise ValueError(f"expected an .onnx file name. Received: file_name={file_name!r}")
    return stem + INT8_SUFFIX


def validate_model_name(name):
    """Returns `name` if it is a safe single folder name; raises a user error otherwise."""
    # fullmatch: `$` in `match` would also accept a name ending in a newline.
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or name in (".", ".."):
        raise UserInputError(
            f"invalid model name {name!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no path separators)"
        )
    return name


def validate_version(version):
    if isinstance(version, bool) or not isinstance(version, int) or version <= 0:
        raise UserInputError(f"invalid version {version!r}: use a positive integer, e.g. --version 1")
    return version


def existing_versions(model_dir):
    """The version numbers already published under `model_dir` (all-digit folders)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def next_version(model_dir):
    """One more than the highest published version, or 1."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1
