"""Training the attention classifier with your own `model.fit` (the README example).

Run from a folder holding SST-2's `train.tsv` and `dev.tsv` (columns `sentence`
and `label`; CSV and JSON Lines work too):

    cd ../shared/data/sst2 && python /path/to/examples/classification_fit.py

tests/pipelines/test_readme_example.py runs this file on tiny synthetic data.
"""

import keras

from pipelines.classification import LabelEncoder, ModelConfig, build_classifier
from pipelines.classification import build_tokenizer, make_dataset, read_table

train = read_table("train.tsv", text_column="sentence", label_column="label")
valid = read_table("dev.tsv", text_column="sentence", label_column="label")
labels = LabelEncoder.fit(train.labels)  # class names -> ids 0..n-1
(train_texts, train_ids), (valid_texts, valid_ids) = map(labels.encode_table, (train, valid))
tokenizer = build_tokenizer(train_texts, vocabulary_size=16000, max_length=64)
# Batches of (int32 token ids, one-hot labels); training batches are bucketed by length.
train_data = make_dataset(train_texts, train_ids, tokenizer=tokenizer,
                          num_classes=labels.num_classes, shuffle=True, seed=0)
valid_data = make_dataset(valid_texts, valid_ids, tokenizer=tokenizer,
                          num_classes=labels.num_classes)
model = build_classifier(ModelConfig(vocabulary_size=tokenizer.vocabulary_size,
                                     max_length=tokenizer.max_length,
                                     num_classes=labels.num_classes))
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-3),
              loss="categorical_crossentropy", metrics=["accuracy"])
# train_data reshuffles itself every epoch; shuffle=False stops Keras warning about it.
model.fit(train_data, validation_data=valid_data, epochs=3, shuffle=False)
