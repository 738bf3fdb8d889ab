"""TextRank (TF-IDF sentence vectors, cosine similarity, PageRank with damping 0.85) picks
sentences that recover more of a hand-written abstract than random sentences do."""

import random
from collections import Counter

import numpy as np
import pytest
from backend_params import BACKENDS

from example_scripts import import_helper, run_quick

from fastnn.datasets.texts import load_summarization_text

_textrank = import_helper("textrank")
ENGLISH_STOP_WORDS, split_sentences, tokenize = (_textrank.ENGLISH_STOP_WORDS, _textrank.split_sentences,
                                                 _textrank.tokenize)


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("summarization")
    return run_quick("summarization", request.param, out), out


def unigram_f1(candidate, reference):
    """ROUGE-1 F1 on stemmed content words, counted here: clipped overlap, then 2PR / (P + R)."""
    words = Counter(tokenize(candidate, ENGLISH_STOP_WORDS, stemmed=True))
    wanted = Counter(tokenize(reference, ENGLISH_STOP_WORDS, stemmed=True))
    overlap = sum((words & wanted).values())
    precision, recall = overlap / sum(words.values()), overlap / sum(wanted.values())
    return 2 * precision * recall / (precision + recall) if overlap else 0.0


def test_summary_is_sentences_of_the_text_in_text_order(results):
    numbers, _ = results
    sentences = split_sentences(load_summarization_text()[0])
    assert numbers["n_sentences"] == len(sentences)
    assert len(numbers["summary"]) == 4
    assert numbers["summary"] == [sentences[i] for i in numbers["summary_indices"]]
    assert numbers["summary_indices"] == sorted(numbers["summary_indices"])
    assert numbers["summarize_agrees"] is True


def test_scores_are_a_pagerank_distribution_and_the_summary_its_top(results):
    numbers, _ = results
    scores = np.array(numbers["scores"])
    assert numbers["scores_sum"] == pytest.approx(1.0, abs=1e-9)
    assert np.all(scores > 0)
    top = sorted(np.argsort(-scores, kind="stable")[:4].tolist())
    assert top == numbers["summary_indices"]
    assert numbers["similarity_symmetric"] is True
    low, high = numbers["similarity_range"]
    assert low >= 0.0 and high == pytest.approx(1.0)   # TF-IDF cosines: no negatives; 1 on the diagonal


def test_textrank_beats_random_sentences_by_a_margin(results):
    numbers, _ = results
    text, reference = load_summarization_text()
    sentences = split_sentences(text)
    found = unigram_f1(" ".join(numbers["summary"]), reference)
    assert numbers["textrank_f1"] == pytest.approx(found)
    # the random yardstick, drawn here independently of the script
    draw = random.Random(1234)
    chance = [unigram_f1(" ".join(sentences[i] for i in sorted(draw.sample(range(len(sentences)), 4))), reference)
              for _ in range(1000)]
    assert found > np.mean(chance) + 0.05            # about 0.39 against 0.29
    assert np.mean(np.array(chance) < found) > 0.8   # beats most random picks (about 90%)
    assert numbers["random_f1_mean"] == pytest.approx(np.mean(chance), abs=0.02)
    assert numbers["fraction_of_random_beaten"] > 0.8
    assert numbers["textrank_recall"] > 0.25


def test_plot_written(results):
    _, out = results
    assert (out / "summarization.png").stat().st_size > 0
