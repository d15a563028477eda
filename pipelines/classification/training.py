"""Training a classifier end to end into a run directory (what `train` runs).

Read the tables (bad rows counted) → learn the WordPiece vocabulary on the
training texts → build and compile the model → `model.fit` with validation each
epoch → keep the best weights → write model, metrics, history and plots.

Under `training.distribute` the model is built and compiled in the strategy's
scope and the batch size is the global batch; only the chief writes the run
directory (see `pipelines.common.distribution`).

A run killed part-way leaves `config.json`, the tokenizer and a `backup/`
folder (rewritten every `backup_steps` steps and at every epoch end); running
the same command again resumes from the last backup.
"""

import contextlib
import dataclasses
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from pipelines.classification.config import ClassifierConfig
from pipelines.classification.data import EVALUATION_BATCH_SIZE
from pipelines.classification.data import length_ordered_dataset
from pipelines.classification.data import make_dataset
from pipelines.classification.labels import LabelEncoder
from pipelines.classification.model import build_classifier
from pipelines.classification.model import compile_classifier
from pipelines.classification.text_classifier import TextClassifier
from pipelines.classification.text_classifier import apply_checkpoint_settings
from pipelines.classification.trained import TrainedClassifier
from pipelines.classification.trained import save_finished_run
from pipelines.common.callbacks import best_record
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
from pipelines.common.hardware import describe_devices
from pipelines.common.hardware import set_precision
from pipelines.common.optimizers import optimizer_step
from pipelines.common.preflight import check_free_space
from pipelines.common.preflight import check_writable
from pipelines.common.preflight import removed_if_start_fails
from pipelines.common.preflight import undone_if_failed_before_backup
from pipelines.common.run_directory import DEFAULT_BACKUP_STEPS
from pipelines.common.run_directory import RunDirectory
from pipelines.common.tables import read_table
from pipelines.common.tokenizer import build_tokenizer
from pipelines.common.run_tokenizer import load_tokenizer
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.encoder import freeze_token_embeddings
from pipelines.pretrained.tokenizer import checkpoint_tokenizer

MONITOR = "val_accuracy"


