"""Summarise a text by picking its most central sentences: TF-IDF vectors, cosine similarity and PageRank (TextRank).

An extractive summary copies the most important sentences of a text, unchanged. TextRank
(Mihalcea and Tarau, 2004) decides which ones are important without any training data, by
asking which sentences resemble many other important sentences.

1. Sentence vectors. The text is split into N sentences, each sentence into lowercase
   words (stop words such as "the" removed, endings stripped so that "network" and
   "networks" are one word). Sentence d becomes a TF-IDF vector over the vocabulary:

       x[d, t] = tf(t, d) * idf(t),    idf(t) = ln((1 + N) / (1 + df(t))) + 1

   tf counts word t in sentence d; df(t) is the number of sentences containing t, so a
   word found everywhere counts little and a rare word a lot.

2. The similarity graph. Every pair of sentences is joined by an edge weighted by the
   cosine of their vectors, S[i, j] = x_i . x_j / (|x_i| |x_j|): 0 when they share no
   word, 1 when they use the same words in the same proportions. S is symmetric.

3. PageRank on the graph. A reader jumps from sentence to sentence, following an edge
   with probability proportional to its weight (T[j, i] = S[j, i] / sum_k S[j, k], no
   self-loops), and with probability 1 - d (d = 0.85, the damping) starts afresh at a
   random sentence. The share of time spent at each sentence is its score:

       s_i = (1 - d) / N + d * sum_j T[j, i] s_j

   solved by power iteration (repeat the update from s = 1/N until it stops changing).
   The scores sum to 1. A sentence scores high when it is similar to sentences that
   themselves score high: it states what the text keeps coming back to.

4. The summary: the top-scoring sentences, printed in the order of the text.

The bundled text is an essay of 34 sentences on the history of neural networks, with an
abstract of 4 sentences written by hand (fastnn.datasets.texts). The summary (4 sentences,
as many as the abstract has) is scored by ROUGE-1 against that abstract: the share of the
abstract's words it contains (recall), the share of its own words found in the abstract
(precision) and their harmonic mean F1, counted on content words. The yardstick is chance:
many random picks of 4 sentences. The learner should see TextRank's F1 well above the mean
random F1 (about 0.39 against 0.29), beating about 90% of the random picks, and a little
above the first 4 sentences of the text (a strong yardstick: an essay's opening announces
its topic). Note what extraction cannot do: a chosen sentence that starts with "They" has
lost the sentence that said who "they" were. The plot shows the similarity matrix, the scores with the chosen
sentences marked, and F1 against summary length for TextRank, the lead sentences and
random picks.

The arithmetic is a few thousand multiplications and runs in numpy whatever --backend
says; the option is there as in every lesson. Run it with

    python examples/summarization.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import lesson
import numpy as np

from fastnn.datasets.texts import load_summarization_text
from fastnn.similarity import cosine_similarity
from textrank import ENGLISH_STOP_WORDS, rouge_1, split_sentences, summarize, textrank, tfidf_vectors

SUMMARY_SENTENCES = 4        # as many as the reference abstract has
DAMPING = 0.85
RANDOM_PICKS = {True: 300, False: 2000}   # random summaries per length: quick, full
LENGTHS = {True: range(1, 7), False: range(1, 11)}


def score(summary_sentences, reference):
    """ROUGE-1 of the summary against the reference, on content words, endings stripped."""
    return rouge_1(" ".join(summary_sentences), reference, stop_words=ENGLISH_STOP_WORDS, stemmed=True)


def top_sentences(scores, n):
    """Positions of the n highest scores (equal scores: the earlier sentence), in text order."""
    return sorted(np.argsort(-scores, kind="stable")[:n].tolist())


def random_f1(sentences, reference, n, picks, rng):
    """F1 of ``picks`` random summaries of n sentences (each in text order)."""
    return np.array([score([sentences[i] for i in sorted(rng.choice(len(sentences), n, replace=False))],
                           reference)["f1"] for _ in range(picks)])


def plot(out, similarity, scores, chosen, curves):
    fig, axes = lesson.figure(1, 3, figsize=(16, 4.8))
    matrix, bars, lengths = axes[0]
    edges = similarity.copy()
    np.fill_diagonal(edges, 0.0)   # the graph has no self-loops; the 1s would drown the colour scale
    image = matrix.imshow(edges, cmap="viridis", vmin=0)
    fig.colorbar(image, ax=matrix, shrink=0.8)
    matrix.set(title="Edge weights: cosine similarity of sentences", xlabel="sentence (ticks: the summary)",
               ylabel="sentence")
    matrix.set_xticks(chosen)
    matrix.set_yticks(chosen)

    colours = ["tab:red" if i in chosen else "tab:blue" for i in range(len(scores))]
    bars.bar(np.arange(len(scores)), scores, color=colours)
    bars.axhline(1 / len(scores), color="gray", linestyle="--", label="1/N (every sentence equal)")
    bars.set(title="TextRank scores (red: the summary)", xlabel="sentence", ylabel="score (sums to 1)")
    bars.legend()

    sizes = np.array(curves["lengths"])
    mean, std = np.array(curves["random_mean"]), np.array(curves["random_std"])
    lengths.plot(sizes, curves["textrank"], marker="o", label="TextRank")
    lengths.plot(sizes, curves["lead"], marker="s", label="first n sentences")
    lengths.plot(sizes, mean, color="gray", label="random sentences (mean +- 1 sd)")
    lengths.fill_between(sizes, mean - std, mean + std, color="gray", alpha=0.25)
    lengths.set(title="ROUGE-1 F1 against the abstract", xlabel="sentences in the summary", ylabel="F1")
    lengths.legend()
    lesson.save_figure(fig, out, "summarization.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    text, reference = load_summarization_text()
    sentences = split_sentences(text)
    vectors, vocabulary = tfidf_vectors(sentences, ENGLISH_STOP_WORDS, stemmed=True)
    similarity = cosine_similarity(vectors)
    scores = textrank(similarity, damping=DAMPING)
    chosen = top_sentences(scores, SUMMARY_SENTENCES)
    summary = [sentences[i] for i in chosen]
    print(f"{len(sentences)} sentences, {len(vocabulary)} distinct content words")
    print("Summary:\n" + "\n".join(f"  [{i}] {sentences[i]}" for i in chosen))

    # The yardsticks: random picks of the same number of sentences, and the text's first sentences.
    rng = np.random.default_rng(seed)
    picks = RANDOM_PICKS[quick]
    chance = random_f1(sentences, reference, SUMMARY_SENTENCES, picks, rng)
    found = score(summary, reference)
    lead = score(sentences[:SUMMARY_SENTENCES], reference)
    print(f"ROUGE-1 F1: TextRank {found['f1']:.3f}, first {SUMMARY_SENTENCES} sentences {lead['f1']:.3f}, "
          f"random {chance.mean():.3f} +- {chance.std():.3f} over {picks} picks")

    curves = {"lengths": list(LENGTHS[quick]), "textrank": [], "lead": [], "random_mean": [], "random_std": []}
    for n in curves["lengths"]:
        curves["textrank"].append(score([sentences[i] for i in top_sentences(scores, n)], reference)["f1"])
        curves["lead"].append(score(sentences[:n], reference)["f1"])
        f1 = random_f1(sentences, reference, n, picks, rng)
        curves["random_mean"].append(float(f1.mean()))
        curves["random_std"].append(float(f1.std()))
    plot(out, similarity, scores, chosen, curves)

    return {
        "n_sentences": len(sentences), "vocabulary_size": len(vocabulary), "damping": DAMPING,
        "summary_indices": chosen, "summary": summary,
        "summarize_agrees": summarize(text, SUMMARY_SENTENCES) == summary,
        "scores": [round(float(s), 6) for s in scores], "scores_sum": float(scores.sum()),
        "similarity_symmetric": bool(np.allclose(similarity, similarity.T)),
        "similarity_range": [float(similarity.min()), float(similarity.max())],
        "textrank_f1": found["f1"], "textrank_recall": found["recall"], "textrank_precision": found["precision"],
        "lead_f1": lead["f1"], "random_f1_mean": float(chance.mean()), "random_f1_std": float(chance.std()),
        "random_picks": picks, "fraction_of_random_beaten": float(np.mean(chance < found["f1"])),
        "f1_by_length": {key: [round(v, 4) for v in values] for key, values in curves.items() if key != "lengths"},
    }


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
