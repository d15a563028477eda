"""Text classification with keras_attention layers: data in, trained run directory out.

The command line (`python -m pipelines.classification`) is a thin layer over
these functions; Keras users can call them and `model.fit` themselves:

    tokenizer = build_tokenizer(train_texts, vocabulary_size=16000, max_length=64)
    train_data = make_dataset(train_texts, train_ids, tokenizer=tokenizer,
                              num_classes=2, shuffle=True)
    model = build_classifier(ModelConfig(vocabulary_size=tokenizer.vocabulary_size))

examples/classification_fit.py is the complete example, from files to `fit`.
"""

from pipelines.common.install_extras import explain_missing

with explain_missing("pipelines"):
    from pipelines.classification.config import ClassifierConfig
    from pipelines.classification.config import DataConfig
    from pipelines.classification.config import ModelConfig
    from pipelines.classification.config import TokenizerConfig
    from pipelines.classification.config import TrainingConfig
    from pipelines.classification.config import default_config
    from pipelines.classification.data import make_dataset
    from pipelines.classification.evaluation import evaluate_run
    from pipelines.classification.labels import LabelEncoder
    from pipelines.classification.metrics import classification_report
    from pipelines.classification.metrics import confusion_matrix
    from pipelines.classification.model import attention_explainer
    from pipelines.classification.model import build_classifier
    from pipelines.classification.trained import Explanation
    from pipelines.classification.trained import TrainedClassifier
    from pipelines.classification.training import compile_classifier
    from pipelines.classification.training import train_classifier
    from pipelines.common.tables import read_table
    from pipelines.common.tokenizer import WordPieceTokenizer
    from pipelines.common.tokenizer import build_tokenizer

__all__ = [
    "ClassifierConfig",
    "DataConfig",
    "Explanation",
    "LabelEncoder",
    "ModelConfig",
    "TokenizerConfig",
    "TrainedClassifier",
    "TrainingConfig",
    "WordPieceTokenizer",
    "attention_explainer",
    "build_classifier",
    "build_tokenizer",
    "classification_report",
    "compile_classifier",
    "confusion_matrix",
    "default_config",
    "evaluate_run",
    "make_dataset",
    "read_table",
    "train_classifier",
]
