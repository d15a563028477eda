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

Source spelling (`restore_spelling`): detokenization spaces punctuation by
fixed rules, which cannot know how a name with punctuation inside is written.
Where the summary holds the pieces of such a word from the document
(placeholders `#Name#`, "Mary-Jane", "J.K", "3:30pm", "e-mail"), it writes
the document's spelling: `#name #asks` becomes `#Name# asks`. A word of the
document here is `SOURCE_WORD`: optional leading `#@$`, letters or digits
with ASCII punctuation between them, an optional closing `#`; the summary
matches it with an optional space around each punctuation mark, never inside
a longer word. The longest words are restored first.

Truecasing (`restore_case`): the vocabulary is lower-cased (fewer,
better-trained tokens), so generated summaries come out lower-case. For
display, a word is written as the document writes it when the document only
ever capitalizes it away from a sentence start (names: "Amanda", "Jerry",
speaker labels), "i" becomes "I", a word not known whole is looked up by its
part before an apostrophe ("amanda's", "i'll"), and each sentence starts with
a capital.
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


# BERT's ASCII punctuation (what the tokenizer splits off), the backslash left out so
# that a document word never needs escaping in a replacement.
ASCII_PUNCTUATION = r"!-/:-@\[\]-`{-~"
_SOURCE_WORD = re.compile(rf"[#@$]*[^\W_]+(?:[{ASCII_PUNCTUATION}]+[^\W_]+)*#?")
_PUNCTUATION_MARK = re.compile(rf"[{ASCII_PUNCTUATION}]")

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_APOSTROPHE_ON = re.compile(r"['’].*", re.DOTALL)
_SENTENCE_START = re.compile(r"(^|[.!?…]\s+|\n\s*)([^\W\d_])")
_SPEAKER = re.compile(r"^\s*([^\W\d_][\w'’ -]*?):", re.MULTILINE)


def document_casing(document):
    """`{lower-case word: the capitalized form}` for words the document only capitalizes."""
    capitalized = collections.defaultdict(collections.Counter)
    lower = set()
    for line in document.splitlines():
        for match in _WORD.finditer(line):
            word = match.group()
            sentence_initial = starts_sentence(line, match.start())
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


def starts_sentence(line, index):
    """Whether the word at `line[index]` is the line's first or follows one of `.!?…:`."""
    before = previous_character(line, index)
    return not before or before in ".!?…:"


def previous_character(line, index):
    """The last non-space character of `line[:index]`, or "" (no slicing: a document of
    one long line stays linear in its length)."""
    index -= 1
    while index >= 0 and line[index].isspace():
        index -= 1
    return line[index] if index >= 0 else ""


def restore_document_form(summary, document):
    """`summary` (lower-case, detokenized) written as the document writes it:
    `restore_spelling`, then `restore_case`.

    Example:

    >>> restore_document_form("#person1 #asks #person2 #about 3: 30pm.", "#Person1#: At 3:30pm?\\n#Person2#: Ok")
    '#Person1# asks #Person2# about 3:30pm.'
    """
    return restore_case(restore_spelling(summary, document), document)


def source_words(document):
    """`{lower-cased word: the document's spelling}` of the document's words with
    punctuation inside (`SOURCE_WORD`), longest first, then in order of first
    appearance. The spelling is the first one written away from a sentence start
    ("J.K.", "#Person1#"); a word only ever written at sentence starts keeps the
    lower case ("Don't" becomes "don't")."""
    forms = {}
    for line in document.splitlines():
        for match in _SOURCE_WORD.finditer(line):
            word = match.group()
            if not _PUNCTUATION_MARK.search(word):
                continue
            key = word.lower()
            forms.setdefault(key, None)
            if forms[key] is None and not starts_sentence(line, match.start()):
                forms[key] = word
    ordered = sorted(forms, key=len, reverse=True)  # stable: ties keep their order
    return {key: forms[key] or key for key in ordered}


def spaced_word_pattern(word):
    """The regex of `word` as detokenization may space it: an optional space around
    each punctuation mark."""
    pattern = _PUNCTUATION_MARK.sub(lambda mark: " ?\\" + mark.group() + " ?", word)
    return re.sub(r"( \?)+", " ?", pattern).removeprefix(" ?").removesuffix(" ?")


def restore_spelling(summary, document):
    """`summary` with the document's spelling of its words with punctuation inside."""
    for key, word in source_words(document).items():
        pattern = spaced_word_pattern(key)
        if word.endswith("#"):
            # Detokenization glues an opening `#` to the next word: give the space back.
            summary = re.sub(
                rf"(^|\W){pattern}(\w)", lambda match: f"{match.group(1)}{word} {match.group(2)}", summary
            )
        summary = re.sub(
            rf"(^|\W){pattern}(\W|\Z)", lambda match: f"{match.group(1)}{word}{match.group(2)}", summary
        )
    return summary


def before_apostrophe(word):
    """`word` up to its first apostrophe: "Amanda's" → "Amanda", "I'll" → "I"."""
    return _APOSTROPHE_ON.sub("", word)


def restore_case(summary, document):
    """`summary` with the document's capitalization of names and sentence starts.

    Example:

    >>> restore_case("amanda baked cookies. jerry and i want some of amanda's.", "Amanda: hi\\nJerry: hey")
    "Amanda baked cookies. Jerry and I want some of Amanda's."
    """
    casing = document_casing(document)

    def form(word):
        return "I" if word == "i" else casing.get(word)

    def recase(match):
        word = match.group()
        # "amanda's", "i'll": the part before the apostrophe when the word is not known whole.
        stem = before_apostrophe(word)
        if form(word) is None and stem != word and form(stem) is not None:
            return form(stem) + word[len(stem) :]
        return form(word) or word

    text = _WORD.sub(recase, summary)
    return _SENTENCE_START.sub(lambda match: match.group(1) + match.group(2).upper(), text)
