"""Summary ids to display text with TensorFlow ops: python_text.py inside a graph.

The pipeline's tokenizer detokenizes with these ops, and the SavedModel
returns the text `summarize` prints, so detokenization and truecasing run
inside the graph. Detokenization is tensorflow-text's
`FastWordpieceTokenizer.detokenize` plus python_text.py's spacing rules (the
same patterns, read by RE2). Source spelling and truecasing are
`python_text.restore_spelling` and `restore_case` with RE2 (`tf.strings.regex_*`) in place of Python's `re`, ICU
case mapping (`tf.strings.lower/upper(encoding="utf-8")`) in place of
`str.lower/upper`. Python's Unicode classes are spelled out because RE2's
`\\w`, `\\s` and `\\d` are ASCII-only:

- `\\w` (`str.isalnum()` or `_`) → `[\\pL\\pN_]`; `[^\\W\\d_]` → `[\\pL\\p{Nl}\\p{No}]`;
  `[^\\W_]` → `[\\pL\\pN]`;
- `\\s` (`str.isspace()`) → `[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f\\x85\\p{Z}]`;
- `str.splitlines()` breaks → `[\\n\\r\\x0b\\x0c\\x1c-\\x1e\\x85\\x{2028}\\x{2029}]`;
- `c.isupper()` for a word's first letter → `[\\p{Lu}\\x{2160}-\\x{216F}]`
  (upper-case letters and Roman numerals); `word.islower()` → a lower-case
  letter and no upper- or title-case one.

Matches are found the way `finditer` finds them (leftmost, non-overlapping)
by wrapping every match of a pattern in the byte 0xFF, which never occurs in
UTF-8 text, and splitting on it: the pieces alternate between text outside
and inside matches. tests/pipelines/test_summary_postprocessing.py checks both
functions against python_text.py on SAMSum.
"""

import tensorflow as tf

from pipelines.summarization.postprocessing.python_text import ASCII_PUNCTUATION
from pipelines.summarization.postprocessing.python_text import NEWLINE_SPACING
from pipelines.summarization.postprocessing.python_text import PUNCTUATION_SPACING
from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.special_tokens import PAD_ID
from pipelines.summarization.special_tokens import START_ID

_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f\x{85}\p{Z}"
_LINE_BREAK = r"\n\r\x0b\x0c\x1c-\x1e\x{85}\x{2028}\x{2029}"
_LETTER = r"\pL\p{Nl}\p{No}"
_WORD_CHARACTER = r"\pL\pN_"
WORD = f"[{_LETTER}][{_WORD_CHARACTER}'’-]*"
SPEAKER = f"(?m)^[{_SPACE}]*[{_LETTER}][{_WORD_CHARACTER}'’ -]*?:"
SENTENCE_START = f"(^|[.!?…][{_SPACE}]+|\\n[{_SPACE}]*)[{_LETTER}]"
_UPPER_INITIAL = r"[\p{Lu}\x{2160}-\x{216F}].*"
_LOWER_WORD = r"[^\p{Lu}\p{Lt}]*\p{Ll}[^\p{Lu}\p{Lt}]*"
_MARK = b"\xff"
SOURCE_WORD = f"[#@$]*[\\pL\\pN]+(?:[{ASCII_PUNCTUATION}]+[\\pL\\pN]+)*#?"
_NOT_WORD_CHARACTER = f"[^{_WORD_CHARACTER}]"


def detokenize(wordpiece, token_ids):
    """Texts (string `(batch,)`) of int ids `(batch, length)`, dense or ragged.

    Args:
        wordpiece: the `tf_text.FastWordpieceTokenizer` of the vocabulary
            (built with `support_detokenization=True`).
        token_ids: int ids. Reading stops at the first `[EOS]`; `[PAD]` and
            `[BOS]` are dropped and `[NL]` becomes a newline.
    """
    if not isinstance(token_ids, tf.RaggedTensor):
        token_ids = tf.RaggedTensor.from_tensor(tf.convert_to_tensor(token_ids, tf.int32))
    token_ids = tf.cast(token_ids, tf.int32)
    ended = tf.cumsum(tf.cast(tf.equal(token_ids, END_ID), tf.int32), axis=1) > 0
    keep = ~ended & tf.not_equal(token_ids, PAD_ID) & tf.not_equal(token_ids, START_ID)
    text = wordpiece.detokenize(tf.ragged.boolean_mask(token_ids, keep))
    for pattern, replacement in (NEWLINE_SPACING,) + PUNCTUATION_SPACING:
        text = tf.strings.regex_replace(text, pattern, replacement)
    return text


