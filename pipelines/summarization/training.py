"""Training a summarizer end to end, into a run directory.

    RUN_DIR/
      config.json               every setting (rebuilds the run)
      tokenizer/                vocabulary.txt + tokenizer.json (warm-started, `--init-from`:
                                documents/ and summaries/, see warm_start_tokenizer.py)
      snapshots/                with --snapshot-minutes: weights every N minutes of training
      model.keras               the trained model (safe_mode=True loadable); written
                                as soon as training ends: its presence marks a finished run
      history.json              per-epoch loss, accuracy, learning rate
      training_curves.png, logs/ (TensorBoard)
      metrics.json              validation loss/accuracy, training time and speed,
                                bad rows, and `test` ROUGE when --test is given
      sample_predictions.jsonl  a few validation predictions beside their references
      evaluation/               test (and later `evaluate`) ROUGE reports and predictions
      checkpoints/, backup/     best weights; resumable state while unfinished

Rerunning the same `train` command on an unfinished run directory resumes it
from its last backup (made every `backup_steps` training steps and at every
epoch end). Under `training.distribute` the model is built and compiled in the
strategy's scope, the batch size is the global batch, and only the chief
writes the run directory (see `pipelines.common.distribution`).
"""

import contextlib
import math
import os
import shutil
import time

import keras
import numpy as np

from pipelines.common.atomic import atomic_path
from pipelines.common.callbacks import TimedSnapshots
from pipelines.common.callbacks import best_weights_if_diverged
from pipelines.common.callbacks import check_finite_weights
from pipelines.common.callbacks import fit_reporting
from pipelines.common.callbacks import read_history
from pipelines.common.callbacks import training_callbacks
from pipelines.common.data_paths import with_recorded_paths
from pipelines.common.distribution import is_multiworker
from pipelines.common.distribution import make_strategy
from pipelines.common.distribution import prepare_model
from pipelines.common.distribution import replicas
from pipelines.common.distribution import shard_by_data
from pipelines.common.distribution import strategy_scope
from pipelines.common.distribution import unreplicated
from pipelines.common.distribution import worker_run_path
from pipelines.common.distribution import writes_run_directory
from pipelines.common.errors import UserInputError
from pipelines.common.plots import plot_training_curves
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.preflight import removed_if_start_fails
from pipelines.common.preflight import undone_if_failed_before_backup
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS
from pipelines.common.run_directory import RunDirectory
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.tokenizer import checkpoint_tokenizer
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.data import make_dataset
from pipelines.summarization.evaluation import SAMPLE_PREDICTIONS_FILE
from pipelines.summarization.evaluation import evaluate_pairs
from pipelines.summarization.evaluation import write_evaluation
from pipelines.summarization.evaluation import write_predictions
from pipelines.summarization.fitting import StepClock
from pipelines.summarization.fitting import compile_summarizer
from pipelines.summarization.learning_rate import WarmupCosineSchedule
from pipelines.summarization.learning_rate import optimizer_step
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.pairs import read_pairs
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary
from pipelines.summarization.trained import Summarizer
from pipelines.summarization.trained import generate
from pipelines.summarization.warm_start import decoder_vocabulary
from pipelines.summarization.warm_start import default_source_layers
from pipelines.summarization.warm_start import load_warm_start_weights
from pipelines.summarization.warm_start_tokenizer import WarmStartTokenizer
from pipelines.summarization.warm_start_tokenizer import load_tokenizer

SAMPLE_COUNT = 20


