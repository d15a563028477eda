"""Text classification with keras_attention layers: data in, trained run directory out.

`TextClassifier` is a fine-tuned checkpoint as one Keras object: `fit`, `evaluate`
and `predict` on raw strings, `save` as a `.keras` file, `save_run` as a run directory:

    classifier = TextClassifier.from_checkpoint("minilm", num_classes=2)
    classifier.fit(texts, class_ids, epochs=1)

The command line (`python -m pipelines.classification`) is a thin layer over
these functions; Keras users can call them and `model.fit` themselves:

    tokenizer = build_tokenizer(train_texts, vocabulary_size=16000, max_length=64)
    train_data = make_dataset(train_texts, train_ids, tokenizer=tokenizer,
                              num_classes=2, shuffle=True)
    model = build_classifier(ModelConfig(vocabulary_size=tokenizer.vocabulary_size))

examples/classification_fit.py is the complete example, from files to `fit`.

Names are imported on first use, so `import pipelines.classification` (and the
command line's `--help`) loads no TensorFlow.
"""

from pipelines.common.lazy_exports import lazy_exports

_EXPORTS = {
    "ClassifierConfig": "pipelines.classification.config",
    "DataConfig": "pipelines.classification.config",
    "Explanation": "pipelines.classification.trained",
    "LabelEncoder": "pipelines.classification.labels",
    "ModelConfig": "pipelines.classification.config",
    "TextClassifier": "pipelines.classification.text_classifier",
    "TokenizerConfig": "pipelines.classification.config",
    "TrainedClassifier": "pipelines.classification.trained",
    "TrainingConfig": "pipelines.classification.config",
    "WordPieceTokenizer": "pipelines.common.tokenizer",
    "attention_explainer": "pipelines.classification.model",
    "build_classifier": "pipelines.classification.model",
    "build_tokenizer": "pipelines.common.tokenizer",
    "classification_report": "pipelines.classification.metrics",
    "compile_classifier": "pipelines.classification.model",
    "confusion_matrix": "pipelines.classification.metrics",
    "default_config": "pipelines.classification.config",
    "evaluate_run": "pipelines.classification.evaluation",
    "make_dataset": "pipelines.classification.data",
    "read_table": "pipelines.common.tables",
    "train_classifier": "pipelines.classification.training",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra="pipelines")
