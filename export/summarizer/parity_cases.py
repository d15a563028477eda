"""The inputs of the summarizer's parity gate, built from real test dialogues.

Real test dialogues in batches and one by one, greedy and beam search, a
one-token dialogue, an empty one beside a real one, one longer than the
model's input (it is cut) beside a short one, and one that repeats a name many
times (a copying summarizer sums the copy attention of every repeat: an
exported scatter that kept only one of them would show here).
"""

import re

BATCH_SIZE = 8
SINGLE_DIALOGUES = 8


class SummaryParityCase:
    """Dialogues for one row of the parity table, and how to decode them."""

    def __init__(self, name, search, batch_size, texts):
        self.name = name
        self.search = search
        self.batch_size = batch_size
        self.texts = list(texts)


def one_token_dialogue(tokenizer):
    """A vocabulary word that the tokenizer turns into exactly one token (besides
    the `[CLS]` and `[SEP]` a checkpoint's tokenizer puts around every text)."""
    framing = len(tokenizer.tokenize([""]).to_list()[0])
    for token in tokenizer.vocabulary:
        if token.isalpha() and len(tokenizer.tokenize([token]).to_list()[0]) == framing + 1:
            return token
    raise ValueError("no vocabulary token tokenizes to a single id")


def long_dialogue(texts, tokenizer, max_document_length):
    """Test dialogues joined until the text is longer than the model's input (it is cut)."""
    pieces, length = [], 0
    for text in texts * (max_document_length + 1):
        pieces.append(text)
        length += len(tokenizer.tokenize([text]).to_list()[0])
        if length > max_document_length:
            break
    return "\n".join(pieces)


def repeated_name_dialogue(texts):
    """A test dialogue with turns that say its first speaker's name over and over."""
    match = re.search(r"^\s*([^:\n]{1,40}):", texts[0], re.MULTILINE)
    name = match.group(1).strip() if match else "Anna"
    turns = [f"{name}: {name}, {name}! it's {name} again, {name} here" for _ in range(6)]
    return "\n".join(turns + [texts[0]])


def summarizer_parity_cases(texts, tokenizer, max_document_length, beams):
    """The `SummaryParityCase`s for a summarizer, given real test dialogues."""
    texts = list(texts)
    long_text = long_dialogue(texts, tokenizer, max_document_length)
    return [
        SummaryParityCase(f"test dialogues, greedy, batches of {BATCH_SIZE}", "greedy", BATCH_SIZE, texts),
        SummaryParityCase("test dialogues, greedy, batch 1", "greedy", 1, texts[:SINGLE_DIALOGUES]),
        SummaryParityCase(f"test dialogues, beam {beams}, batches of {BATCH_SIZE}", "beam", BATCH_SIZE, texts),
        SummaryParityCase("one-token dialogue", "greedy", 1, [one_token_dialogue(tokenizer)]),
        SummaryParityCase("empty dialogue + a real one", "greedy", 2, ["", texts[0]]),
        SummaryParityCase(
            f"dialogue > {max_document_length} tokens (cut) + a short one, beam {beams}",
            "beam", 2, [long_text, texts[-1]],
        ),
        SummaryParityCase(
            f"a name repeated many times, beam {beams}", "beam", 1, [repeated_name_dialogue(texts)],
        ),
        SummaryParityCase("a name repeated many times, greedy", "greedy", 1, [repeated_name_dialogue(texts)]),
    ]