def prepare_run_directory(run, config, overwrite):
    """Creates, clears or resumes `run`; returns True when resuming."""
    if overwrite:
        run.clear()
        return False
    if run.is_finished():
        raise UserInputError(
            f"{run.path} holds a finished run; pass --overwrite to replace it or choose another --out"
        )
    if run.is_interrupted():
        saved_config = SummarizerConfig.load(run.config_path)
        with_recorded_paths(saved_config.data)  # a run written before paths were recorded absolute
        saved = saved_config.to_dict()
        wanted = config.to_dict()
        saved["model"]["vocabulary_size"] = wanted["model"]["vocabulary_size"]
        # A backup resumes on any number of devices.
        saved["training"]["distribute"] = wanted["training"]["distribute"]
        if saved != wanted:
            raise UserInputError(
                f"{run.path} holds an unfinished run with other settings; rerun its own "
                "command to resume it, or pass --overwrite to start again"
            )
        return True
    if run.has_files():
        raise UserInputError(
            f"{run.path} is not empty and holds no run; choose another --out or pass --overwrite"
        )
    run.create()
    return False


def read_warm_start_checkpoint(config, log):
    """The checkpoint of `--init-from`, its architecture written into `config.model`; or None."""
    model = config.model
    if model.init_from is None:
        return None
    checkpoint = read_checkpoint(model.init_from)
    settings = checkpoint.settings
    log(f"warm start from {checkpoint.name} ({checkpoint.path}, sha256 {checkpoint.sha256[:12]}…)")
    for flag, length in (
        ("--max-document-length", model.max_document_length),
        ("--max-summary-length", model.max_summary_length),
        ("--max-length (generation)", config.generation.max_length),
    ):
        if length > settings.max_positions:
            raise UserInputError(
                f"{flag} {length} exceeds the checkpoint's {settings.max_positions} positions; "
                f"pass {settings.max_positions} or less"
            )
    model.checkpoint = checkpoint.source_record()
    model.encoder = settings.to_dict()
    model.hidden_dim = settings.hidden_dim
    model.num_heads = settings.num_heads
    model.intermediate_dim = settings.intermediate_dim
    model.encoder_layers = settings.num_layers
    model.normalize_first = False
    if model.decoder_source_layers is None:
        model.decoder_source_layers = default_source_layers(model.decoder_layers, settings.num_layers)
    elif len(model.decoder_source_layers) != model.decoder_layers or not all(
        0 <= layer < settings.num_layers for layer in model.decoder_source_layers
    ):
        raise UserInputError(
            f"decoder_source_layers {model.decoder_source_layers} must name {model.decoder_layers} "
            f"checkpoint layers (0 to {settings.num_layers - 1}), one per decoder block; fix the --config file"
        )
    return checkpoint


def warm_start_tokenizer(documents, training_summaries):
    """The checkpoint's tokenizer (`documents`) for documents; the decoder vocabulary for summaries."""
    summaries = SummarizationTokenizer(decoder_vocabulary(documents.vocabulary, training_summaries))
    return WarmStartTokenizer(documents, summaries)


def read_splits(data, log):
    """The train, validation and (optional) test pairs, with bad rows reported."""
    splits = {}
    for name, source in (("train", data.train), ("valid", data.valid), ("test", data.test)):
        if source is None:
            continue
        max_rows = data.max_train_rows if name == "train" else None
        pairs = read_pairs(source, data.document_column, data.summary_column, max_rows=max_rows)
        log(f"{name}: {len(pairs)} pairs; {pairs.bad_rows.describe()}")
        if not len(pairs):
            raise UserInputError(
                f"{source}: no usable (document, summary) rows; check the file and the "
                "--document-column/--summary-column options"
            )
        splits[name] = pairs
    return splits


def token_lengths(tokenizer, pairs):
    """Token counts of the documents and of the summaries (with their `[EOS]`)."""
    document_lengths = tokenizer.tokenize(pairs.documents).row_lengths().numpy()
    summary_lengths = tokenizer.tokenize_summaries(pairs.summaries).row_lengths().numpy() + 1
    return document_lengths, summary_lengths


def tokens_per_epoch(tokenizer, pairs, model_config):
    """Real encoder + decoder tokens in one epoch (after truncation)."""
    document_lengths, summary_lengths = token_lengths(tokenizer, pairs)
    return int(
        np.minimum(document_lengths, model_config.max_document_length).sum()
        + np.minimum(summary_lengths, model_config.max_summary_length).sum()
    )


