"""The summarization vocabulary's special tokens and their ids (plain Python, no TensorFlow).

Every summarization vocabulary starts with these five tokens, so their ids are
fixed: `[PAD]` (0, the padding the models mask out), `[UNK]`, `[BOS]` (the
first decoder input), `[EOS]` (end of a summary) and `[NL]` (a line break).
The tokenizer, the searches, the text post-processing and the onnxruntime
runner all read them here.
"""

from pipelines.decoding.settings import SpecialIds

PAD_TOKEN, UNKNOWN_TOKEN, START_TOKEN, END_TOKEN, NEWLINE_TOKEN = (
    "[PAD]", "[UNK]", "[BOS]", "[EOS]", "[NL]"
)
SPECIAL_TOKENS = (PAD_TOKEN, UNKNOWN_TOKEN, START_TOKEN, END_TOKEN, NEWLINE_TOKEN)
PAD_ID, UNKNOWN_ID, START_ID, END_ID, NEWLINE_ID = range(len(SPECIAL_TOKENS))
# What the searches treat specially (pipelines.decoding).
SEARCH_IDS = SpecialIds(pad=PAD_ID, start=START_ID, end=END_ID)
# How a WordPiece continuation piece starts; pipelines.common.tokenizer's
# SUFFIX_INDICATOR, here for the modules that must not import TensorFlow.
SUFFIX_INDICATOR = "##"
