"""A small, predictable sentence splitter for ROUGE-Lsum.

ROUGE-Lsum (rouge-score's summary-level LCS) reads one sentence per line, in
the prediction and in the reference alike. nltk's punkt model is the usual
splitter but needs a download that offline machines cannot make, so the rule
here is explicit:

- existing line breaks always end a sentence;
- `.`, `!`, `?` or `…` (possibly repeated, possibly followed by closing
  quotes or brackets) end a sentence when whitespace and then a letter, digit
  or opening quote follow (any case: generated summaries are lower-cased);
- a full stop after a common abbreviation (Mr., Dr., e.g., p.m., ...) or a
  single initial ("J. Smith") does not.

It never drops or changes characters other than the whitespace it breaks at.
"""

import re

ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e a.m p.m approx no dept est fig inc ltd co "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_BOUNDARY = re.compile(r"""([.!?…]+["')\]]*)\s+(?=["'(\[]?[^\W_])""")
_LAST_WORD = re.compile(r"(\S+)$")


def split_sentences(text):
    """The sentences of `text`, in order, stripped, without empty ones.

    Example:

    >>> split_sentences("Amanda baked cookies. Jerry will get some tomorrow.")
    ['Amanda baked cookies.', 'Jerry will get some tomorrow.']
    """
    sentences = []
    for line in text.splitlines():
        sentences.extend(split_line(line))
    return [sentence for sentence in sentences if sentence]


def split_line(line):
    pieces = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        if is_abbreviation(line[start : match.start(1)], match.group(1)):
            continue
        pieces.append(line[start : match.end(1)].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return pieces


def is_abbreviation(text_before, punctuation):
    if punctuation != ".":
        return False
    last_word = _LAST_WORD.search(text_before)
    if last_word is None:
        return False
    word = last_word.group(1).lower().lstrip("(\"'")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def one_sentence_per_line(text):
    """`text` with each sentence on its own line, the form ROUGE-Lsum reads."""
    return "\n".join(split_sentences(text))