def truncation_report(tokenizer, pairs, model_config):
    """How many documents and summaries the length limits cut, and the lengths' spread."""
    report = {}
    for name, lengths, limit in zip(
        ("documents", "summaries"), token_lengths(tokenizer, pairs),
        (model_config.max_document_length, model_config.max_summary_length),
    ):
        report[name] = {
            "cut": int((lengths > limit).sum()), "of": len(lengths), "limit": limit,
            "p99_tokens": int(np.percentile(lengths, 99)), "max_tokens": int(lengths.max()),
        }
    return report


def describe_truncation(report):
    return "; ".join(
        f"{name}: {values['cut']} of {values['of']} over {values['limit']} tokens and cut "
        f"(99th percentile {values['p99_tokens']}, longest {values['max_tokens']})"
        for name, values in report.items()
    )


def train(config, out, *, overwrite=False, log=print, backup_steps=DEFAULT_BACKUP_STEPS, verbose="auto"):
    """Trains a summarizer as `config` says and writes the run directory `out`.

    Args:
        config: `SummarizerConfig` (its `data` section names the files).
        out: str. The run directory.
        overwrite: bool. Replace whatever `out` holds.
        log: callable taking one line of progress text.
        backup_steps: int. Training steps between backups (one is also made
            at every epoch end).
        verbose: how `fit` reports (`fit_reporting`): `"auto"` (the default)
            shows Keras's progress bar on a terminal and plain lines when
            output goes elsewhere; `"lines"`, or Keras's 0, 1 or 2.

    Returns:
        The metrics dict written to metrics.json (empty on a multi-worker
        run's non-chief workers, which write no run directory).
    """
    distribute = config.training.distribute
    if distribute == "multiworker" and config.training.max_minutes:
        # Each worker would end the run and set the learning rate by its own clock.
        raise UserInputError(
            "a time budget cannot be kept in step across workers; pass --max-minutes 0 "
            "with --distribute multiworker (and set --epochs)"
        )
    if config.model.coverage_weight and not config.model.copy:
        raise UserInputError(
            "--coverage-weight weighs a loss on the copy attention, which --no-copy removes; "
            "drop --coverage-weight or --no-copy"
        )
    strategy = make_strategy(distribute)  # a bad name or a missing TF_CONFIG fails here
    with_recorded_paths(config.data)
    run = RunDirectory(worker_run_path(out, distribute))
    existed = os.path.lexists(run.path)
    with removed_if_start_fails(run.path):
        check_writable(run.path)
        keras.utils.set_random_seed(config.training.seed)
        splits = read_splits(config.data, log)
        checkpoint = read_warm_start_checkpoint(config, log)
        if checkpoint is not None:  # its tokenizer files checked before the run directory is touched
            documents = checkpoint_tokenizer(checkpoint, config.model.max_document_length, log)
        resuming = prepare_run_directory(run, config, overwrite)
        if resuming:
            log(f"resuming the unfinished run in {run.path}")
            tokenizer = load_tokenizer(run.tokenizer_dir)
        elif checkpoint is not None:
            tokenizer = warm_start_tokenizer(documents, splits["train"].summaries)
            tokenizer.save(run.tokenizer_dir)
            log(
                f"decoder vocabulary: {tokenizer.vocabulary_size} of the checkpoint's "
                f"{tokenizer.document_tokenizer.vocabulary_size} tokens (those of the training summaries)"
            )
        else:
            log("learning the vocabulary from the training documents and summaries ...")
            pairs = splits["train"]
            tokenizer = SummarizationTokenizer(
                learn_vocabulary(pairs.documents + pairs.summaries, config.tokenizer.vocabulary_size)
            )
            tokenizer.save(run.tokenizer_dir)
            log(f"vocabulary: {tokenizer.vocabulary_size} tokens")
        config.model.vocabulary_size = tokenizer.vocabulary_size
        config.save(run.config_path)
        truncation = truncation_report(tokenizer, splits["train"], config.model)
        log(f"training lengths: {describe_truncation(truncation)}")

    undone = (
        contextlib.nullcontext() if resuming
        else undone_if_failed_before_backup(run.path, run.backup_dir, existed, log)
    )
    with undone:
        model, fit_report = fit_model(
            config, run, tokenizer, splits, log, backup_steps, strategy, verbose, checkpoint
        )
    if not writes_run_directory(distribute):
        shutil.rmtree(run.path, ignore_errors=True)
        log(f"worker done; the chief writes {out}")
        return {}
    with atomic_path(run.model_path) as temporary:
        model.save(temporary)
    shutil.rmtree(run.backup_dir, ignore_errors=True)  # kept until the model is safe
    history = read_history(run.history_path)
    if history:
        plot_training_curves(history, run.training_curves_path)
    metrics = report_metrics(config, run, model, tokenizer, splits, fit_report, log)
    metrics["training_lengths"] = truncation
    run.write_json(run.metrics_path, metrics)
    return metrics


