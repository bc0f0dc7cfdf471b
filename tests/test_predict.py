import numpy as np

from msa.evaluation import predict


def test_predictions_are_in_lab5_format_and_input_order(tmp_path):
    probs = np.array([[0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.2, 0.5, 0.3]])
    predict.write_predictions(["9", "3", "5"], probs, tmp_path / "p.txt")
    assert (tmp_path / "p.txt").read_text() == "guid,tag\n9,positive\n3,negative\n5,neutral\n"


def test_under_a_launch_every_process_featurizes_and_the_main_one_predicts():
    """features_of() may featurize, sharing the posts: every process calls it; the heads then
    run on the main process alone, and the others get None."""
    from msa import parallel

    class Other(parallel.Shares):
        processes, is_main = 2, False

    calls = []
    assert predict.ensemble_proba([], {"regime": "heads"}, [], lambda: calls.append(1),
                                  shares=Other()) is None
    assert calls == [1]
