"""Summarization text handling: tokenizer, data reading, tf.data batches, loss,
sentence splitting, ROUGE (checked by hand) and re-capitalization."""

import json

import numpy as np
import pytest

from pipelines.common.errors import UserInputError
from pipelines.summarization.data import DECODER_IDS
from pipelines.summarization.data import ENCODER_IDS
from pipelines.summarization.data import make_dataset
from pipelines.summarization.losses import SmoothedSparseCrossEntropy
from pipelines.summarization.pairs import read_documents
from pipelines.summarization.pairs import read_pairs
from pipelines.summarization.rouge import corpus_rouge
from pipelines.summarization.rouge import paired_bootstrap
from pipelines.summarization.sentences import split_sentences
from pipelines.summarization.tokenizer import END_ID
from pipelines.summarization.tokenizer import NEWLINE_ID
from pipelines.summarization.tokenizer import PAD_ID
from pipelines.summarization.tokenizer import SPECIAL_TOKENS
from pipelines.summarization.tokenizer import START_ID
from pipelines.summarization.tokenizer import SummarizationTokenizer
from pipelines.summarization.tokenizer import learn_vocabulary
from pipelines.summarization.postprocessing.python_text import restore_case

WORDS = ["amanda", "jerry", "i", "baked", "cookies", ".", ":", "do", "you", "want", "some", "?",
         "sure", "!", "'", "ll", "bring", "them", "tomorrow", "##s"]


@pytest.fixture(scope="module")
def tokenizer():
    return SummarizationTokenizer(list(SPECIAL_TOKENS) + WORDS)


def ids_of(tokenizer, *tokens):
    return [tokenizer.vocabulary.index(token) for token in tokens]


def test_newlines_become_a_token_and_come_back(tokenizer):
    dialogue = "Amanda: I baked cookies.\nJerry: Sure!"
    ids = tokenizer.tokenize([dialogue]).to_list()[0]
    assert ids == ids_of(tokenizer, "amanda", ":", "i", "baked", "cookies", ".") + [NEWLINE_ID] + (
        ids_of(tokenizer, "jerry", ":", "sure", "!")
    )
    text = tokenizer.detokenize([ids]).numpy()[0].decode()
    assert text == "amanda: i baked cookies.\njerry: sure!"


def test_blank_lines_and_windows_line_ends_give_one_newline(tokenizer):
    ids = tokenizer.tokenize(["  Sure!\r\n\r\n  Sure  \n"]).to_list()[0]
    assert ids == ids_of(tokenizer, "sure", "!") + [NEWLINE_ID] + ids_of(tokenizer, "sure")
    assert tokenizer.tokenize([""]).to_list() == [[]]


def test_detokenize_stops_at_end_and_drops_padding_and_start(tokenizer):
    ids = [START_ID] + ids_of(tokenizer, "jerry", "'", "ll", "bring", "cookies", ".") + [
        END_ID] + ids_of(tokenizer, "sure") + [PAD_ID, PAD_ID]
    assert tokenizer.detokenize([ids]).numpy()[0].decode() == "jerry'll bring cookies."


def test_tokenizer_save_load_round_trip(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path))
    loaded = SummarizationTokenizer.load(str(tmp_path))
    assert loaded.vocabulary == tokenizer.vocabulary
    text = ["Amanda: do you want some?\nJerry: sure"]
    assert loaded.tokenize(text).to_list() == tokenizer.tokenize(text).to_list()


def test_learned_vocabulary_starts_with_special_tokens():
    texts = ["Amanda: I baked cookies.\nJerry: Sure!"] * 5 + ["Amanda baked cookies."] * 5
    vocabulary = learn_vocabulary(texts, 100)
    assert vocabulary[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert "cookies" in vocabulary and "Amanda" not in vocabulary  # lower-cased


def test_tokenizer_rejects_a_vocabulary_without_special_tokens():
    with pytest.raises(ValueError, match="must start with"):
        SummarizationTokenizer(["[PAD]", "[UNK]", "hello"])


def write_csv(path, rows):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "dialogue", "summary"])
        writer.writerows(rows)
    return str(path)


