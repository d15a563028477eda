"""Training a summarizer end to end, into a run directory.

    RUN_DIR/
      config.json               every setting (rebuilds the run)
      tokenizer/                vocabulary.txt + tokenizer.json
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
epoch end).
"""

import math
import os
import shutil
import time

import keras
import numpy as np

from pipelines.common.atomic import atomic_path
from pipelines.common.callbacks import read_history
from pipelines.common.callbacks import training_callbacks
from pipelines.common.errors import UserInputError
from pipelines.common.optimizers import NOT_DECAYED
from pipelines.common.plots import plot_training_curves
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS
from pipelines.common.run_directory import RunDirectory
from pipelines.summarization.config import SummarizerConfig
from pipelines.summarization.data import read_pairs
from pipelines.summarization.datasets import make_dataset
from pipelines.summarization.evaluation import SAMPLE_PREDICTIONS_FILE
from pipelines.summarization.evaluation import evaluate_pairs
from pipelines.summarization.evaluation import write_evaluation
from pipelines.summarization.evaluation import write_predictions
from pipelines.summarization.learning_rate import WarmupCosineSchedule
from pipelines.summarization.losses import SmoothedSparseCrossEntropy
from pipelines.summarization.model import build_summarizer
from pipelines.summarization.summarizer import Summarizer
from pipelines.summarization.summarizer import generate
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary

SAMPLE_COUNT = 20


def compile_summarizer(model, training):
    """Compiles for `fit`: AdamW, label-smoothed loss and token accuracy over real tokens.

    The learning rate is set every batch by `WarmupCosineSchedule`; norms and
    biases get no weight decay.
    """
    optimizer = keras.optimizers.AdamW(
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        beta_2=0.98,
        global_clipnorm=training.gradient_clip_norm,
    )
    optimizer.exclude_from_weight_decay(var_names=NOT_DECAYED)
    model.compile(
        optimizer=optimizer,
        loss=SmoothedSparseCrossEntropy(label_smoothing=training.label_smoothing),
        # Weighted by the datasets' sample_weight: padding counts for nothing.
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=training.jit_compile,
    )
    return model


class StepClock(keras.callbacks.Callback):
    """Seconds spent in training steps after the first (which also traces the graph)."""

    def __init__(self):
        super().__init__()
        self.seconds = 0.0
        self.steps = 0
        self._traced = False

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self._traced:
            self.seconds += time.perf_counter() - self._start
            self.steps += 1
        self._traced = True


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
        saved = SummarizerConfig.load(run.config_path).to_dict()
        wanted = config.to_dict()
        saved["model"]["vocabulary_size"] = wanted["model"]["vocabulary_size"]
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


def tokens_per_epoch(tokenizer, pairs, model_config):
    """Real encoder + decoder tokens in one epoch (after truncation)."""
    document_lengths = tokenizer.tokenize(pairs.documents).row_lengths().numpy()
    summary_lengths = tokenizer.tokenize(pairs.summaries).row_lengths().numpy() + 1
    return int(
        np.minimum(document_lengths, model_config.max_document_length).sum()
        + np.minimum(summary_lengths, model_config.max_summary_length).sum()
    )


def train(config, out, *, overwrite=False, log=print, backup_steps=DEFAULT_BACKUP_STEPS):
    """Trains a summarizer as `config` says and writes the run directory `out`.

    Args:
        config: `SummarizerConfig` (its `data` section names the files).
        out: str. The run directory.
        overwrite: bool. Replace whatever `out` holds.
        log: callable taking one line of progress text.
        backup_steps: int. Training steps between backups (one is also made
            at every epoch end).

    Returns:
        The metrics dict written to metrics.json.
    """
    run = RunDirectory(out)
    check_writable(run.path)
    keras.utils.set_random_seed(config.training.seed)
    splits = read_splits(config.data, log)
    resuming = prepare_run_directory(run, config, overwrite)
    if resuming:
        log(f"resuming the unfinished run in {run.path}")
        tokenizer = SummarizationTokenizer.load(run.tokenizer_dir)
    else:
        log("learning the vocabulary from the training documents and summaries ...")
        pairs = splits["train"]
        tokenizer = SummarizationTokenizer(
            learn_vocabulary(pairs.documents + pairs.summaries, config.tokenizer.vocabulary_size)
        )
        tokenizer.save(run.tokenizer_dir)
    config.model.vocabulary_size = tokenizer.vocabulary_size
    config.save(run.config_path)

    model, fit_report = fit_model(config, run, tokenizer, splits, log, backup_steps)
    with atomic_path(run.model_path) as temporary:
        model.save(temporary)
    shutil.rmtree(run.backup_dir, ignore_errors=True)  # kept until the model is safe
    history = read_history(run.history_path)
    if history:
        plot_training_curves(history, run.training_curves_path)
    metrics = report_metrics(config, run, model, tokenizer, splits, fit_report, log)
    run.write_json(run.metrics_path, metrics)
    return metrics


def fit_model(config, run, tokenizer, splits, log, backup_steps=DEFAULT_BACKUP_STEPS):
    """Builds, compiles and fits the model; returns it (best weights) and a speed report."""
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
    model = compile_summarizer(build_summarizer(config.model), training)
    check_free_space(run.path, model.count_params())
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
    log(
        f"model: {model.count_params():,} parameters; {steps_per_epoch} steps per epoch, "
        f"at most {training.epochs} epochs"
        + (f" or {training.max_minutes:g} minutes" if training.max_minutes else "")
    )
    start = time.perf_counter()
    model.fit(
        train_dataset, validation_data=valid_dataset, epochs=training.epochs,
        callbacks=callbacks, verbose=1, shuffle=False,  # the dataset shuffles itself
    )
    seconds = time.perf_counter() - start
    # Counted before loading the best weights, which bring back that epoch's optimizer state.
    steps = int(model.optimizer.iterations)
    if os.path.exists(run.best_weights_path):
        model.load_weights(run.best_weights_path)  # also right after a resumed, finished fit
    tokens_per_step = tokens_per_epoch(tokenizer, train_pairs, config.model) / steps_per_epoch
    fit_report = {
        "seconds": round(seconds, 1),  # all of `fit`: steps, validation, tracing
        "steps": steps,
        "epochs": round(steps / steps_per_epoch, 2),
        "stopped_on_time_budget": schedule.stopped_on_budget,
        # Real encoder + decoder tokens per second of training steps (after the first).
        "tokens_per_second": round(tokens_per_step * clock.steps / max(clock.seconds, 1e-9), 1),
        "parameters": model.count_params(),
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
