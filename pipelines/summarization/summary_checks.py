"""What ROUGE does not show about summaries: names kept or invented, and repetition.

Plain Python over the printed (truecased) summaries, so it scores any system's
output, ours or a baseline's, the same way.

- Names a reference takes from its dialogue: capitalised words of the
  reference that the dialogue only ever capitalises (its names and speaker
  labels, `document_casing`). `names_reproduced` is the share of them that the
  generated summary writes exactly (same word, same case).
- Names a summary writes: its capitalised words other than "I" and other than
  a sentence's first word when that word is an ordinary one (written
  lower-case in the dialogue or the summary, or a function word).
  `names_invented` is the share of them that occur nowhere in the dialogue,
  in any case.
- Names are read without an ending after an apostrophe: "Amanda's" is the
  name Amanda, "He's" the function word "he".
- Repetition: the share of summaries with a word repeated back to back ("the
  Olympic Olympic center") or a content-word bigram (neither word a function
  word) written twice.
"""

import re

from pipelines.summarization.postprocessing.python_text import _WORD
from pipelines.summarization.postprocessing.python_text import before_apostrophe
from pipelines.summarization.postprocessing.python_text import document_casing

# English function words: never content words, never names at a sentence start. A
# short fixed list keeps the measure the same on every machine (no stop-word
# package download at run time).
FUNCTION_WORDS = frozenset(
    """a an the and or but if then so because as of at by for from in into on onto to
    with without about over under after before during until up down out off again
    he she it they we you i me him her them us my your his its our their this that these
    those there here what which who whom whose when where why how all any both each
    few more most other some such no nor not only own same than too very can will
    just should would could may might must shall do does did done is are was were be
    been being have has had having am let lets also yet still""".split()
)
_SENTENCE_BREAK = re.compile(r"[.!?…]\s*$|^\s*$")
_SENTENCES = re.compile(r"[.!?…\n]+")


def words_with_positions(text):
    """`(word, sentence_initial)` for each word of `text`, without endings after an apostrophe."""
    found = []
    for line in text.splitlines():
        for match in _WORD.finditer(line):
            word = before_apostrophe(match.group())
            found.append((word, bool(_SENTENCE_BREAK.search(line[: match.start()]))))
    return found


def reference_names(reference, dialogue):
    """The capitalised words of `reference` that the dialogue only ever capitalises."""
    casing = document_casing(dialogue)
    return {word for word, _ in words_with_positions(reference) if word[0].isupper() and word.lower() in casing}


def dialogue_words(dialogue):
    return [before_apostrophe(word) for word in _WORD.findall(dialogue)]


def written_names(summary, dialogue):
    """The words `summary` writes as names (see the module docstring)."""
    words = words_with_positions(summary)
    lower_case = {word for word in dialogue_words(dialogue) if word.islower()}
    lower_case |= {word for word, _ in words if word.islower()}
    names = set()
    for word, sentence_initial in words:
        if not word[0].isupper() or word == "I":
            continue
        ordinary = word.lower() in lower_case or word.lower() in FUNCTION_WORDS
        if sentence_initial and ordinary:
            continue
        names.add(word)
    return names


def repeats_itself(summary):
    """True if a word comes twice in a row or a content-word bigram comes twice (word
    pairs are read within sentences: "... Lenny. Lenny ..." is no repetition)."""
    bigrams = []
    for sentence in _SENTENCES.split(summary):
        words = [word.lower() for word in _WORD.findall(sentence)]
        pairs = list(zip(words, words[1:]))
        if any(first == second for first, second in pairs):
            return True
        bigrams += [pair for pair in pairs if not FUNCTION_WORDS.intersection(pair)]
    return len(bigrams) != len(set(bigrams))


def summary_checks(predictions, references, dialogues):
    """Names reproduced and invented, and repetition, over a set of summaries.

    Args:
        predictions: list of str. Generated summaries, as printed (truecased).
        references: list of str. Reference summaries.
        dialogues: list of str. The documents.

    Returns:
        A JSON-ready dict: `names_reproduced` and `names_invented` (shares ×
        100, with their counts) and `repetition` (share × 100 of summaries).

    Example:

    >>> summary_checks(["Ann meets Bob Bob."], ["Ann meets Bob."], ["Ann: hi Bob"])
    {'names_reproduced': 100.0, 'reference_names': 2, 'names_invented': 0.0, 'written_names': 2, 'repetition': 100.0}
    """
    if not len(predictions) == len(references) == len(dialogues):
        raise ValueError(
            f"predictions, references and dialogues differ in number: "
            f"{len(predictions)}, {len(references)}, {len(dialogues)}"
        )
    wanted = reproduced = written = invented = repeating = 0
    for prediction, reference, dialogue in zip(predictions, references, dialogues):
        names = reference_names(reference, dialogue)
        prediction_words = {word for word, _ in words_with_positions(prediction)}
        wanted += len(names)
        reproduced += len(names & prediction_words)
        mentioned = {word.lower() for word in dialogue_words(dialogue)}
        names_written = written_names(prediction, dialogue)
        written += len(names_written)
        invented += sum(name.lower() not in mentioned for name in names_written)
        repeating += repeats_itself(prediction)
    share = lambda part, whole: round(100.0 * part / whole, 2) if whole else 0.0  # noqa: E731
    return {
        "names_reproduced": share(reproduced, wanted),
        "reference_names": wanted,
        "names_invented": share(invented, written),
        "written_names": written,
        "repetition": share(repeating, len(predictions)),
    }
