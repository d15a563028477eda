"""Names kept and invented, and repetition (`summary_checks`), on hand-made summaries."""

import doctest

import pytest

from pipelines.summarization import summary_checks as checks_module
from pipelines.summarization.summary_checks import repeats_itself
from pipelines.summarization.summary_checks import summary_checks

DIALOGUE = "Lenny: Bob, which trousers?\nBob: the black ones\nLenny: ok, see you at the Olympic center"


def test_names_the_reference_takes_from_the_dialogue_are_counted_when_written_exactly():
    references = ["Bob will buy black trousers. Lenny helps him."]
    report = summary_checks(["Bob wants to buy a black dress for Bob."], references, [DIALOGUE])
    assert report["reference_names"] == 2  # Bob, Lenny ("Olympic" is not in the reference)
    assert report["names_reproduced"] == 50.0
    report = summary_checks(["bob and lenny go shopping."], references, [DIALOGUE])
    assert report["names_reproduced"] == 0.0  # not written as the dialogue writes them


def test_invented_names_are_those_the_dialogue_never_mentions():
    report = summary_checks(
        ["Daononon asks Bob about Ms. Dististist. They meet at the Olympic center."],
        ["Lenny asks Bob."], [DIALOGUE],
    )
    # Written names: Daononon, Bob, Ms, Dististist, Olympic ("They" is an ordinary word).
    assert report["written_names"] == 5
    assert report["names_invented"] == pytest.approx(100 * 3 / 5)


def test_names_are_read_without_an_ending_after_an_apostrophe():
    """"Bob's" is the name Bob, "He's" the function word he: neither is invented, and a
    reference's "Lenny's" is reproduced by "Lenny"."""
    report = summary_checks(["Bob's trousers are black. He's seeing Lenny."], ["Lenny's friend Bob."], [DIALOGUE])
    assert report["written_names"] == 2  # Bob, Lenny
    assert report["names_invented"] == 0.0
    assert report["reference_names"] == 2 and report["names_reproduced"] == 100.0
    report = summary_checks(["Dan's trousers."], ["Bob."], [DIALOGUE])
    assert report["written_names"] == 1 and report["names_invented"] == 100.0


@pytest.mark.parametrize("summary, repeats", [
    ("the Olympic Olympic center", True),
    ("a business plan for business business", True),
    ("a business plan and another business plan", True),
    ("Bob and Lenny will meet and talk and shop.", False),  # function words may repeat
    ("Bob meets Lenny. Lenny meets Ann.", False),
])
def test_repetition_is_a_word_twice_in_a_row_or_a_content_bigram_twice(summary, repeats):
    assert repeats_itself(summary) is repeats


def test_mismatched_lengths_are_refused_and_the_example_runs():
    with pytest.raises(ValueError, match="differ in number: 1, 2, 1"):
        summary_checks(["a"], ["a", "b"], ["c"])
    assert doctest.testmod(checks_module).failed == 0
