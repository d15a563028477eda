"""A sentence-level held-out split for phrase-labelled corpora such as SST-2.

SST-2's training file labels every sub-phrase of its sentences, so most long
rows of its dev file are contained in training rows and dev accuracy does not
predict accuracy on unseen sentences. This split holds out whole sentences
instead: it picks rows that no other row contains (the sentences), and removes
from training every row that occurs only inside those sentences. A sub-phrase
that also occurs inside a sentence kept for training stays, as it would for a
new sentence at test time.

Use it to choose settings without looking at the test file. Here one sentence
is held out; "still fun" occurs only inside it and leaves training, "movie"
also occurs inside a training sentence and stays:

>>> texts = [
...     "a gorgeous , witty , seductive movie .",
...     "witty , seductive",
...     "not as good as the first movie , but still fun .",
...     "still fun",
...     "movie",
... ]
>>> train_indices, heldout_indices = sentence_holdout(texts, count=1)
>>> [texts[index] for index in heldout_indices]
['not as good as the first movie , but still fun .']
>>> [texts[index] for index in train_indices]
['a gorgeous , witty , seductive movie .', 'witty , seductive', 'movie']

On SST-2's training file, `count=1000` holds out a thousand sentences
(benchmarks/classification_heldout.py).
"""

import random

MIN_SENTENCE_WORDS = 8


def sentence_holdout(texts, count=1000, min_words=MIN_SENTENCE_WORDS, seed=0):
    """Splits rows into training rows and held-out whole sentences.

    Args:
        texts: list of str. All labelled rows (phrases and sentences).
        count: int. How many sentences to hold out.
        min_words: int. Only rows of at least this many words count as sentences.
        seed: int. Which sentences are held out.

    Returns:
        (train_indices, heldout_indices): lists of row indices into `texts`.
        A held-out sentence appears once even if its row is repeated; rows
        occurring only inside held-out sentences are in neither list.

    Raises:
        ValueError: fewer than `count` sentences qualify.
    """
    words = [" ".join(text.split()) for text in texts]
    # Most words first: a row can only lie inside a row of more words.
    unique = sorted(set(words), key=lambda text: (-len(text.split()), text))
    sentences = []
    seen_text = ""  # every row of more words, space-padded, in one string for fast search
    for text in unique:
        if len(text.split()) < min_words:
            break
        padded = f" {text} "
        if padded not in seen_text:
            sentences.append(text)
        seen_text += padded + "\n"
    if len(sentences) < count:
        raise ValueError(
            f"only {len(sentences)} rows of at least {min_words} words are whole sentences; "
            f"lower `count` (got {count}) or `min_words`"
        )
    random.Random(seed).shuffle(sentences)
    held = set(sentences[:count])
    held_text = "\n".join(f" {text} " for text in held)
    # Rows outside every held-out sentence; a row inside one is kept if it also
    # occurs inside one of these.
    outside = [text for text in set(words) if f" {text} " not in held_text]
    outside_text = "\n".join(f" {text} " for text in outside)
    train_indices, heldout_indices, taken = [], [], set()
    for index, text in enumerate(words):
        if text in held:
            if text not in taken:
                heldout_indices.append(index)
                taken.add(text)
        elif f" {text} " not in held_text or f" {text} " in outside_text:
            train_indices.append(index)
    return train_indices, heldout_indices