def train_classifier(
    config,
    out,
    *,
    overwrite=False,
    callbacks=(),
    verbose="auto",
    log=print,
    backup_steps=DEFAULT_BACKUP_STEPS,
):
    """Trains into run directory `out` (resuming an interrupted run there).

    Args:
        config: `ClassifierConfig`. `data.train`, `data.valid` (and optionally
            `data.test`) name the sources.
        out: str. The run directory.
        overwrite: bool. Replace a finished or interrupted run in `out`.
        callbacks: extra Keras callbacks for `fit`.
        verbose: how `fit` reports (`fit_reporting`): `"auto"` (the default)
            shows Keras's progress bar on a terminal and plain lines when
            output goes elsewhere; `"lines"`, or Keras's 0, 1 or 2.
        log: callable for progress messages. Defaults to `print`.
        backup_steps: int. Training steps between backups (one is also made
            at every epoch end). Defaults to `DEFAULT_BACKUP_STEPS`.

    Returns:
        The metrics dict also written to `metrics.json` (empty on a
        multi-worker run's non-chief workers, which write no run directory).
    """
    if config.training.freeze_token_embeddings and config.model.init_from is None:
        raise UserInputError(
            "--freeze-token-embeddings keeps pretrained embeddings fixed; add --init-from or drop it"
        )
    distribute = config.training.distribute
    strategy = make_strategy(distribute)  # a bad name or a missing TF_CONFIG fails here
    # Read (and validated) before the run directory is made: a bad checkpoint leaves nothing behind.
    checkpoint, checkpoint_tokenizer = read_pretrained_checkpoint(config, log)
    with_recorded_paths(config.data)
    run = RunDirectory(worker_run_path(out, distribute))
    existed = os.path.lexists(run.path)
    with removed_if_start_fails(run.path):
        check_writable(run.path)
        config, resuming = prepare_run_directory(run, config, overwrite, log)
        tables = read_tables(config.data, log)
        labels = (
            LabelEncoder(config.data.class_names)
            if resuming
            else LabelEncoder.fit(tables["train"].labels)
        )
        splits = {name: labels.encode_table(table) for name, table in tables.items()}
        for name, table in tables.items():
            log(f"{name}: {len(splits[name][0])} rows; " + table.bad_rows.describe())
        require_rows(splits, config.data)
        splits["train"] = sample_rows(splits["train"], config.data.train_sample, config.training.seed, log)
        tokenizer = prepare_tokenizer(run, config, splits["train"][0], resuming, log, checkpoint_tokenizer)
        if not resuming:
            config.data.class_names = labels.class_names
            config.model.num_classes = labels.num_classes
            config.model.vocabulary_size = tokenizer.vocabulary_size
            config.model.max_length = tokenizer.max_length
            config.save(run.config_path)

    previous_policy = keras.mixed_precision.global_policy()
    try:
        policy = set_precision(config.training.mixed_precision)
        log(f"{describe_devices()}; {replicas(strategy)} replica(s); dtype policy {policy}")
        keras.utils.set_random_seed(config.training.seed)
        undone = (
            contextlib.nullcontext() if resuming
            else undone_if_failed_before_backup(run.path, run.backup_dir, existed, log)
        )
        with undone:
            model, fit_seconds, optimizer_steps = fit_classifier(
                run,
                config,
                tokenizer,
                splits,
                callbacks,
                verbose,
                backup_steps,
                strategy,
                checkpoint=None if resuming else checkpoint,  # a resumed run restores its backup
                log=log,
            )
        if not writes_run_directory(distribute):
            shutil.rmtree(run.path, ignore_errors=True)
            log(f"worker done; the chief writes {out}")
            return {}
        classifier = TrainedClassifier(config, tokenizer, model)
        metrics = evaluation_metrics(classifier, splits, log, verbose)
        metrics["bad_rows"] = {name: table.bad_rows.to_dict() for name, table in tables.items()}
        metrics["training"] = training_summary(
            run, config, splits, fit_seconds, optimizer_steps, policy, strategy
        )
        save_finished_run(run, config, model, metrics)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    log(f"finished: {run.path}")
    return metrics


def prepare_run_directory(run, config, overwrite, log):
    """Returns (the config to use, whether an interrupted run is resumed)."""
    if overwrite and run.has_files():
        if not (run.is_finished() or run.is_interrupted()):
            raise UserInputError(
                f"{run.path} holds files but no run; refusing to delete them — choose another --out"
            )
        run.clear()
        return config, False
    if run.is_finished():
        raise UserInputError(
            f"{run.path} already holds a finished run; choose another --out or pass --overwrite"
        )
    if run.is_interrupted():
        saved = ClassifierConfig.load(run.config_path)
        with_recorded_paths(saved.data)  # a run written before paths were recorded absolute
        check_same_settings(run, saved, config)
        saved.training.epochs = config.training.epochs
        saved.training.distribute = config.training.distribute
        log(f"resuming the interrupted run in {run.path}")
        return saved, True
    if run.has_files():
        raise UserInputError(
            f"{run.path} is not empty and holds no run; choose another --out"
        )
    run.create()
    return config, False


def check_same_settings(run, saved, requested):
    """An interrupted run resumes only with the settings it started with."""
    requested = ClassifierConfig.from_dict(requested.to_dict())
    # Fields filled in from the data, the epoch count (which may be raised) and
    # the distribution (a backup resumes on any number of devices).
    requested.data.class_names = saved.data.class_names
    for field in ("vocabulary_size", "num_classes", "max_length"):
        setattr(requested.model, field, getattr(saved.model, field))
    if requested.model.init_from is not None:
        # The checkpoint's record holds its absolute path; the settings it fixes
        # were compared when it was read.
        requested.model.checkpoint = saved.model.checkpoint
    requested.training.epochs = saved.training.epochs
    requested.training.distribute = saved.training.distribute
    differences = [
        f"{section}.{key}: {value!r} → {getattr(getattr(requested, section), key)!r}"
        for section, values in dataclasses.asdict(saved).items()
        for key, value in values.items()
        if getattr(getattr(requested, section), key) != value
    ]
    if differences:
        raise UserInputError(
            f"{run.path} holds an interrupted run with other settings "
            f"({'; '.join(differences)}); rerun it with the same options or pass --overwrite"
        )


