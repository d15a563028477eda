"""The int8 entry of the summarizer's parity gate: the int8 encoder and decoder step against the float ones.

Both `OnnxSummarizer`s generate summaries of the parity dialogues with the
run's default search (`beams` of its generation settings: what `summarize`
prints and what the pipeline's ROUGE evaluation scores), in batches of 8, from
the same token ids. The entry records how many generated token sequences are
identical, the token agreement (over each pair of sequences up to `[EOS]`, the
positions where both hold the same token, out of the longer one's length),
and, when the dialogues have reference summaries, the ROUGE of each, computed
as the pipeline computes it (`pipelines.summarization.rouge.corpus_rouge`).

The entry is reported, not enforced (`"passed"` is always true). Generation
feeds each token back, so one near-tie that int8 rounding tips the other way
changes the rest of the summary: identical sequences measure rounding, not
quality (86 of 100 on a SAMSum model, BENCHMARKS.md). ROUGE is the quality
figure, but on 100 dialogues its standard error is about 1.1 points (ROUGE-1,
same model), and the int8 files also answer slightly differently with the
batch (activations share one scale per batch): a bound tight enough to matter
would reject good files by chance. The figures are in parity.json for review.
"""

from export.onnx_session import INT8
from export.onnx_session import read_onnx_config
from export.parity_report import batches
from export.summarizer.onnx_runner import OnnxSummarizer
from export.summarizer.onnx_runner import tokens_until_end
from export.summarizer.parity_cases import BATCH_SIZE


def int8_entry(onnx_dir, texts, references, beams, end_id):
    """The `"int8"` entry of parity.json for the exported `onnx/` folder.

    Args:
        onnx_dir: str. The `onnx/` folder, listing its int8 files in config.json.
        texts: list of str. The parity dialogues.
        references: list. Their reference summaries (a table reads "5" as 5), or None.
        beams: int. The search (1 is greedy).
        end_id: int. The `[EOS]` id.
    """
    summarizers = {
        "onnx": OnnxSummarizer.load(onnx_dir),
        "onnx_int8": OnnxSummarizer.load(onnx_dir, precision=INT8),
    }
    outputs = {name: ([], []) for name in summarizers}
    for dialogues in batches(texts, BATCH_SIZE):
        token_ids = summarizers["onnx"].tokenize(dialogues)
        for name, summarizer in summarizers.items():
            summary_ids = summarizer.generate_ids(token_ids, beams=beams)
            outputs[name][0].extend(tokens_until_end(row, end_id) for row in summary_ids)
            outputs[name][1].extend(summarizer.texts_of(summary_ids, dialogues))
    entry = compare_int8(outputs, None if references is None else [str(summary) for summary in references])
    entry["beams"] = beams
    entry["files"] = read_onnx_config(onnx_dir)[INT8]
    return entry


def token_agreement(float_sequences, int8_sequences):
    """Positions holding the same token in both sequences, over the longer ones' total length."""
    same = total = 0
    for float_ids, int8_ids in zip(float_sequences, int8_sequences):
        same += sum(a == b for a, b in zip(float_ids, int8_ids))
        total += max(len(float_ids), len(int8_ids))
    return same / total if total else 1.0


def compare_int8(outputs, references):
    """The entry's figures from `{"onnx" | "onnx_int8": (token sequences, summaries)}`."""
    from pipelines.summarization.rouge import corpus_rouge

    (float_ids, float_texts), (int8_ids, int8_texts) = outputs["onnx"], outputs["onnx_int8"]
    identical = sum(a == b for a, b in zip(float_ids, int8_ids))
    return {
        "passed": True,
        "enforced": False,
        "rows": len(float_ids),
        "identical_sequences": identical,
        "identical_fraction": identical / len(float_ids),
        "token_agreement": token_agreement(float_ids, int8_ids),
        "rouge": None if references is None else {
            name: corpus_rouge(texts, references) for name, texts in (("onnx", float_texts), ("onnx_int8", int8_texts))
        },
        "differing_summaries": [
            {"row": row, "onnx": float_texts[row], "onnx_int8": int8_texts[row]}
            for row in range(len(float_ids))
            if float_ids[row] != int8_ids[row]
        ],
    }


def format_int8_line(entry):
    """One line for the terminal under the parity table."""
    line = (
        f"int8 ONNX vs float ONNX (beams {entry['beams']}): {entry['identical_sequences']}/{entry['rows']} "
        f"identical summaries, token agreement {entry['token_agreement']:.2%}"
    )
    if entry["rouge"] is not None:
        rouge = {name: "/".join(f"{value:.2f}" for value in scores.values()) for name, scores in entry["rouge"].items()}
        line += f", ROUGE-1/2/Lsum {rouge['onnx_int8']} (float {rouge['onnx']})"
    return line + " (reported, not enforced)"
