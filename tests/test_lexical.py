import os
import subprocess
import sys

import numpy as np
import pytest

from msa import LABELS
from msa.training import lexical
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


def test_the_saved_model_is_byte_identical_across_processes_and_predicts_the_same():
    """DVC hashes the saved models: a rerun must write the same bytes whatever the hash seed."""
    script = (
        "import hashlib\n"
        "from msa.training import lexical\n"
        "texts = ['so happy @ana #sun', 'sad rainy day', 'a photo of a car', 'happy sun'] * 4\n"
        "model = lexical.fit(texts, [2, 0, 1, 2] * 4, c=4.0)\n"
        "lexical.predict_proba(model, ['happy @ana'])\n"
        "print(hashlib.md5(lexical.dumps(model)).hexdigest())\n"
    )
    digests = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1
    texts = ["so happy @ana #sun", "sad rainy day", "a photo of a car"] * 3
    model = lexical.fit(texts, [2, 0, 1] * 3, c=4.0)
    before = lexical.predict_proba(model, texts + ["unseen words"])
    np.testing.assert_array_equal(
        lexical.predict_proba(lexical.loads(lexical.dumps(model)), texts + ["unseen words"]), before)
