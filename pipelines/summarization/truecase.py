"""Restoring capital letters to a lower-cased summary, from its document.

The vocabulary is lower-cased (fewer, better-trained tokens), so generated
summaries come out lower-case. For display, a word is written as the document
writes it when the document only ever capitalizes it away from a sentence
start (names: "Amanda", "Jerry", speaker labels), "i" becomes "I", and each
sentence starts with a capital. ROUGE lower-cases everything, so scores do not
change.
"""

import collections
import re

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
