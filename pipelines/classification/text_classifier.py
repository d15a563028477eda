"""A text classifier as a Keras object, as keras-hub's `TextClassifier` is one: built from a
pretrained checkpoint, `fit`, `evaluate` and `predict` on raw strings, saved as one `.keras`
file, and written as a run directory that the command lines and `python -m export` read.

    classifier = TextClassifier.from_checkpoint("minilm", num_classes=2)
    classifier.fit(texts, label_ids, epochs=1)
    classifier.predict(["a gorgeous, witty film"])          # probabilities, (1, 2)
    classifier.save("sst2.keras")                            # keras.saving.load_model reads it
    classifier.save_run("runs/sst2", test=read_table(...))   # evaluate, predict, explain, export

The model itself takes token ids (the checkpoint's encoder under the attention-pooling head
of `build_classifier`); its `preprocessor`, a `CheckpointTokenizerLayer`, turns strings into
ids inside `tf.data`, never inside the model, so the same code runs on TensorFlow and JAX.
`train --init-from` builds its model here too (`TextClassifier.for_config`), so the command
line and Python fine-tune the same classifier.
"""

import copy
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from pipelines.classification.config import PRETRAINED_DEFAULTS
from pipelines.classification.config import ClassifierConfig
from pipelines.classification.config import DataConfig
from pipelines.classification.config import ModelConfig
from pipelines.classification.config import TokenizerConfig
from pipelines.classification.config import TrainingConfig
from pipelines.classification.config import default_config
from pipelines.classification.data import EVALUATION_BATCH_SIZE
from pipelines.classification.data import length_ordered_dataset
from pipelines.classification.data import make_dataset
from pipelines.classification.data import predict_in_input_order
from pipelines.classification.labels import LabelEncoder
from pipelines.classification.model import build_classifier
from pipelines.classification.model import compile_classifier
from pipelines.classification.trained import TrainedClassifier
from pipelines.classification.trained import save_finished_run
from pipelines.common.callbacks import fit_reporting
from pipelines.common.data_paths import with_recorded_paths
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.text_input import check_texts
from pipelines.pretrained.checkpoint import Checkpoint
from pipelines.pretrained.checkpoint import read_checkpoint
from pipelines.pretrained.encoder import load_encoder_weights
from pipelines.pretrained.tokenizer import checkpoint_tokenizer
from pipelines.pretrained.tokenizer_layer import CheckpointTokenizerLayer

FINE_TUNING_TRAINING = PRETRAINED_DEFAULTS["training"]
PREPROCESSOR_NAME = "preprocessor"
# In a saved compile config: the compile is `fit`'s fine-tuning default, not the user's.
FIT_DEFAULTS_KEY = "text_classifier_fit_defaults"


def python_argument(field, value):
    """How a Python caller spells a setting in messages: `max_length=512`."""
    return f"{field}={value}"


def apply_checkpoint_settings(config, checkpoint, spell=python_argument):
    """Fills a `ClassifierConfig` with what `checkpoint` fixes: its architecture, its
    record (path, sha256, licence) and learned positions.

    First checks the settings the checkpoint constrains: `max_length` within its
    positions, `pooling_heads` dividing its width. `spell(field, value)` writes a
    setting as the caller gave it (`max_length=512` here, `--max-length 512` for
    `train`).
    """
    settings = checkpoint.settings
    max_length, pooling_heads = config.tokenizer.max_length, config.model.pooling_heads
    if max_length > settings.max_positions:
        raise UserInputError(
            f"{spell('max_length', max_length)} exceeds the checkpoint's "
            f"{settings.max_positions} positions; pass {spell('max_length', settings.max_positions)} or less"
        )
    if config.model.pooling == "attention" and settings.hidden_dim % pooling_heads:
        raise UserInputError(
            f"{spell('pooling_heads', pooling_heads)} does not divide the checkpoint's width "
            f"{settings.hidden_dim}; pick a divisor of {settings.hidden_dim}"
        )
    config.model.checkpoint = checkpoint.source_record()
    config.model.encoder = settings.to_dict()
    config.model.vocabulary_size = settings.vocabulary_size
    config.model.max_length = max_length
    config.model.embedding_dim = settings.hidden_dim
    config.model.num_blocks = settings.num_layers
    config.model.num_heads = settings.num_heads
    config.model.intermediate_dim = settings.intermediate_dim
    config.model.position_encoding = "learned"
    config.model.normalize_first = False


