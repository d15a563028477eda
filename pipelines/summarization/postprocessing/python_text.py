"""Summary ids to display text in plain Python: detokenization and truecasing.

graph_text.py does the same with TensorFlow ops (the pipeline's tokenizer and
the SavedModel); this side serves the pipeline's `generate` (truecasing) and
the onnxruntime runner, which has no TensorFlow. Both give identical strings
(tests/pipelines/test_summary_postprocessing.py, on SAMSum).

Detokenization (`detokenize`): reading stops at `[EOS]`, `[PAD]` and `[BOS]`
are dropped, tokens are joined as tensorflow-text's
`FastWordpieceTokenizer.detokenize` joins them (a `##` piece continues the
previous token; one with nothing before it keeps its `##`), `[NL]` becomes a
newline and `PUNCTUATION_SPACING` restores ordinary spacing. The patterns are
written so that RE2 (the graph) and Python's `re` with `re.ASCII` read them
alike: RE2's `\s` lacks `\v`, hence the explicit space class.

Truecasing (`restore_case`): the vocabulary is lower-cased (fewer,
better-trained tokens), so generated summaries come out lower-case. For
display, a word is written as the document writes it when the document only
ever capitalizes it away from a sentence start (names: "Amanda", "Jerry",
speaker labels), "i" becomes "I", and each sentence starts with a capital.
ROUGE lower-cases everything, so scores do not change.
"""

import collections
import re

from pipelines.summarization.special_tokens import END_ID
from pipelines.summarization.special_tokens import PAD_ID
from pipelines.summarization.special_tokens import START_ID
from pipelines.summarization.special_tokens import SUFFIX_INDICATOR

# Detokenized WordPiece puts spaces around punctuation ("bob ' s car .").
# ROUGE ignores punctuation either way. `(pattern, replacement)`, in order.
NEWLINE_SPACING = (r" ?\[NL\] ?", "\n")
PUNCTUATION_SPACING = (
    (r"(^|[\t\n\f\r ])##", r"\1"),  # a word-continuation piece with no word to continue
    (r" +([.,!?;:%)\]}])", r"\1"),
    (r"([(\[{$#]) +", r"\1"),
    (r"(\w) ' (\w)", r"\1'\2"),
    (r"(\w) - (\w)", r"\1-\2"),
)
_SPACING = tuple(
    (re.compile(pattern, re.ASCII), replacement)
    for pattern, replacement in (NEWLINE_SPACING,) + PUNCTUATION_SPACING
)


def detokenize(token_ids, vocabulary):
    """The text of one summary's ids (a sequence of int), as `SummarizationTokenizer.detokenize`.

    Example:

    >>> detokenize([7, 8, 5, 9, 3, 8], ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[NL]", ".", "?", "bob", "##s", "ok"])
    'bobs. ok'
    """
    pieces = []
    for token_id in token_ids:
        token_id = int(token_id)
        if token_id == END_ID:
            break
        if token_id in (PAD_ID, START_ID):
            continue
        token = vocabulary[token_id]
        if pieces and token.startswith(SUFFIX_INDICATOR) and len(token) > len(SUFFIX_INDICATOR):
            pieces[-1] += token[len(SUFFIX_INDICATOR) :]
        else:
            pieces.append(token)
    text = " ".join(pieces)
    for pattern, replacement in _SPACING:
        text = pattern.sub(replacement, text)
    return text


_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SENTENCE_START = re.compile(r"(^|[.!?…]\s+|\n\s*)([^\W\d_])")
_SPEAKER = re.compile(r"^\s*([^\W\d_][\w'’ -]*?):", re.MULTILINE)


def document_casing(document):
    """`{lower-case word: the capitalized form}` for words the document only capitalizes."""
    capitalized = collections.defaultdict(collections.Counter)
    lower = set()
    for line in document.splitlines():
        for match in _WORD.finditer(line):
            word = match.group()
            before = previous_character(line, match.start())
            sentence_initial = not before or before in ".!?…:"
            if word[0].isupper():
                if not sentence_initial:
                    capitalized[word.lower()][word] += 1
            elif word.islower():
                lower.add(word)
    for speaker in _SPEAKER.findall(document):
        for word in _WORD.findall(speaker):
            if word[0].isupper():
                capitalized[word.lower()][word] += 1
    return {
        word: forms.most_common(1)[0][0]
        for word, forms in capitalized.items()
        if word not in lower
    }


def previous_character(line, index):
    """The last non-space character of `line[:index]`, or "" (no slicing: a document of
    one long line stays linear in its length)."""
    index -= 1
    while index >= 0 and line[index].isspace():
        index -= 1
    return line[index] if index >= 0 else ""


def restore_case(summary, document):
    """`summary` with the document's capitalization of names and sentence starts.

    Example:

    >>> restore_case("amanda baked cookies. jerry and i want some.", "Amanda: hi\\nJerry: hey")
    'Amanda baked cookies. Jerry and I want some.'
    """
    casing = document_casing(document)

    def recase(match):
        word = match.group()
        if word == "i":
            return "I"
        return casing.get(word, word)

    text = _WORD.sub(recase, summary)
    return _SENTENCE_START.sub(lambda match: match.group(1) + match.group(2).upper(), text)