def split_matches(text, pattern):
    """1-D pieces of a scalar string: outside, match, outside, ..., outside."""
    marked = tf.strings.regex_replace(text, pattern, _MARK + b"\\0" + _MARK)
    return tf.strings.split(marked, _MARK)


def outside_and_matches(text, pattern):
    pieces = split_matches(text, pattern)
    return pieces[0::2], pieces[1::2]


def lower(texts):
    return tf.strings.lower(texts, encoding="utf-8")


def sentence_initial(gaps):
    """Whether each word is the first of its line or follows one of `.!?…:` there.

    `gaps[i]` is the text before word i since the previous word (or the
    document start): Python's `line[:start].rstrip()` is empty or ends with
    one of those characters.
    """
    after_break = tf.strings.regex_replace(gaps, f"(?s)^.*[{_LINE_BREAK}]", "")
    has_break = tf.strings.regex_full_match(gaps, f"(?s).*[{_LINE_BREAK}].*")
    before = tf.strings.regex_replace(after_break, f"[{_SPACE}]+$", "")
    first_word = tf.equal(tf.range(tf.size(gaps)), 0)
    ends_sentence = tf.strings.regex_full_match(before, "(?s).*[.!?…:]")
    return tf.where(tf.equal(before, ""), has_break | first_word, ends_sentence)


def document_casing(document):
    """`(keys, forms)`: the lower-case words the document only capitalizes, and their form."""
    gaps, words = outside_and_matches(document, WORD)
    capital = tf.strings.regex_full_match(words, f"(?s){_UPPER_INITIAL}")
    line_forms = tf.boolean_mask(words, capital & ~sentence_initial(gaps[:-1]))
    lower_words = tf.boolean_mask(words, ~capital & tf.strings.regex_full_match(words, _LOWER_WORD))
    _, speakers = outside_and_matches(document, SPEAKER)
    speakers = tf.strings.regex_replace(speakers, f"^[{_SPACE}]*", "")
    # The speakers joined by a space have the same words, one call instead of many.
    _, speaker_words = outside_and_matches(tf.strings.reduce_join(speakers, separator=" "), WORD)
    speaker_forms = tf.boolean_mask(
        speaker_words, tf.strings.regex_full_match(speaker_words, f"(?s){_UPPER_INITIAL}")
    )
    # Counter.most_common(1) per lower-cased word: the most frequent form, the
    # first seen on a tie (line words come before speaker words).
    forms, form_index = tf.unique(tf.concat([line_forms, speaker_forms], axis=0))
    counts = tf.math.unsorted_segment_sum(tf.ones_like(form_index), form_index, tf.size(forms))
    keys, key_index = tf.unique(lower(forms))
    order = tf.range(tf.size(forms))
    rank = counts * (tf.size(forms) + 1) - order  # higher count first, then earlier
    best = tf.math.unsorted_segment_max(rank, key_index, tf.size(keys))
    chosen = tf.equal(rank, tf.gather(best, key_index))
    keys, forms = tf.boolean_mask(lower(forms), chosen), tf.boolean_mask(forms, chosen)
    always_capitalized = ~tf.reduce_any(tf.equal(keys[:, None], lower_words[None, :]), axis=1)
    return tf.boolean_mask(keys, always_capitalized), tf.boolean_mask(forms, always_capitalized)