def read_tables(data_config, log):
    sources = {"train": data_config.train, "valid": data_config.valid, "test": data_config.test}
    tables = {}
    for name, source in sources.items():
        if source is None:
            continue
        log(f"reading {name}: {source}")
        tables[name] = read_table(source, data_config.text_column, data_config.label_column)
    return tables


def sample_rows(split, count, seed, log):
    """`count` rows of `(texts, label_ids)` drawn without replacement, in file order;
    all of them when `count` is None or not smaller than the split."""
    texts, label_ids = split
    if count is None or count >= len(texts):
        if count is not None:
            log(f"--train-sample {count}: the training file has only {len(texts)} rows; using all")
        return split
    chosen = np.sort(np.random.default_rng(seed).choice(len(texts), size=count, replace=False))
    log(f"training on a random sample of {count} of {len(texts)} rows (--train-sample, seed {seed})")
    return [texts[index] for index in chosen], np.asarray(label_ids)[chosen]


def require_rows(splits, data_config):
    for name in ("train", "valid"):
        if not len(splits[name][0]):
            raise UserInputError(
                f"{getattr(data_config, name)}: no usable rows (see the bad-row report above)"
            )


def read_pretrained_checkpoint(config, log):
    """(checkpoint, its tokenizer) of `config.model.init_from`, or (None, None).

    Fills in the architecture the checkpoint fixes, so a resumed run compares
    like with like.
    """
    if config.model.init_from is None:
        return None, None
    checkpoint = read_checkpoint(config.model.init_from)
    log(f"pretrained encoder: {checkpoint.name} ({checkpoint.path}, sha256 {checkpoint.sha256[:12]}…)")
    apply_checkpoint_settings(config, checkpoint, spell=command_line_option)
    tokenizer = checkpoint_tokenizer(checkpoint, config.tokenizer.max_length, log)
    return checkpoint, tokenizer


def command_line_option(field, value):
    """How `train` spells a setting in messages: `--max-length 512`."""
    return f"--{field.replace('_', '-')} {value}"


def prepare_tokenizer(run, config, train_texts, resuming, log, checkpoint_tokenizer=None):
    if resuming:
        return load_tokenizer(run.tokenizer_dir)
    if checkpoint_tokenizer is not None:
        tokenizer = checkpoint_tokenizer
        tokenizer.save(run.tokenizer_dir)
        log(f"vocabulary: the checkpoint's {tokenizer.vocabulary_size} word pieces")
        return tokenizer
    log(f"learning a WordPiece vocabulary (up to {config.tokenizer.vocabulary_size} tokens)")
    tokenizer = build_tokenizer(
        train_texts,
        config.tokenizer.vocabulary_size,
        config.tokenizer.max_length,
        lower_case=config.tokenizer.lower_case,
    )
    tokenizer.save(run.tokenizer_dir)
    log(f"vocabulary: {tokenizer.vocabulary_size} tokens")
    return tokenizer


