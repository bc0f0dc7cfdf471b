import numpy as np

from msa.evaluation import predict


def test_predictions_are_in_lab5_format_and_input_order(tmp_path):
    probs = np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.2, 0.5, 0.3]])
    predict.write_predictions(["9", "3", "5"], probs, tmp_path / "p.txt")
    assert (tmp_path / "p.txt").read_text() == "guid,tag\n9,positive\n3,negative\n5,neutral\n"
