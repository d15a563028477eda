"""The summarizer's route through a machine without TensorFlow.

    prepare_arrays   (TensorFlow) data → tokenizer + teacher-forcing arrays
                     (`pipelines.common.array_bundle` describes the folder)
    pipelines.summarization.jax_training  (Keras on JAX, no TensorFlow) arrays → weights
    import_weights   (TensorFlow) bundle + weights → a run directory that
                     `evaluate`, `summarize` and `export` read like any other

`import_weights` first checks that the weights, loaded here, reproduce the
outputs the training machine recorded for the same inputs.
"""

import os
import shutil

import numpy as np

from pipelines.common import array_bundle
from pipelines.common.atomic import atomic_path
from pipelines.common.errors import UserInputError
from pipelines.common.plots import plot_training_curves
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_files import check_finite_model
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.data import tokenized_examples
from pipelines.summarization.fitting import compile_summarizer
from pipelines.summarization.model import DECODER_IDS
from pipelines.summarization.model import ENCODER_IDS
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary
from pipelines.summarization.training import prepare_run_directory
from pipelines.summarization.training import read_splits
from pipelines.summarization.training import report_metrics
from pipelines.summarization.training import tokens_per_epoch

PIPELINE = "summarization"
# |Δ| allowed between the training machine's logits and this one's: float32
# sums in another order, on another device.
PARITY_TOLERANCE = 1e-3


def teacher_forcing_arrays(pairs, tokenizer, model_config):
    """`{"encoder_ids", "decoder_ids", "labels"}`: int32, 0-padded to the longest row."""
    dataset = tokenized_examples(
        pairs.documents, pairs.summaries, tokenizer,
        model_config.max_document_length, model_config.max_summary_length,
    )
    inputs, labels = dataset.padded_batch(len(pairs)).get_single_element()
    return {
        ENCODER_IDS: inputs[ENCODER_IDS].numpy(),
        DECODER_IDS: inputs[DECODER_IDS].numpy(),
        "labels": labels.numpy(),
    }


def prepare_arrays(config, out, *, overwrite=False, log=print):
    """Tokenizes the train and valid splits of `config.data` into an array bundle `out`.

    Returns:
        The bundle's manifest (`bundle.json`).
    """
    if config.model.init_from is not None:
        raise UserInputError(
            "the array bundle holds a from-scratch model's vocabulary; a warm start (init_from) "
            "trains with `python -m pipelines.summarization train --init-from`"
        )
    splits = read_splits(config.data, log)
    array_bundle.prepare_output_directory(
        out, overwrite, (array_bundle.MANIFEST_FILE, array_bundle.CONFIG_FILE)
    )
    log("learning the vocabulary from the training documents and summaries ...")
    train_pairs = splits["train"]
    tokenizer = SummarizationTokenizer(
        learn_vocabulary(
            train_pairs.documents + train_pairs.summaries, config.tokenizer.vocabulary_size
        )
    )
    tokenizer.save(os.path.join(out, array_bundle.TOKENIZER_DIR))
    config.model.vocabulary_size = tokenizer.vocabulary_size
    config.save(os.path.join(out, array_bundle.CONFIG_FILE))
    arrays = {}
    for name in ("train", "valid"):
        for key, value in teacher_forcing_arrays(splits[name], tokenizer, config.model).items():
            arrays[f"{name}_{key}"] = value
    manifest = {
        "pipeline": PIPELINE,
        "examples": {name: len(splits[name]) for name in ("train", "valid")},
        "tokens_per_epoch": tokens_per_epoch(tokenizer, train_pairs, config.model),
        "bad_rows": {name: pairs.bad_rows.to_dict() for name, pairs in splits.items()},
    }
    array_bundle.write_arrays(out, arrays, manifest)
    log(
        f"bundle: {out} ({manifest['examples']['train']} training and "
        f"{manifest['examples']['valid']} validation examples)"
    )
    return manifest


def load_trained_model(bundle, weights):
    """The bundle's model with the trained weights, compiled, and its parity report.

    Raises:
        UserInputError: when the weights do not fit the bundle's model or do
            not reproduce the recorded outputs.
    """
    config = SummarizerConfig.load(os.path.join(bundle, array_bundle.CONFIG_FILE))
    model = build_summarizer(config.model)
    weights_path = os.path.join(weights, array_bundle.WEIGHTS_FILE)
    if not os.path.exists(weights_path):
        raise UserInputError(
            f"{weights_path} not found; point at the --out of a finished "
            "`pipelines.summarization.jax_training` run"
        )
    try:
        model.load_weights(weights_path)
    except ValueError as error:
        raise UserInputError(
            f"{weights_path} does not fit the model of {bundle} ({error}); pass the bundle "
            "the weights were trained from"
        ) from None
    check_finite_model(model, weights_path)
    parity = output_parity(model, weights)
    return compile_summarizer(model, config.training), parity


def output_parity(model, weights):
    """Max |Δ| between this model's logits and the recorded ones on the same inputs."""
    with np.load(os.path.join(weights, array_bundle.REFERENCE_FILE)) as reference:
        inputs = {ENCODER_IDS: reference[ENCODER_IDS], DECODER_IDS: reference[DECODER_IDS]}
        expected = reference["logits"]
    logits = np.asarray(model(inputs, training=False))
    real = inputs[DECODER_IDS] != 0  # padded steps are masked everywhere else
    difference = float(np.max(np.abs(logits - expected)[real]))
    if not difference <= PARITY_TOLERANCE:
        raise UserInputError(
            f"the weights in {weights} give logits up to {difference:.2e} away from the ones "
            f"recorded when training (tolerance {PARITY_TOLERANCE:g}); were they trained "
            "from this bundle?"
        )
    return {"max_abs_logit_difference": difference, "positions": int(real.sum())}


def import_weights(bundle, weights, out, *, overwrite=False, log=print):
    """Builds the run directory `out` from a bundle and the weights trained from it.

    Returns:
        The metrics dict written to metrics.json.
    """
    array_bundle.read_manifest(bundle, PIPELINE)
    training_report = array_bundle.read_json(os.path.join(weights, array_bundle.TRAINING_FILE))
    model, parity = load_trained_model(bundle, weights)
    log(
        "weights reproduce the training machine's logits: max |Δ| "
        f"{parity['max_abs_logit_difference']:.1e}"
    )
    config = SummarizerConfig.load(os.path.join(bundle, array_bundle.CONFIG_FILE))
    for key, value in training_report["settings"].items():
        setattr(config.training, key, value)  # what the weights were trained with
    run = RunDirectory(out)
    if prepare_run_directory(run, config, overwrite):
        raise UserInputError(
            f"{run.path} holds an unfinished `train` run; choose another --out or pass --overwrite"
        )
    splits = read_splits(config.data, log)
    shutil.copytree(
        os.path.join(bundle, array_bundle.TOKENIZER_DIR), run.tokenizer_dir, dirs_exist_ok=True
    )
    tokenizer = SummarizationTokenizer.load(run.tokenizer_dir)
    config.save(run.config_path)
    shutil.copyfile(os.path.join(weights, array_bundle.HISTORY_FILE), run.history_path)
    history = array_bundle.read_json(run.history_path)["epochs"]
    if history:
        plot_training_curves(history, run.training_curves_path)
    with atomic_path(run.model_path) as temporary:
        model.save(temporary)
    fit_report = dict(training_report["fit"], parity_with_training_machine=parity)
    metrics = report_metrics(config, run, model, tokenizer, splits, fit_report, log)
    run.write_json(run.metrics_path, metrics)
    return metrics
