"""The lexical view of a post's text: TF-IDF over word and character n-grams, and a logistic
regression, whose class probabilities are blended with the network's.

The sentence encoder reads a post through a WordPiece vocabulary made for prose, so the strings
that tweets repeat (a user handle, a hashtag, a retweeted account, a shop's catalogue words)
reach it blurred. A linear model over the exact n-grams keeps them. On lab5 it is a weaker
classifier than the network alone (about 0.67 accuracy against 0.70 for text) and the two err
differently, so a blend of the two beats either.
"""

from __future__ import annotations

import pickle

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_union

from msa import LABELS
from msa.errors import MsaError


def fit(texts: list[str], labels: list[int], c: float) -> Pipeline:
    """A TF-IDF + logistic-regression pipeline fitted on texts with label indices into LABELS."""
    if len(set(labels)) < 2:
        raise MsaError("train.lexical_weight: the lexical model needs two classes among the "
                       "training pairs; set train.lexical_weight: 0")
    vectorizer = make_union(
        # Words keep a leading @ or #: a handle or hashtag is not the plain word.
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                        token_pattern=r"[@#]?\w+"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True),
    )
    model = Pipeline([("tfidf", vectorizer),
                      ("classifier", LogisticRegression(C=c, max_iter=2000))])
    return model.fit(texts, labels)


def predict_proba(model: Pipeline, texts: list[str]) -> np.ndarray:
    """float32 [texts, len(LABELS)]; a class the training pairs lacked gets probability 0."""
    probs = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    if texts:
        probs[:, model.classes_] = model.predict_proba(texts)
    return probs


def dumps(model: Pipeline) -> bytes:
    """The pickled model, byte-identical from run to run (DVC hashes the saved models)."""
    for _, part in model.named_steps["tfidf"].transformer_list:
        # Two attributes differ from process to process: a set of pruned terms, kept for
        # introspection, and the id() that a cache check stores on every transform. Neither is
        # needed to predict.
        part.stop_words_ = None
        vars(part).pop("_stop_words_id", None)
    return pickle.dumps(model)


def loads(payload: bytes) -> Pipeline:
    return pickle.loads(payload)


def blend(network_probs: np.ndarray, lexical_probs: np.ndarray, weight: float) -> np.ndarray:
    return ((1 - weight) * network_probs + weight * lexical_probs).astype(np.float32)
