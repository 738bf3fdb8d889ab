"""Texts that ship with fastnn (plain UTF-8 files in ``fastnn/datasets/data/``), always offline.

    load_summarization_text()   -> (text, reference_summary)

``neural_networks_history.txt`` is an essay of 34 sentences in 9 paragraphs on the
history of neural networks, from the McCulloch-Pitts neuron (1943) to transformers
(2017); ``neural_networks_history_summary.txt`` is a 4-sentence abstract of it, written
by hand (not copied from the essay), the reference an extractive summary is scored
against (``rouge_1`` of the summarization lesson's examples/textrank.py). Both were
written for fastnn.
"""

from __future__ import annotations

from importlib import resources

SUMMARIZATION_TEXT = "neural_networks_history.txt"
SUMMARIZATION_REFERENCE = "neural_networks_history_summary.txt"


def read_text(name: str) -> str:
    """The bundled file ``fastnn/datasets/data/<name>`` as a str (read through importlib.resources,
    so it works from an installed wheel as from a source checkout)."""
    path = resources.files("fastnn.datasets").joinpath("data").joinpath(name)
    if not path.is_file():
        available = sorted(p.name for p in resources.files("fastnn.datasets").joinpath("data").iterdir()
                           if p.name.endswith(".txt"))
        raise FileNotFoundError(f"fastnn ships no text called {name!r} in fastnn/datasets/data; "
                                f"the bundled texts are {', '.join(available)}")
    return path.read_text(encoding="utf-8")


def load_summarization_text() -> tuple[str, str]:
    """An essay and a reference summary of it, for extractive summarisation: ``(text, reference)``.

    ``text``: the history of neural networks in 34 sentences (paragraphs separated by blank
    lines); ``reference``: its 4-sentence abstract. Both are str, whitespace as in the files.
    """
    return read_text(SUMMARIZATION_TEXT), read_text(SUMMARIZATION_REFERENCE)