def fit_classifier(
    run,
    config,
    tokenizer,
    splits,
    callbacks,
    verbose,
    backup_steps=DEFAULT_BACKUP_STEPS,
    strategy=None,
    checkpoint=None,
    log=print,
):
    """Builds, compiles and fits; the encoder starts from `checkpoint`'s weights when given.

    A loss that turns NaN or infinite ends `fit`: the best earlier epoch is then
    the model, and without one the `TrainingDiverged` error goes on.

    With a `tf.distribute` strategy the model is built and compiled in its
    scope, and the returned model is an undistributed copy.

    Returns:
        (model with the best weights, seconds in `fit`, optimizer steps taken
        over all sessions of the run).
    """
    num_classes = config.model.num_classes
    train_texts, train_ids = splits["train"]
    train_dataset = make_dataset(
        train_texts,
        train_ids,
        tokenizer=tokenizer,
        num_classes=num_classes,
        batch_size=config.training.batch_size,
        shuffle=True,
        seed=config.training.seed,
    )
    # Sorted by length: the loss and accuracy ignore the order.
    valid_dataset, _ = length_ordered_dataset(*splits["valid"], tokenizer=tokenizer, num_classes=num_classes)
    steps_per_epoch = int(train_dataset.cardinality())
    with strategy_scope(strategy):
        model = build_model(config, tokenizer, checkpoint)
        if config.training.freeze_token_embeddings:  # on resume too: the optimizer state matches
            frozen = freeze_token_embeddings(model)
            log(f"word-piece embeddings fixed: {frozen} of {model.count_params()} parameters")
        compile_classifier(model, config.training, steps_per_epoch)
    check_free_space(run.path, model.count_params())
    train_dataset = shard_by_data(train_dataset, strategy)
    valid_dataset = shard_by_data(valid_dataset, strategy)
    if is_multiworker(strategy):
        prepare_model(model, strategy, next(iter(train_dataset)))
    start = time.perf_counter()
    with best_weights_if_diverged(run.best_weights_path, log), fit_reporting(verbose) as (fit_verbose, reporters):
        model.fit(
            train_dataset,
            validation_data=valid_dataset,
            epochs=config.training.epochs,
            callbacks=training_callbacks(
                run, MONITOR, patience=config.training.patience, backup_steps=backup_steps
            )
            + list(callbacks)
            + reporters,
            verbose=fit_verbose,
            shuffle=False,  # the dataset reshuffles itself every epoch
        )
    fit_seconds = time.perf_counter() - start
    # Before loading the best weights, which bring back that epoch's optimizer state.
    optimizer_steps = optimizer_step(model.optimizer)
    if os.path.exists(run.best_weights_path):
        model.load_weights(run.best_weights_path)
    check_finite_weights(model, "model.keras")
    if strategy is not None:
        model = unreplicated(model, lambda: build_classifier(config.model))
    return model, fit_seconds, optimizer_steps


def build_model(config, tokenizer, checkpoint=None):
    """A fine-tune's `TextClassifier`, built as `TextClassifier.from_checkpoint` builds one
    (the encoder from `checkpoint`'s weights when given); from scratch, `build_classifier`'s."""
    if config.model.init_from is None:
        return build_classifier(config.model)
    return TextClassifier.for_config(config.model, tokenizer, checkpoint)


def evaluation_metrics(classifier, splits, log=print, verbose="auto"):
    """The kept weights' figures on valid and test, reporting progress as `fit` did."""
    metrics = {}
    for name in ("valid", "test"):
        if name in splits and len(splits[name][0]):
            log(f"evaluating the kept weights on {name}: {len(splits[name][0])} texts")
            with fit_reporting(verbose) as (_, reporters):
                metrics[name] = classifier.evaluate(
                    *splits[name], batch_size=EVALUATION_BATCH_SIZE, callbacks=reporters
                )
    return metrics


def training_summary(run, config, splits, fit_seconds, optimizer_steps, policy, strategy=None):
    records = read_history(run.history_path)
    best = best_record(records, MONITOR) or {}
    return {
        "epochs_run": len(records),
        "best_epoch": best.get("epoch"),
        "best_val_accuracy": best.get(MONITOR),
        "fit_seconds_this_session": round(fit_seconds, 1),
        "optimizer_steps": optimizer_steps,  # all sessions: a resumed run continues the count
        "train_examples": len(splits["train"][0]),
        "dtype_policy": policy,
        "devices": describe_devices(),
        "distribute": config.training.distribute,
        "replicas": replicas(strategy),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
