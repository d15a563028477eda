"""A finished run directory: written (`save_finished_run`) and loaded (`TrainedClassifier`:
predict, evaluate and explain texts)."""

import dataclasses
import shutil

import numpy as np

import keras_attention  # noqa: F401  (registers the layers for deserialization)
from pipelines.classification.config import ClassifierConfig
from pipelines.classification.data import EVALUATION_BATCH_SIZE
from pipelines.classification.data import predict_in_input_order
from pipelines.classification.labels import LabelEncoder
from pipelines.classification.metrics import classification_report
from pipelines.classification.model import attention_explainer
from pipelines.classification.model import build_classifier
from pipelines.common import plots
from pipelines.common.atomic import atomic_path
from pipelines.common.callbacks import read_history
from pipelines.common.errors import UserInputError
from pipelines.common.run_directory import RunDirectory
from pipelines.common.run_files import load_keras_model
from pipelines.common.text_input import check_texts
from pipelines.common.run_tokenizer import load_tokenizer


@dataclasses.dataclass
class Explanation:
    """How much each token weighed in the pooled vector the classifier saw.

    Attributes:
        tokens: list of str. The WordPiece tokens of the text (after truncation).
        weights: array `(pooling_heads, tokens)`; each row sums to 1.
        label: str. The predicted class name.
        label_id: int. Its index in the run's class names.
        probabilities: dict from class name to probability.
    """

    tokens: list
    weights: np.ndarray
    label: str
    label_id: int
    probabilities: dict

    def token_weights(self):
        """(token, weight averaged over heads) pairs."""
        return list(zip(self.tokens, self.weights.mean(axis=0).tolist()))

    def as_line(self):
        """`token[.23] token[.05] ...  → label (p=0.97)` for the terminal."""
        tokens = " ".join(f"{token}[{weight:.2f}]" for token, weight in self.token_weights())
        return f"{tokens}  → {self.label} (p={self.probabilities[self.label]:.3f})"


class TrainedClassifier:
    """The tokenizer, model and classes of a finished run directory.

    Example, `run_dir` being the `--out` folder of a finished `train` (`runs/sst2`, say):

    >>> classifier = TrainedClassifier.load(run_dir)
    >>> [prediction] = classifier.predict(["a gorgeous, witty film"])
    >>> sorted(prediction)
    ['label', 'label_id', 'probabilities']
    >>> prediction["label"] == classifier.class_names[prediction["label_id"]]
    True
    >>> round(sum(prediction["probabilities"].values()), 3)
    1.0

    A classifier trained on all of SST-2 answers with a prediction such as
    `{'label': '1', 'label_id': 1, 'probabilities': {'0': 0.021, '1': 0.979}}`.
    """

    def __init__(self, config, tokenizer, model):
        self.config = config
        self.tokenizer = tokenizer
        self.model = model
        self.labels = LabelEncoder(config.data.class_names)
        self._explainer = None

    @classmethod
    def load(cls, run_dir):
        run_directory = RunDirectory(run_dir)
        run_directory.require_finished()
        config = ClassifierConfig.load(run_directory.config_path)
        tokenizer = load_tokenizer(run_directory.tokenizer_dir)
        model = load_keras_model(run_directory.model_path)
        return cls(config, tokenizer, model)

    @property
    def class_names(self):
        return self.labels.class_names

    def predict_probabilities(self, texts, batch_size=EVALUATION_BATCH_SIZE, callbacks=None):
        """Class probabilities `(len(texts), num_classes)`.

        Texts are cut to the run's `max_length` tokens; an empty text gets the
        answer for a fully padded row. Anything but a list of UTF-8 texts is a
        `UserInputError`. `callbacks` go to Keras's `predict` (progress, say).
        """
        return predict_in_input_order(
            self.model.predict, texts, tokenizer=self.tokenizer, num_classes=self.labels.num_classes,
            batch_size=batch_size, verbose=0, callbacks=callbacks,
        )

    def predict(self, texts, batch_size=EVALUATION_BATCH_SIZE):
        """One dict per text: `label` (the class name, a string, as every exported
        runtime returns it), `label_id` (its index) and `probabilities` by class name."""
        probabilities = self.predict_probabilities(texts, batch_size)
        return [self.prediction(row) for row in probabilities]

    def prediction(self, probabilities):
        label_id = int(np.argmax(probabilities))
        return {
            "label": str(self.class_names[label_id]),
            "label_id": label_id,
            "probabilities": {
                str(name): round(float(p), 6) for name, p in zip(self.class_names, probabilities)
            },
        }

    def evaluate(self, texts, label_ids, batch_size=EVALUATION_BATCH_SIZE, callbacks=None):
        """`classification_report` of the predictions for `texts`."""
        predicted = self.predict_probabilities(texts, batch_size, callbacks).argmax(axis=-1)
        return classification_report(label_ids, predicted, self.class_names)

    def explain(self, text):
        """The attention-pooling weight of every token of `text`."""
        (text,) = check_texts([text])
        if self.config.model.pooling != "attention":
            raise UserInputError(
                "explain shows attention-pooling weights, and this run pools the [CLS] vector "
                "(--pooling cls); train with --pooling attention to explain predictions"
            )
        if self._explainer is None:
            self._explainer = attention_explainer(self.model)
        token_ids = self.tokenizer.tokenize([text]).numpy()
        length = int((token_ids[0] != 0).sum())
        probabilities, weights = self._explainer.predict(token_ids, verbose=0)
        tokens = [token.decode("utf-8") for token in self.tokenizer.id_to_token(token_ids[0, :length]).numpy()]
        prediction = self.prediction(probabilities[0])
        return Explanation(
            tokens=tokens,
            weights=np.asarray(weights[0, :, :length], dtype=np.float32),
            label=prediction["label"],
            label_id=prediction["label_id"],
            probabilities=prediction["probabilities"],
        )


def save_finished_run(run, config, model, metrics):
    """Writes metrics and plots, then model.keras (the finished marker), then drops the backup.

    Both ways of making a run end here: `train` and `TextClassifier.save_run`.
    `model.keras` holds the plain inference model `build_classifier(config.model)`
    with `model`'s weights: no optimizer and no preprocessor, the same file for
    every run.
    """
    run.write_json(run.metrics_path, metrics)
    records = read_history(run.history_path)
    if records:
        plots.plot_training_curves(records, run.training_curves_path)
    for split, title in (("test", "test"), ("valid", "validation")):
        if split in metrics:  # the test figures if there are any, else the validation ones
            shown = metrics[split]
            plots.plot_confusion_matrix(
                shown["confusion_matrix"], shown["class_names"], run.confusion_matrix_path,
                title=f"Confusion matrix ({title})",
            )
            break
    inference_model = build_classifier(config.model)
    inference_model.set_weights(model.get_weights())
    with atomic_path(run.model_path) as temporary:
        inference_model.save(temporary)
    shutil.rmtree(run.backup_dir, ignore_errors=True)