def source_words(document):
    """`python_text.source_words` of a scalar string: `(keys, forms)`, 1-D."""
    gaps, words = outside_and_matches(document, SOURCE_WORD)
    inside = tf.strings.regex_full_match(words, f"(?s).*[{ASCII_PUNCTUATION}].*")
    initial = tf.boolean_mask(sentence_initial(gaps[:-1]), inside)
    words = tf.boolean_mask(words, inside)
    keys, key_index = tf.unique(lower(words))
    count = tf.size(keys)
    # Each key's first occurrence away from a sentence start, if any.
    positions = tf.where(initial, tf.size(words), tf.range(tf.size(words)))
    first = tf.math.unsorted_segment_min(positions, key_index, count)
    found = first < tf.size(words)
    forms = tf.where(found, tf.gather(words, tf.minimum(first, tf.maximum(tf.size(words) - 1, 0))), keys)
    rank = tf.strings.length(keys, unit="UTF8_CHAR") * (count + 1) - tf.range(count)  # longer, then earlier
    order = tf.argsort(rank, direction="DESCENDING")
    return tf.gather(keys, order), tf.gather(forms, order)


def spaced_word_patterns(words):
    """`python_text.spaced_word_pattern` of each of `words`."""
    patterns = tf.strings.regex_replace(words, f"([{ASCII_PUNCTUATION}])", r" ?\\\1 ?")
    patterns = tf.strings.regex_replace(patterns, r"( \?)+", " ?")
    return tf.strings.regex_replace(patterns, r"^ \?| \?$", "")


def restore_spelling(summary, document):
    """`python_text.restore_spelling` of two scalar strings."""
    keys, words = source_words(document)
    patterns = spaced_word_patterns(keys)
    ends_with_mark = tf.strings.regex_full_match(words, "(?s).*#")

    def restore_word(index, text):
        word, pattern = words[index], patterns[index]
        # Detokenization glues an opening `#` to the next word: give the space back.
        spaced = tf.strings.regex_replace(
            text, f"(^|{_NOT_WORD_CHARACTER})" + pattern + f"([{_WORD_CHARACTER}])", "\\1" + word + " \\2"
        )
        text = tf.where(ends_with_mark[index], spaced, text)
        text = tf.strings.regex_replace(
            text, f"(^|{_NOT_WORD_CHARACTER})" + pattern + f"({_NOT_WORD_CHARACTER}|$)", "\\1" + word + "\\2"
        )
        return index + 1, text

    _, summary = tf.while_loop(
        lambda index, _: index < tf.size(words), restore_word, (tf.constant(0), summary)
    )
    return summary


def restore_document_form(summary, document):
    """`python_text.restore_document_form` of two scalar strings."""
    return restore_case(restore_spelling(summary, document), document)


def restore_case(summary, document):
    """`python_text.restore_case` of two scalar strings."""
    keys, forms = document_casing(document)
    gaps, words = outside_and_matches(summary, WORD)
    # "i" first: it is "I" whatever the document's table says (and the table is never empty).
    keys, forms = tf.concat([["i"], keys], axis=0), tf.concat([["I"], forms], axis=0)

    def look_up(texts):
        matches = tf.equal(texts[:, None], keys[None, :])
        return tf.reduce_any(matches, axis=1), tf.gather(forms, tf.argmax(tf.cast(matches, tf.int32), axis=1))

    known, whole = look_up(words)
    stems = tf.strings.regex_replace(words, "(?s)['’].*", "")
    suffixes = tf.strings.regex_replace(words, "(?s)^[^'’]*", "")
    stem_known, stem_forms = look_up(stems)
    by_stem = ~known & stem_known & tf.not_equal(suffixes, "")
    words = tf.where(known, whole, tf.where(by_stem, stem_forms + suffixes, words))
    text = gaps[0] + tf.strings.reduce_join(words + gaps[1:])
    pieces = split_matches(text, SENTENCE_START)
    # Upper-casing the whole match changes only its letter (the rest is punctuation or space).
    is_match = tf.equal(tf.range(tf.size(pieces)) % 2, 1)
    pieces = tf.where(is_match, tf.strings.upper(pieces, encoding="utf-8"), pieces)
    return tf.strings.reduce_join(pieces)


def restore_document_form_batch(summaries, documents):
    """`restore_document_form` over 1-D string tensors of equal length."""
    return tf.map_fn(
        lambda pair: restore_document_form(pair[0], pair[1]),
        (summaries, documents),
        fn_output_signature=tf.TensorSpec([], tf.string),
    )
