"""The inputs of the classifier's parity gate, built from real test texts.

Real test texts in padded batches of mixed lengths and one by one, a one-token
text, empty texts (fully padded rows), a text longer than any the model saw in
training (the tokenizer truncates it), token ids three times the training
length (clients that tokenize themselves may send them; sinusoidal and rotary
positions have no limit; a learned position table gets its own length) and a
fully padded row of ids.
"""

import dataclasses

import numpy as np

BATCH_SIZE = 32
SINGLE_TEXTS = 16
SEED = 1234


@dataclasses.dataclass
class ParityCase:
    """Inputs for one row of the parity table: texts, or token ids (int32, 0 = padding)."""

    name: str
    batch_size: int
    texts: list = None
    token_ids: np.ndarray = None

    @property
    def rows(self):
        return len(self.texts) if self.texts is not None else len(self.token_ids)


def one_token_text(tokenizer):
    """A vocabulary word that the tokenizer turns into exactly one word piece (plus the
    `[CLS]`/`[SEP]` a checkpoint's tokenizer puts around every text)."""
    added = len(tokenizer.tokenize_ragged([""]).to_list()[0])
    for token in tokenizer.vocabulary:
        if token.isalpha() and len(tokenizer.tokenize_ragged([token]).to_list()[0]) == added + 1:
            return token
    raise ValueError("no vocabulary token tokenizes to a single id")


def long_text(texts, tokenizer):
    """Test texts joined until the text has more than twice the training length in tokens."""
    pieces, length = [], 0
    for text in texts * (2 * tokenizer.max_length):
        pieces.append(text)
        length += len(tokenizer.tokenize_ragged([text]).to_list()[0])
        if length > 2 * tokenizer.max_length:
            break
    return " ".join(pieces)


def long_token_ids(vocabulary_size, width, rows=4):
    """Random ids `(rows, width)`, each row padded after a different length."""
    generator = np.random.default_rng(SEED)
    token_ids = generator.integers(1, vocabulary_size, size=(rows, width)).astype(np.int32)
    for row, length in enumerate(np.linspace(width, 1, rows).astype(int)):
        token_ids[row, length:] = 0
    return token_ids


def classifier_parity_cases(test_texts, tokenizer, vocabulary_size, longest_token_ids=None):
    """The `ParityCase`s for a classifier, given real test texts.

    `longest_token_ids` is the most ids per row the model takes (None: any).
    """
    max_length = tokenizer.max_length
    long_width = min(3 * max_length, longest_token_ids or 3 * max_length)
    real_ids = tokenizer.tokenize(test_texts[:1]).numpy()[0]
    return [
        ParityCase(f"test texts, batches of {BATCH_SIZE}", BATCH_SIZE, texts=list(test_texts)),
        ParityCase("test texts, batch 1", 1, texts=list(test_texts[:SINGLE_TEXTS])),
        ParityCase("one-token text", 1, texts=[one_token_text(tokenizer)]),
        ParityCase("empty texts + a real one", 3, texts=["", "   ", test_texts[0]]),
        ParityCase(
            f"text > {2 * max_length} tokens + a short one",
            2,
            texts=[long_text(test_texts, tokenizer), test_texts[0]],
        ),
        ParityCase(
            f"token ids of length {long_width}",
            4,
            token_ids=long_token_ids(vocabulary_size, long_width),
        ),
        ParityCase(
            "fully padded row of ids",
            2,
            token_ids=np.stack([real_ids, np.zeros_like(real_ids)]).astype(np.int32),
        ),
    ]