@keras.saving.register_keras_serializable(package="pipelines.classification")
class TextClassifier(keras.Model):
    """A pretrained encoder under an attention-pooling head: raw strings in, class
    probabilities out.

    The model maps int32 token ids `(batch, length)` (0 = padding) to float32
    probabilities `(batch, num_classes)`, with the layers of `train --init-from`'s
    classifier (`build_classifier`). `fit`, `evaluate` and `predict` also take texts,
    a list or array of strings, or a batched `tf.data.Dataset` of strings (with
    class ids); `preprocessor` tokenizes them in `tf.data`. Labels are class ids
    `0 … num_classes - 1`, one-hot inside (the loss may smooth them).

    Unless you call `compile()` yourself, each `fit` on texts compiles for that fit
    with the fine-tuning defaults of `train --init-from`: AdamW, peak learning rate
    5e-5 after 10% warmup, cosine decay to 0 over the fit's steps, weight decay
    0.01, gradient norm clipped at 1; categorical cross-entropy and accuracy. Texts
    are batched as `train` batches them (32 per batch, shuffled every epoch,
    grouped by length).

    `model.save(path)` writes one `.keras` file that holds the tokenizer's
    vocabulary as well; `keras.saving.load_model(path, safe_mode=True)` reads it
    back without the checkpoint (import this module first, so Keras knows the
    class). `save_run` writes a run directory.

    Args:
        model_config: `ModelConfig` (or its dict) with a checkpoint's `encoder`
            settings; `from_checkpoint` makes one.
        preprocessor: `CheckpointTokenizerLayer`. Strings → token ids.
        **kwargs: `keras.Model` keyword arguments (`name`, `trainable`).

    Example:

    >>> classifier = TextClassifier.from_checkpoint("minilm", num_classes=2)
    >>> classifier.predict(["a gorgeous, witty film", ""], verbose=0).shape
    (2, 2)
    >>> classifier.get_layer("attention_pooling").num_heads
    8
    """

    def __init__(self, model_config, preprocessor, **kwargs):
        if isinstance(model_config, dict):
            model_config = ModelConfig(**model_config)
        if model_config.encoder is None:
            raise ValueError(
                "`model_config` holds no pretrained encoder (its `encoder` is None); "
                "build the classifier with `TextClassifier.from_checkpoint(...)`"
            )
        if not isinstance(preprocessor, CheckpointTokenizerLayer):
            raise ValueError(
                "`preprocessor` must be a `CheckpointTokenizerLayer`. "
                f"Received: preprocessor={type(preprocessor).__name__}"
            )
        # A reloaded preprocessor gets its vocabulary later, from the .keras file's assets.
        if preprocessor.tokenizer is not None and preprocessor.vocabulary_size > model_config.vocabulary_size:
            raise ValueError(
                f"the preprocessor's {preprocessor.vocabulary_size} word pieces exceed the encoder's "
                f"{model_config.vocabulary_size} embedding rows; use the checkpoint's own tokenizer"
            )
        network = build_classifier(model_config)
        kwargs.setdefault("name", "text_classifier")
        super().__init__(inputs=network.inputs, outputs=network.outputs, **kwargs)
        self.model_config = model_config
        self.preprocessor = preprocessor
        self.training_config = None  # the settings of the last `fit` that compiled itself
        self._compiled_by_user = False

    @classmethod
    def from_checkpoint(cls, checkpoint, num_classes, *, max_length=128, pooling="attention", pooling_heads=8,
                        dropout=0.1, **kwargs):
        """A classifier whose encoder and tokenizer are a checkpoint's, with a new head.

        Args:
            checkpoint: a Hugging Face BERT-family directory, a known short name
                (`"minilm"`) or a `Checkpoint` (`read_checkpoint`).
            num_classes: int. At least 2.
            max_length: int. Word pieces kept per text, `[CLS]` and `[SEP]`
                included; at most the checkpoint's positions. Defaults to 128.
            pooling: str. `"attention"` (AttentionPooling over every word piece)
                or `"cls"` (the `[CLS]` vector). Defaults to `"attention"`.
            pooling_heads: int. Attention-pooling heads; must divide the
                checkpoint's width. Defaults to 8.
            dropout: float. Dropout before the softmax layer. Defaults to 0.1.
            **kwargs: `keras.Model` keyword arguments (`name`).

        Raises:
            UserInputError: an unusable checkpoint, or settings it cannot take.
            ValueError: `num_classes`, `max_length`, `pooling`, `pooling_heads`
                or `dropout` out of range.
        """
        check_integer("num_classes", num_classes, 2)
        check_integer("max_length", max_length, 2)
        check_integer("pooling_heads", pooling_heads, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"`dropout` must be a number in [0, 1). Received: dropout={dropout!r}")
        if isinstance(checkpoint, Checkpoint):
            init_from = checkpoint.path
        else:
            init_from, checkpoint = str(checkpoint), read_checkpoint(checkpoint)
        config = default_config(
            init_from=init_from,
            tokenizer={"max_length": max_length},
            model={"num_classes": num_classes, "pooling": pooling, "pooling_heads": pooling_heads, "dropout": dropout},
        )
        apply_checkpoint_settings(config, checkpoint)
        tokenizer = checkpoint_tokenizer(checkpoint, max_length, log=lambda note: None)
        return cls.for_config(config.model, tokenizer, checkpoint, **kwargs)

    @classmethod
    def for_config(cls, model_config, tokenizer, checkpoint=None, **kwargs):
        """The classifier of a run's `ModelConfig` (filled by `apply_checkpoint_settings`)
        and `CheckpointTokenizer`: what `train --init-from` and `from_checkpoint` build.
        The encoder holds `checkpoint`'s weights when given; otherwise every weight is
        random until loaded (a resumed run restores its backup)."""
        preprocessor = CheckpointTokenizerLayer.from_tokenizer(tokenizer, name=PREPROCESSOR_NAME)
        classifier = cls(model_config, preprocessor, **kwargs)
        if checkpoint is not None:
            load_encoder_weights(classifier, checkpoint)
        return classifier

    @property
    def num_classes(self):
        return self.model_config.num_classes

    def get_config(self):
        # Not the functional config: `from_config` rebuilds the layers from `model_config`.
        return {
            "model_config": dataclasses.asdict(self.model_config),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        self._compiled_by_user = True

    # The .keras file says whose compile it holds, so a reloaded classifier's next `fit`
    # on texts keeps the user's compile, or compiles afresh as the saved one would have.
    def get_compile_config(self):
        config = super().get_compile_config()
        if config and not self._compiled_by_user:
            config[FIT_DEFAULTS_KEY] = True
        return config

    def compile_from_config(self, config):
        config = dict(config)
        compiled_by_user = not config.pop(FIT_DEFAULTS_KEY, False)
        super().compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)  # so the saved optimizer state loads
        self._compiled_by_user = compiled_by_user

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_data=None, shuffle=True, seed=None, **kwargs):
        """Keras's `fit`; texts `x` with class ids `y` are tokenized and batched in `tf.data`.

        `batch_size` defaults to 32 for texts; `shuffle` reshuffles them every epoch,
        with `seed` (None: from Keras's global seed, `keras.utils.set_random_seed`).
        `validation_data` may be `(texts, class_ids)`. Token ids, arrays and datasets
        of them go to Keras's `fit` unchanged.
        """
        if not is_text_input(x):
            return super().fit(
                x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                validation_data=validation_data, shuffle=shuffle, **kwargs,
            )
        batch_size = batch_size or FINE_TUNING_TRAINING["batch_size"]
        if isinstance(x, tf.data.Dataset):
            data = self.preprocessed(x)
        else:
            texts, label_ids = self.texts_and_label_ids(x, y, "fit")
            data = make_dataset(
                texts, label_ids, tokenizer=self.preprocessor.tokenizer, num_classes=self.num_classes,
                batch_size=batch_size, shuffle=shuffle, seed=seed,
            )
        if validation_data is not None:
            validation_data = self.evaluation_data(*unpack_validation_data(validation_data))
        if not self._compiled_by_user:
            steps_per_epoch = kwargs.get("steps_per_epoch") or int(data.cardinality())
            if steps_per_epoch <= 0:
                raise UserInputError(
                    "cannot count this dataset's batches for the learning-rate schedule; pass "
                    "steps_per_epoch=N, or compile the classifier yourself first"
                )
            self.training_config = self.compile_fine_tuning(epochs, steps_per_epoch, batch_size, seed)
        with fit_reporting(verbose) as (fit_verbose, reporters):
            return super().fit(
                data, epochs=epochs, verbose=fit_verbose, callbacks=list(callbacks or []) + reporters,
                validation_data=validation_data, shuffle=False, **kwargs,
            )

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, **kwargs):
        """Keras's `evaluate`; texts `x` with class ids `y` are tokenized in `tf.data`
        (batches of 256 by default, sorted by length). An uncompiled classifier is
        compiled with the fine-tuning defaults first."""
        if not is_text_input(x):
            return super().evaluate(
                x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight, steps=steps,
                callbacks=callbacks, return_dict=return_dict, **kwargs,
            )
        data = self.evaluation_data(x, y, batch_size)
        if not self.compiled:
            self.compile_fine_tuning(epochs=1, steps_per_epoch=1)
        with fit_reporting(verbose) as (evaluate_verbose, reporters):
            return super().evaluate(
                data, verbose=evaluate_verbose, sample_weight=sample_weight, steps=steps,
                callbacks=list(callbacks or []) + reporters, return_dict=return_dict, **kwargs,
            )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Keras's `predict`; for texts, probabilities `(len(x), num_classes)` in input
        order (batches of 256 by default, sorted by length; an empty text gets the
        answer for a fully padded row)."""
        if not is_text_input(x):
            return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        with fit_reporting(verbose) as (predict_verbose, reporters):
            arguments = dict(verbose=predict_verbose, steps=steps, callbacks=list(callbacks or []) + reporters)
            if isinstance(x, tf.data.Dataset):
                return super().predict(self.preprocessed(x), **arguments)
            return predict_in_input_order(
                super().predict, x, tokenizer=self.preprocessor.tokenizer, num_classes=self.num_classes,
                batch_size=batch_size or EVALUATION_BATCH_SIZE, **arguments,
            )

    def compile_fine_tuning(self, epochs, steps_per_epoch, batch_size=None, seed=None):
        """Compiles as `train --init-from` does (`compile_classifier` with its defaults),
        the schedule spanning `epochs` × `steps_per_epoch` steps; returns those settings
        as a `TrainingConfig`."""
        settings = {**FINE_TUNING_TRAINING, "epochs": epochs, "seed": seed}
        if batch_size:
            settings["batch_size"] = batch_size
        training = dataclasses.replace(TrainingConfig(), **settings)
        compile_classifier(self, training, steps_per_epoch)
        self._compiled_by_user = False
        return training

    def evaluation_data(self, x, y=None, batch_size=None):
        """Batches of token ids and one-hot labels for texts `x` with class ids `y`; other
        inputs (token ids, a dataset of them) as they are."""
        if not is_text_input(x):
            return x if y is None else (x, y)
        if isinstance(x, tf.data.Dataset):
            return self.preprocessed(x)
        texts, label_ids = self.texts_and_label_ids(x, y, "evaluate")
        dataset, _ = length_ordered_dataset(
            texts, label_ids, tokenizer=self.preprocessor.tokenizer, num_classes=self.num_classes,
            batch_size=batch_size or EVALUATION_BATCH_SIZE,
        )
        return dataset

    def preprocessed(self, dataset):
        """A batched `tf.data.Dataset` of texts, or of `(texts, class ids[, weights])`,
        with the texts tokenized by `preprocessor` and the class ids one-hot."""
        texts_spec = first_element_spec(dataset)
        if texts_spec.shape.rank != 1:
            raise UserInputError(
                f"a dataset of texts must yield batches (1-D strings), not {texts_spec.shape}; "
                "batch it first: dataset.batch(32)"
            )

        def preprocess(texts, *labels_and_weights):
            token_ids = self.preprocessor(texts)
            if not labels_and_weights:
                return token_ids
            labels, *weights = labels_and_weights
            if labels.shape.rank == 1:  # class ids; the loss takes one-hot rows
                labels = tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)
            return (token_ids, labels, *weights)

        return dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def texts_and_label_ids(self, x, y, method):
        """`(texts, int32 class ids)`, or a one-line `UserInputError` naming what is wrong."""
        texts = check_texts(x)
        if not texts:
            raise UserInputError(f"{method} got no texts; pass a list of texts and one class id per text")
        if y is None:
            raise UserInputError(f"{method} needs labels: {method}(texts, class_ids), one id per text")
        label_ids = np.asarray(y)
        if label_ids.ndim != 1 or len(label_ids) != len(texts):
            raise UserInputError(
                f"{method} got {len(texts)} texts and labels of shape {label_ids.shape}; pass one class id per text"
            )
        last = self.num_classes - 1
        if label_ids.dtype.kind not in "iu":
            raise UserInputError(
                f"labels must be class ids 0..{last}, got {label_ids[0].item()!r}; map class names "
                "to ids first: LabelEncoder.fit(labels).encode(labels)"
            )
        outside = label_ids[(label_ids < 0) | (label_ids > last)]
        if outside.size:
            raise UserInputError(
                f"label {outside[0].item()} is not a class id of this {self.num_classes}-class classifier (0..{last}); "
                "check the labels or build the classifier with more num_classes"
            )
        return texts, label_ids.astype(np.int32)

    def save_run(self, directory, *, class_names=None, valid=None, test=None, overwrite=False):
        """Writes a finished run directory, as `train` writes one; returns its path.

        `python -m pipelines.classification evaluate/predict/explain` and
        `python -m export` take it as they take any run (the export's parity
        gate reads `test`'s file). It holds config.json, the tokenizer,
        model.keras (the inference model, as `train` saves it) and metrics.json.
        config.json's `training` section holds the settings of the last `fit`
        that compiled itself, else the fine-tuning defaults.

        Args:
            directory: str. The run directory; it must be empty or not exist.
            class_names: list of int or str. The class of each id, as the run's
                labels; defaults to the ids `0 … num_classes - 1`.
            valid, test: `Table`s (`read_table(..., label_column)`) to evaluate;
                the run records their files and columns. Rows whose label is not
                in `class_names` are skipped and counted.
            overwrite: bool. Replace a run already in `directory`.
        """
        run = RunDirectory(directory)
        check_new_run_directory(run, overwrite)
        labels = LabelEncoder(range(self.num_classes) if class_names is None else class_names)
        if labels.num_classes != self.num_classes:
            raise ValueError(
                f"`class_names` must name {self.num_classes} classes. Received: class_names={labels.class_names}"
            )
        tables = {split: table for split, table in (("valid", valid), ("test", test)) if table is not None}
        config = ClassifierConfig(
            tokenizer=TokenizerConfig(
                vocabulary_size=self.preprocessor.vocabulary_size,
                max_length=self.preprocessor.max_length,
                lower_case=self.preprocessor.tokenizer.lower_case,
            ),
            model=copy.deepcopy(self.model_config),
            training=self.training_config or dataclasses.replace(TrainingConfig(), **FINE_TUNING_TRAINING),
            data=data_config(tables, labels.class_names),
        )
        classifier = TrainedClassifier(config, self.preprocessor.tokenizer, self)
        metrics = {}
        if tables:
            metrics["bad_rows"] = {}
        for split, table in tables.items():
            table = dataclasses.replace(table, bad_rows=copy.deepcopy(table.bad_rows))  # leave the caller's as it is
            texts, label_ids = labels.encode_table(table)
            if not texts:
                raise UserInputError(f"{table.source}: no rows to evaluate ({table.bad_rows.describe()})")
            metrics[split] = classifier.evaluate(texts, label_ids)
            metrics["bad_rows"][split] = table.bad_rows.to_dict()
        if run.has_files():
            run.clear()
        run.create()
        config.save(run.config_path)
        self.preprocessor.tokenizer.save(run.tokenizer_dir)
        save_finished_run(run, config, self, metrics)
        return run.path


def check_integer(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer of at least {minimum}. Received: {name}={value!r}")


def check_new_run_directory(run, overwrite):
    """Refuses a directory holding files, unless `overwrite` and they are a run's."""
    if not run.has_files():
        return
    if not overwrite:
        raise UserInputError(f"{run.path} is not empty; choose another directory or pass overwrite=True")
    if not (run.is_finished() or run.is_interrupted()):
        raise UserInputError(f"{run.path} holds files but no run; refusing to delete them — choose another directory")


def data_config(tables, class_names):
    """The run's data section: the tables' files (recorded absolute) and their columns."""
    columns = {(table.text_column, table.label_column) for table in tables.values()}
    if len(columns) > 1:
        raise UserInputError(
            f"the tables were read from different columns {sorted(columns)}; read them with the same ones"
        )
    for split, table in tables.items():
        if table.labels is None:
            raise UserInputError(f"{split}={table.source!r} has no labels; read it with read_table(..., label_column)")
    text_column, label_column = columns.pop() if columns else (DataConfig.text_column, DataConfig.label_column)
    data = DataConfig(text_column=text_column, label_column=label_column, class_names=list(class_names))
    for split, table in tables.items():
        setattr(data, split, table.source)
    return with_recorded_paths(data)


def is_text_input(x):
    """Whether `x` holds texts (a string, a list or array of them, a dataset of them)."""
    if isinstance(x, tf.data.Dataset):
        spec = first_element_spec(x)
        return isinstance(spec, tf.TensorSpec) and spec.dtype == tf.string
    if isinstance(x, (str, bytes)):
        return True  # `check_texts` explains that a list is expected
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "USO"
    if isinstance(x, (list, tuple)):
        return not x or isinstance(x[0], (str, bytes))
    return False


def first_element_spec(dataset):
    spec = dataset.element_spec
    return spec[0] if isinstance(spec, tuple) else spec


def unpack_validation_data(validation_data):
    """`(x, y)` of Keras's `validation_data`: a dataset, or a tuple `(x, y)`."""
    if isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
        return tuple(validation_data)
    return validation_data, None