def test_read_pairs_keeps_newlines_and_counts_bad_rows(tmp_path):
    path = write_csv(tmp_path / "pairs.csv", [
        (1, "Amanda: hi\nJerry: hey", "They greet."),
        (2, "   ", "Empty dialogue."),
        (3, "Bob: hello", ""),
        (4, "Ann: bye", " Ann leaves. "),
    ])
    pairs = read_pairs(path, "dialogue", "summary")
    assert pairs.documents == ["Amanda: hi\nJerry: hey", "Ann: bye"]
    assert pairs.summaries == ["They greet.", "Ann leaves."]
    assert pairs.line_numbers[-1] == 6  # the header and a two-line dialogue come first
    assert pairs.bad_rows.counts == {"empty_text": 1, "missing_label": 1}
    assert pairs.bad_rows.example_lines == {"empty_text": [4], "missing_label": [5]}
    assert len(read_pairs(path, "dialogue", "summary", max_rows=1)) == 1


def test_read_pairs_names_the_option_for_an_unknown_column(tmp_path):
    path = write_csv(tmp_path / "pairs.csv", [(1, "a: b", "c")])
    with pytest.raises(UserInputError, match="--summary-column"):
        read_pairs(path, "dialogue", "abstract")


def test_read_pairs_from_json_lines_counts_unparseable_lines(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        json.dumps({"document": "A: x\nB: y", "summary": "s"}) + "\n{not json\n", encoding="utf-8"
    )
    pairs = read_pairs(str(path), "document", "summary")
    assert pairs.documents == ["A: x\nB: y"] and pairs.bad_rows.counts == {"unparseable": 1}


def test_read_documents_reads_a_text_file_as_one_document(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_text("Amanda: hi\nJerry: hey\n", encoding="utf-8")
    assert read_documents(str(path), "dialogue") == ["Amanda: hi\nJerry: hey\n"]


def test_dataset_shifts_decoder_inputs_and_weights_only_real_tokens(tokenizer):
    documents = ["Amanda: I baked cookies.\nJerry: Sure!", "Jerry: sure"]
    summaries = ["Amanda baked cookies.", "Jerry"]
    dataset = make_dataset(
        documents, summaries, tokenizer=tokenizer, max_document_length=64,
        max_summary_length=16, batch_size=2,
    )
    assert int(dataset.cardinality()) == 1
    inputs, labels, weights = next(iter(dataset))
    summary_ids = ids_of(tokenizer, "amanda", "baked", "cookies", ".")
    assert inputs[DECODER_IDS].numpy().tolist() == [
        [START_ID] + summary_ids, [START_ID] + ids_of(tokenizer, "jerry") + [PAD_ID] * 3
    ]
    assert labels.numpy().tolist() == [
        summary_ids + [END_ID], ids_of(tokenizer, "jerry") + [END_ID] + [PAD_ID] * 3
    ]
    assert weights.numpy().tolist() == [[1] * 5, [1, 1, 0, 0, 0]]
    assert inputs[ENCODER_IDS].numpy()[1].tolist()[:3] == ids_of(tokenizer, "jerry", ":", "sure")


def test_dataset_cuts_long_texts_and_a_cut_summary_has_no_end(tokenizer):
    dataset = make_dataset(
        ["Amanda: I baked cookies."], ["Amanda baked cookies."], tokenizer=tokenizer,
        max_document_length=3, max_summary_length=3, batch_size=1,
    )
    inputs, labels, _ = next(iter(dataset))
    assert inputs[ENCODER_IDS].shape == (1, 3)
    assert inputs[DECODER_IDS].numpy().tolist() == [[START_ID] + ids_of(tokenizer, "amanda", "baked")]
    assert labels.numpy().tolist() == [ids_of(tokenizer, "amanda", "baked", "cookies")]


def test_shuffled_dataset_has_every_example_once_per_epoch(tokenizer):
    summaries = [f"{'cookies ' * (i % 7 + 1)}" for i in range(50)]
    documents = [f"Jerry: {'sure ' * (i % 13 + 1)}" for i in range(50)]
    dataset = make_dataset(
        documents, summaries, tokenizer=tokenizer, max_document_length=32,
        max_summary_length=16, batch_size=8, shuffle=True, seed=3,
    )
    batches = list(dataset)
    assert len(batches) == int(dataset.cardinality()) == 7
    label_lengths = sorted(int(w.sum()) for _, _, weights in batches for w in weights.numpy())
    assert label_lengths == sorted(i % 7 + 2 for i in range(50))


def test_label_smoothed_loss_matches_numpy_and_ignores_padding():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 5)).astype("float32")
    labels = np.array([[1, 4, 0], [2, 0, 0]])
    weights = (labels != 0).astype("float32")
    smoothing = 0.2
    loss = float(SmoothedSparseCrossEntropy(label_smoothing=smoothing)(labels, logits, weights))

    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    token_losses = [
        -(1 - smoothing) * log_probs[b, t, labels[b, t]] - smoothing * log_probs[b, t].mean()
        for b, t in [(0, 0), (0, 1), (1, 0)]
    ]
    assert loss == pytest.approx(np.mean(token_losses), rel=1e-5)

    changed = logits.copy()
    changed[:, 2] += 100.0  # padding positions only
    changed[1, 1] -= 50.0
    assert float(SmoothedSparseCrossEntropy(label_smoothing=smoothing)(labels, changed, weights)) == (
        pytest.approx(loss, rel=1e-6)
    )