def fit_model(
    config, run, tokenizer, splits, log, backup_steps=DEFAULT_BACKUP_STEPS, strategy=None, verbose="auto",
    checkpoint=None,
):
    """Builds, compiles and fits the model; returns it (best weights) and a speed report.

    With a `tf.distribute` strategy the model is built and compiled in its
    scope, and the returned model is an undistributed copy. With a
    `checkpoint` (a warm start) the model starts from its weights.
    """
    training = config.training
    dataset_arguments = dict(
        tokenizer=tokenizer,
        max_document_length=config.model.max_document_length,
        max_summary_length=config.model.max_summary_length,
        batch_size=training.batch_size,
    )
    train_pairs, valid_pairs = splits["train"], splits["valid"]
    train_dataset = make_dataset(
        train_pairs.documents, train_pairs.summaries, shuffle=True, seed=training.seed,
        **dataset_arguments,
    )
    valid_dataset = make_dataset(valid_pairs.documents, valid_pairs.summaries, **dataset_arguments)
    with strategy_scope(strategy):
        model = compile_summarizer(build_summarizer(config.model), training)
        if checkpoint is not None:  # a resumed run's backup then replaces them
            count = load_warm_start_weights(
                model, checkpoint, tokenizer.document_tokenizer.vocabulary, tokenizer.vocabulary,
                config.model.decoder_source_layers,
            )
            log(
                f"warm start: {count} weight tensors from {checkpoint.name}; decoder blocks from "
                f"checkpoint layers {config.model.decoder_source_layers}, cross-attention new"
            )
    check_free_space(run.path, model.count_params())
    train_dataset = shard_by_data(train_dataset, strategy)
    valid_dataset = shard_by_data(valid_dataset, strategy)
    if is_multiworker(strategy):
        prepare_model(model, strategy, next(iter(train_dataset)))
    steps_per_epoch = math.ceil(len(train_pairs) / training.batch_size)
    schedule = WarmupCosineSchedule(
        peak=training.learning_rate,
        warmup_steps=training.warmup_steps,
        total_steps=training.epochs * steps_per_epoch,
        min_ratio=training.min_learning_rate_ratio,
        max_seconds=training.max_minutes * 60 if training.max_minutes else None,
        validation_steps=math.ceil(len(valid_pairs) / training.batch_size),
    )
    os.makedirs(os.path.dirname(run.best_weights_path), exist_ok=True)
    # Backup/resume, best weights by validation loss (restored at the end),
    # TensorBoard logs and history.json; the patience only ends a run whose
    # validation loss has stopped improving.
    clock = StepClock()
    callbacks = [schedule, clock] + training_callbacks(
        run, monitor="val_loss", mode="min", patience=training.patience, backup_steps=backup_steps
    )
    if training.snapshot_minutes:
        callbacks.insert(2, TimedSnapshots(run.snapshots_dir, training.snapshot_minutes))
    log(
        f"model: {model.count_params():,} parameters; {replicas(strategy)} replica(s); "
        f"{steps_per_epoch} steps per epoch, "
        f"at most {training.epochs} epochs"
        + (f" or {training.max_minutes:g} minutes" if training.max_minutes else "")
    )
    start = time.perf_counter()
    # A NaN loss ends fit; how it reports its progress depends on where output goes.
    with best_weights_if_diverged(run.best_weights_path, log), fit_reporting(verbose) as (fit_verbose, reporters):
        model.fit(
            train_dataset, validation_data=valid_dataset, epochs=training.epochs,
            callbacks=callbacks + reporters, verbose=fit_verbose, shuffle=False,  # the dataset shuffles itself
        )
    seconds = time.perf_counter() - start
    # Counted before loading the best weights, which bring back that epoch's optimizer state.
    steps = optimizer_step(model.optimizer)
    if os.path.exists(run.best_weights_path):
        model.load_weights(run.best_weights_path)  # also right after a resumed, finished fit
    check_finite_weights(model, "model.keras")
    if strategy is not None:
        model = unreplicated(
            model, lambda: compile_summarizer(build_summarizer(config.model), training)
        )
    tokens_per_step = tokens_per_epoch(tokenizer, train_pairs, config.model) / steps_per_epoch
    fit_report = {
        "seconds": round(seconds, 1),  # all of `fit`: steps, validation, tracing
        "steps": steps,
        "epochs": round(steps / steps_per_epoch, 2),
        "stopped_on_time_budget": schedule.stopped_on_budget,
        # Real encoder + decoder tokens per second of training steps (after the first).
        "tokens_per_second": round(tokens_per_step * clock.steps / max(clock.seconds, 1e-9), 1),
        "parameters": model.count_params(),
        "train_examples": len(train_pairs),
        "valid_examples": len(valid_pairs),
        "distribute": training.distribute,
        "replicas": replicas(strategy),
    }
    log(
        f"trained {fit_report['epochs']} epochs ({steps} steps) in {seconds / 60:.1f} min, "
        f"{fit_report['tokens_per_second']:.0f} tokens/s"
    )
    return model, fit_report


