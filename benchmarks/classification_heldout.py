"""SST-2 settings chosen without the test file: accuracy on held-out whole sentences.

SST-2's dev.tsv shares most of its long rows with train.tsv's phrases, so dev
accuracy cannot choose between settings. This benchmark holds out whole
sentences of train.tsv + dev.tsv (`pipelines.classification.heldout`), trains the
classifier on the remaining train.tsv rows with the remaining dev.tsv rows for
validation and early stopping, exactly as `train` does, and prints its accuracy on
the held-out sentences after every epoch and at the end (best-validation
weights). A bigram TF-IDF softmax model (Keras TextVectorization + Dense, early
stopping on the same dev rows) is trained on the same split as the baseline,
and the ratio is printed. test.tsv is never read.

    python benchmarks/classification_heldout.py [--seeds 1337 2] \
        [--set model.pooling_heads=1 --set training.epochs=6] [--no-baseline]
    python benchmarks/classification_heldout.py --init-from minilm [--set training.learning_rate=1e-4]

With `--init-from` the fine-tuning defaults apply (as `train --init-from` does) and
the printed difference to the baseline is in accuracy points.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPOSITORY)

from pipelines.classification.config import default_config  # noqa: E402
from pipelines.classification.data import make_dataset  # noqa: E402
from pipelines.classification.heldout import sentence_holdout  # noqa: E402
from pipelines.classification.labels import LabelEncoder  # noqa: E402
from pipelines.classification.trained import TrainedClassifier  # noqa: E402
from pipelines.classification.training import train_classifier  # noqa: E402
from pipelines.common.tables import read_table  # noqa: E402
from pipelines.common.run_tokenizer import load_tokenizer  # noqa: E402

DEFAULT_DATA = os.environ.get("KERAS_ATTENTION_DATA", os.path.join(REPOSITORY, "..", "shared", "data"))


def parse_setting(text):
    """`section.field=value` (value parsed as JSON, else kept as a string)."""
    try:
        key, value = text.split("=", 1)
        section, field = key.split(".")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected section.field=value, got {text!r}") from None
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    return section, field, value


def write_tsv(path, texts, labels):
    with open(path, "w", encoding="utf-8") as file:
        file.write("sentence\tlabel\n")
        for text, label in zip(texts, labels):
            file.write(f"{text}\t{label}\n")


def make_split(data_dir, count, seed, directory):
    """Writes train/dev/heldout TSVs under `directory`; returns their paths and sizes."""
    tables = {name: read_table(os.path.join(data_dir, f"{name}.tsv"), "sentence", "label") for name in ("train", "dev")}
    texts = tables["train"].texts + tables["dev"].texts
    labels = tables["train"].labels + tables["dev"].labels
    train_indices, heldout_indices = sentence_holdout(texts, count=count, seed=seed)
    boundary = len(tables["train"].texts)
    parts = {
        "train": [i for i in train_indices if i < boundary],
        "dev": [i for i in train_indices if i >= boundary],
        "heldout": heldout_indices,
    }
    paths = {}
    for name, indices in parts.items():
        paths[name] = os.path.join(directory, f"{name}.tsv")
        write_tsv(paths[name], [texts[i] for i in indices], [labels[i] for i in indices])
    sizes = {name: len(indices) for name, indices in parts.items()}
    sizes["removed"] = len(texts) - sum(sizes.values())
    return paths, sizes


class HeldOutAccuracy(keras.callbacks.Callback):
    """Accuracy on the held-out sentences after every epoch (the run's tokenizer)."""

    def __init__(self, run_dir, texts, labels):
        super().__init__()
        self.run_dir, self.texts, self.labels = run_dir, texts, np.asarray(labels)
        self.curve = []
        self.dataset = None

    def on_epoch_end(self, epoch, logs=None):
        if self.dataset is None:  # the run writes its tokenizer before fitting
            tokenizer = load_tokenizer(os.path.join(self.run_dir, "tokenizer"))
            self.dataset = make_dataset(self.texts, tokenizer=tokenizer, batch_size=256)
        probabilities = self.model.predict(self.dataset, verbose=0)
        self.curve.append(float((probabilities.argmax(-1) == self.labels).mean()))


def config_with(settings, init_from=None):
    """The default `ClassifierConfig` (fine-tuning defaults with `init_from`) with `--set` overrides."""
    config = default_config(init_from=init_from)
    for section, field, value in settings:
        if not hasattr(getattr(config, section, None), field):
            raise SystemExit(f"error: no setting {section}.{field}; see pipelines/classification/config.py")
        setattr(getattr(config, section), field, value)
    return config


def train_ours(paths, settings, seed, directory, init_from=None):
    config = config_with(settings, init_from)
    config.training.seed = seed
    config.data.train, config.data.valid = paths["train"], paths["dev"]
    config.data.text_column, config.data.label_column = "sentence", "label"
    run_dir = os.path.join(directory, f"run_{seed}")
    heldout = read_table(paths["heldout"], "sentence", "label")
    # The class ids `train` will use (it encodes the same training labels).
    label_ids = LabelEncoder.fit(read_table(paths["train"], "sentence", "label").labels).encode(heldout.labels)
    callback = HeldOutAccuracy(run_dir, heldout.texts, label_ids)
    start = time.perf_counter()
    metrics = train_classifier(config, run_dir, callbacks=[callback], verbose=0, log=lambda *_: None)
    seconds = time.perf_counter() - start
    classifier = TrainedClassifier.load(run_dir)
    accuracy = classifier.evaluate(heldout.texts, label_ids)["accuracy"]
    return {
        "seed": seed,
        "heldout_accuracy": accuracy,
        "per_epoch": callback.curve,
        "best_epoch": metrics["training"]["best_epoch"],
        "seconds": seconds,
    }


def train_tfidf_baseline(paths, seed, max_tokens=50000, epochs=20):
    """Bigram TF-IDF → softmax, early stopping on dev accuracy (the best weights kept)."""
    keras.utils.set_random_seed(seed)
    tables = {name: read_table(path, "sentence", "label") for name, path in paths.items()}
    vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens, ngrams=2, output_mode="tf_idf")
    vectorizer.adapt(tf.constant(tables["train"].texts))

    def vectorize(texts, labels):
        return vectorizer(texts), labels

    def batches(name, shuffle=False):
        labels = np.asarray([int(label) for label in tables[name].labels])
        dataset = tf.data.Dataset.from_tensor_slices((tables[name].texts, labels))
        if shuffle:
            dataset = dataset.shuffle(len(labels), seed=seed)
        # Vectorized per batch: the whole split as dense TF-IDF rows would not fit in memory.
        return dataset.batch(64).map(vectorize).prefetch(tf.data.AUTOTUNE), labels

    (train_data, _), (dev_data, _), (held_data, held_y) = batches("train", True), batches("dev"), batches("heldout")
    model = keras.Sequential([keras.Input((vectorizer.vocabulary_size(),)), keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(
        train_data,
        validation_data=dev_data,
        epochs=epochs,
        verbose=0,
        shuffle=False,  # the dataset shuffles itself
        callbacks=[keras.callbacks.EarlyStopping("val_accuracy", patience=2, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start
    accuracy = float((model.predict(held_data, verbose=0).argmax(-1) == held_y).mean())
    return {"heldout_accuracy": accuracy, "seconds": seconds}


def standard_error(accuracy, count):
    return (accuracy * (1 - accuracy) / count) ** 0.5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(DEFAULT_DATA, "sst2"), help="folder with train.tsv and dev.tsv")
    parser.add_argument("--sentences", type=int, default=1000, help="whole sentences to hold out")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1337], help="training seeds")
    parser.add_argument(
        "--set", dest="settings", type=parse_setting, action="append", default=[],
        help="override a default, e.g. model.pooling_heads=1 (repeatable)",
    )
    parser.add_argument("--init-from", help="fine-tune a pretrained checkpoint (a directory or `minilm`)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the TF-IDF baseline")
    args = parser.parse_args()
    config_with(args.settings, args.init_from)  # a misspelt setting fails before the split is built

    with tempfile.TemporaryDirectory() as directory:
        paths, sizes = make_split(args.data, args.sentences, args.split_seed, directory)
        print(
            f"split: {sizes['train']} train rows, {sizes['dev']} dev rows, {sizes['heldout']} held-out sentences; "
            f"{sizes['removed']} rows found only inside held-out sentences removed"
        )
        overrides = " ".join(f"{s}.{f}={v}" for s, f, v in args.settings) or "none"
        defaults = f"fine-tuning defaults from {args.init_from}" if args.init_from else "defaults"
        print(f"settings: {defaults}, overrides: {overrides}")
        results = []
        for seed in args.seeds:
            result = train_ours(paths, args.settings, seed, directory, args.init_from)
            results.append(result)
            curve = " ".join(f"{value:.3f}" for value in result["per_epoch"])
            print(
                f"ours seed {seed}: held-out accuracy {result['heldout_accuracy']:.4f} "
                f"(best dev epoch {result['best_epoch']}; per epoch {curve}) in {result['seconds']:.0f} s"
            )
        mean = statistics.mean(result["heldout_accuracy"] for result in results)
        error = standard_error(mean, sizes["heldout"])
        print(f"ours mean over {len(results)} seed(s): {mean:.4f} (one standard error of the set ≈ {error:.3f})")
        if not args.no_baseline:
            baseline = train_tfidf_baseline(paths, args.seeds[0])
            print(
                f"bigram TF-IDF softmax: held-out accuracy {baseline['heldout_accuracy']:.4f} "
                f"in {baseline['seconds']:.0f} s"
            )
            print(
                f"ratio ours / TF-IDF: {mean / baseline['heldout_accuracy']:.3f}; "
                f"difference {100 * (mean - baseline['heldout_accuracy']):+.1f} points"
            )


if __name__ == "__main__":
    main()