def test_sentence_splitter():
    text = "Mr. Smith met Ann at 5 p.m. today. they'll call J. Doe! OK?\nsee you"
    assert split_sentences(text) == [
        "Mr. Smith met Ann at 5 p.m. today.", "they'll call J. Doe!", "OK?", "see you"
    ]
    assert split_sentences("  \n") == []


def test_rouge_on_a_hand_worked_example():
    # Prediction "the cat sat on the mat", reference "the cat is on the mat":
    # unigrams: 5 of 6 match both ways, F1 = 5/6; bigrams: "the cat", "on the",
    # "the mat" match, 3 of 5 both ways, F1 = 3/5; LCS "the cat on the mat" = 5.
    scores = corpus_rouge(["the cat sat on the mat"], ["the cat is on the mat"])
    assert scores == {"rouge1": 83.33, "rouge2": 60.0, "rougeLsum": 83.33}


def test_rouge_stems_and_lsum_matches_sentences_in_any_order():
    # Porter stemming: "cats" → "cat", "running" / "runs" → "run".
    assert corpus_rouge(["Cats running."], ["cat runs"])["rouge1"] == 100.0
    # Summary-level LCS over split sentences: each reference sentence finds its
    # match wherever it is, so reordered sentences score 100 (plain ROUGE-L,
    # one LCS over "alpha beta gamma delta" vs "gamma delta alpha beta", gives 50).
    scores = corpus_rouge(["Gamma delta. Alpha beta."], ["Alpha beta. Gamma delta."])
    assert scores["rougeLsum"] == 100.0
    assert scores["rouge2"] == pytest.approx(100 * 2 / 3, abs=0.01)  # "delta alpha" is extra


def test_paired_bootstrap_matches_scipys_percentile_interval():
    from scipy import stats

    rng = np.random.default_rng(3)
    baseline = rng.uniform(10, 60, 819)
    scores = baseline + rng.normal(1.0, 6.0, 819)  # better by 1 on average, noisily
    result = paired_bootstrap(scores, baseline, samples=20_000, seed=1)
    assert result["difference"] == pytest.approx(np.mean(scores - baseline), abs=1e-12)
    reference = stats.bootstrap(
        (scores - baseline,), np.mean, n_resamples=20_000, method="percentile", random_state=7
    ).confidence_interval
    assert result["low"] == pytest.approx(reference.low, abs=0.03)
    assert result["high"] == pytest.approx(reference.high, abs=0.03)
    assert result["low"] < result["difference"] < result["high"]
    # The pairing matters: the same scores shuffled against each other lose it.
    unpaired = paired_bootstrap(scores, rng.permutation(baseline), samples=2000)
    assert unpaired["high"] - unpaired["low"] > 3 * (result["high"] - result["low"])


def test_paired_bootstrap_of_equal_scores_is_zero_and_bad_input_is_refused():
    assert paired_bootstrap([3.0, 4.0, 5.0], [3.0, 4.0, 5.0], samples=100) == {
        "difference": 0.0, "low": 0.0, "high": 0.0,
    }
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([1.0, 2.0], [1.0], samples=10)


def test_corpus_rouge_is_the_mean_over_summaries():
    scores = corpus_rouge(["the cat sat on the mat", "dog"], ["the cat is on the mat", "dog"])
    assert scores["rouge1"] == pytest.approx((83.333 + 100) / 2, abs=0.01)


def test_restore_case_uses_the_documents_names():
    document = "Amanda: I baked cookies. Do you want some?\nJerry: Sure! Ask Larry too"
    summary = "amanda baked cookies and i will bring jerry and larry some. sure they want some."
    assert restore_case(summary, document) == (
        "Amanda baked cookies and I will bring Jerry and Larry some. Sure they want some."
    )