def report_metrics(config, run, model, tokenizer, splits, fit_report, log):
    """Validation loss/accuracy, sample predictions, and test ROUGE when there is a test set."""
    valid_pairs = splits["valid"]
    valid_dataset = make_dataset(
        valid_pairs.documents, valid_pairs.summaries, tokenizer=tokenizer,
        max_document_length=config.model.max_document_length,
        max_summary_length=config.model.max_summary_length,
        batch_size=config.training.batch_size,
    )
    validation = model.evaluate(valid_dataset, verbose=0, return_dict=True)
    metrics = {
        "validation": {key: round(float(value), 4) for key, value in validation.items()},
        "training": fit_report,
        "bad_rows": {name: pairs.bad_rows.to_dict() for name, pairs in splits.items()},
    }
    summarizer = Summarizer(model, tokenizer, config)
    samples = valid_pairs.documents[:SAMPLE_COUNT]
    log(f"generating {len(samples)} sample summaries of validation dialogues ({SAMPLE_PREDICTIONS_FILE}) ...")
    write_predictions(
        os.path.join(run.path, SAMPLE_PREDICTIONS_FILE), valid_pairs, generate(summarizer, samples)
    )
    if "test" in splits:
        log(f"generating test summaries (beams={config.generation.beams}) ...")
        report, predictions = evaluate_pairs(summarizer, splits["test"])
        rouge_path, _ = write_evaluation(run.path, splits["test"], report, predictions)
        metrics["test"] = report
        log(
            f"test ROUGE-1 {report['rouge1']:.2f}  ROUGE-2 {report['rouge2']:.2f}  "
            f"ROUGE-Lsum {report['rougeLsum']:.2f}  ({rouge_path})"
        )
    return metrics
