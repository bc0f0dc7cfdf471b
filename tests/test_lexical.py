import numpy as np
import pytest

from msa import LABELS, lexical
from msa.errors import MsaError


def test_handles_and_hashtags_are_tokens_of_their_own():
    texts = ["#happy day", "#happy day", "happy day", "happy day"] * 5
    labels = [2, 2, 0, 0] * 5
    model = lexical.fit(texts, labels, c=10.0)
    probs = lexical.predict_proba(model, ["#happy", "happy"])
    assert probs[0].argmax() == 2 and probs[1].argmax() == 0


def test_probabilities_follow_labels_and_an_unseen_class_gets_zero():
    texts = ["love it @fanclub", "awful mess", "love this", "awful day"] * 3
    labels = [2, 0, 2, 0] * 3  # no neutral pair
    model = lexical.fit(texts, labels, c=4.0)
    probs = lexical.predict_proba(model, ["love", "awful", "something else"])
    assert probs.shape == (3, len(LABELS)) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    assert (probs[:, LABELS.index("neutral")] == 0).all()
    assert LABELS[probs[0].argmax()] == "positive" and LABELS[probs[1].argmax()] == "negative"
    assert lexical.predict_proba(model, []).shape == (0, len(LABELS))


def test_one_class_is_a_clear_error():
    with pytest.raises(MsaError, match="train.lexical_weight: .*two classes"):
        lexical.fit(["a b", "c d"], [1, 1], c=1.0)


def test_blend_is_the_weighted_mean():
    network = np.array([[0.2, 0.3, 0.5]], dtype=np.float32)
    lexical_probs = np.array([[0.6, 0.2, 0.2]], dtype=np.float32)
    np.testing.assert_allclose(lexical.blend(network, lexical_probs, 0.25),
                               [[0.3, 0.275, 0.425]], atol=1e-7)
    np.testing.assert_array_equal(lexical.blend(network, lexical_probs, 0.0), network)
