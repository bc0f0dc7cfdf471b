import pytest

from msa import params
from msa.params import ParamsError
from conftest import REPO


def test_repo_params_load_and_match_defaults():
    loaded = params.load(REPO / "params.yaml")
    assert loaded.mode in params.MODES
    assert loaded.fold.n_splits == 5
    assert loaded.featurize.text_model == "all-MiniLM-L6-v2"
    assert loaded.train.lr == pytest.approx(1e-3)
    # every key is spelt out in params.yaml, with the dataclass defaults
    assert loaded == params.Params(data=params.DataParams(root="data/demo"))


@pytest.mark.parametrize("raw, key, allowed", [
    ({"mode": "audio"}, "mode", "text, image, multimodal"),
    ({"fold": {"n_splits": 1}}, "fold.n_splits", ">= 2"),
    ({"train": {"patience": -1}}, "train.patience", ">= 1"),
    ({"train": {"lr": -0.1}}, "train.lr", "> 0"),
    ({"augment": {"views": 0}}, "augment.views", ">= 1"),  # none: augment.enabled false
    ({"augment": {"enabled": "no"}}, "augment.enabled", "true or false"),
    ({"train": {"pateince": 3}}, "train.pateince", "patience"),
    ({"train": {"encoder_lr": 1e-5}}, "train.encoder_lr", "moved; set train.text_encoder_lr"),
    ({"trian": {}}, "trian", "train"),
    ({"train": {"epochs": "many"}}, "train.epochs", "integer"),
    ({"train": {"attention_heads": 3}}, "train.attention_heads", "divides train.hidden_dim"),
    ({"featurize": {"text_pooling": "max"}}, "featurize.text_pooling", "mean, cls"),
    ({"train": {"class_weight_power": 2}}, "train.class_weight_power", "1: balanced"),
    ({"train": {"text_top_layers": 0}}, "train.text_top_layers", ">= 1"),
    ({"train": {"text_encoder_lr": 0}}, "train.text_encoder_lr", "> 0"),
    ({"featurize": {"text_tuned_layers": 2}}, "featurize.text_tuned_layers",
     "moved; set train.text_tuning: top and train.text_top_layers N"),
    ({"train": {"text_lr": 0.001}}, "train.text_lr", "moved; set train.text_encoder_lr"),
    ({"train": {"text_tuning": "lora"}}, "train.text_tuning",
     "lora is not run under train.regime heads"),
    ({"train": {"text_tuning": "full"}}, "train.text_tuning",
     "full is not run under train.regime heads"),
    ({"train": {"early_stopping": "never"}}, "train.early_stopping", "none, holdout, refit, fold"),
    ({"train": {"holdout_fraction": 0}}, "train.holdout_fraction", "(0, 0.5]"),
    ({"fold": {"seed": -1}}, "fold.seed", "[0, 2**32)"),
    ({"fold": {"group": "image"}}, "fold.group", "none, text"),
    ({"seed": -1}, "seed", "[0, 10**6)"),
    ({"seed": 10**6}, "seed", "[0, 10**6)"),
    ({"train": {"lexical_weight": 1.5}}, "train.lexical_weight", "0: the network alone"),
    ({"train": {"lexical_c": 0}}, "train.lexical_c", "> 0"),
    ({"augment": {"seed": 2**32}}, "augment.seed", "[0, 2**32)"),
])
def test_wrong_param_names_key_and_allowed_values(raw, key, allowed):
    with pytest.raises(ParamsError) as error:
        params.from_dict(raw)
    message = str(error.value)
    assert message.startswith(key + ":")
    assert allowed in message
    assert "\n" not in message


def test_yaml_scientific_notation_without_dot_is_a_number(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train:\n  lr: 5e-4\n", encoding="utf-8")
    assert params.load(path).train.lr == pytest.approx(5e-4)


def test_yaml_words_dvc_reads_as_strings_stay_strings(tmp_path):
    """`dvc exp run -S data.root=off` writes `off` unquoted; DVC reads a string, as we must."""
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  root: off\n", encoding="utf-8")
    assert params.load(path).data.root == "off"
    path.write_text("mode: no\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="mode: 'no' is not allowed"):
        params.load(path)
    path.write_text("featurize:\n  text_model: true\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="featurize.text_model: expected a string, got True"):
        params.load(path)


def test_missing_params_file_is_a_clear_error(tmp_path):
    with pytest.raises(ParamsError, match="params file not found"):
        params.load(tmp_path / "nope.yaml")


def test_a_misspelt_key_names_the_nearest_keys():
    """`dvc exp run -S train.patiance=5` writes the typo into params.yaml (DVC suggests the +);
    msa then says which key was meant."""
    for raw, message in [
        ({"train": {"patiance": 5}}, "train.patiance: unknown key; did you mean train.patience? "),
        ({"featurize": {"text_modl": "x"}}, "featurize.text_modl: unknown key; did you mean "
                                            "featurize.text_model or featurize.text_pooling? "),
        ({"trian": {}}, "trian: unknown key; did you mean train? "),
        ({"train": {"xyz": 1}}, "train.xyz: unknown key; the keys here are epochs, "),
    ]:
        with pytest.raises(ParamsError) as error:
            params.from_dict(raw)
        assert str(error.value).startswith(message), str(error.value)


@pytest.mark.parametrize("raw, message", [
    ({"train": {"early_stopping": "none", "patience": 7}},
     "train.patience: 7 is never read while train.early_stopping is none"),
    ({"train": {"early_stopping": "none", "monitor": "val_loss"}},
     "train.monitor: 'val_loss' is never read while train.early_stopping is none"),
    ({"train": {"early_stopping": "fold", "holdout_fraction": 0.2}},
     "train.holdout_fraction: 0.2 is never read while train.early_stopping is fold"),
    ({"featurize": {"image_weights": "w.pt"}},
     "featurize.image_weights: 'w.pt' is never read while featurize.image_model is "
     "efficientnet_lite0"),
    ({"train": {"text_encoder_lr": 0.001}},
     "train.text_encoder_lr: 0.001 is never read while train.text_tuning is auto (frozen under "
     "train.regime heads)"),
    ({"train": {"text_tuning": "frozen", "text_encoder_lr": 0.001}},
     "train.text_encoder_lr: 0.001 is never read while train.text_tuning is frozen"),
    ({"train": {"text_top_layers": 3}},
     "train.text_top_layers: 3 is never read while train.text_tuning is auto (frozen under "
     "train.regime heads)"),
    ({"train": {"regime": "finetune", "text_tuning": "lora", "text_top_layers": 3}},
     "train.text_top_layers: 3 is never read while train.text_tuning is lora"),
    ({"train": {"lexical_weight": 0, "lexical_c": 1}},
     "train.lexical_c: 1.0 is never read while train.lexical_weight is 0"),
    ({"augment": {"enabled": False, "blur_p": 0.5}},
     "augment.blur_p: 0.5 is never read while augment.enabled is false"),
    ({"augment": {"enabled": False, "views": 2}},
     "augment.views: 2 is never read while augment.enabled is false"),
    ({"train": {"regime": "finetune"}, "augment": {"views": 2}},
     "augment.views: 2 is never read while train.regime is finetune"),
    ({"train": {"regime": "finetune"}, "featurize": {"image_batch_size": 16}},
     "featurize.image_batch_size: 16 is never read while train.regime is finetune"),
    ({"data": {"test_fraction": 0.2}},
     "data.test_fraction: 0.2 is never read while data.format is lab5"),
    ({"data": {"format": "manifest", "test_list": "t.txt"}},
     "data.test_list: 't.txt' is never read while data.format is manifest"),
    ({"data": {"format": "mvsa_single", "columns": {"label": "y"}}},
     "data.columns.label: 'y' is never read while data.format is mvsa_single"),
    ({"data": {"manifest_file": "p.jsonl"}},
     "data.manifest_file: 'p.jsonl' is never read while data.format is lab5"),
    ({"data": {"format": "mvsa_multiple", "test_list": "t.txt", "test_fraction": 0.3}},
     "data.test_fraction: 0.3 is never read while data.test_list names the test posts"),
    ({"train": {"image_encoder_lr": 1e-5}},
     "train.image_encoder_lr: 1e-05 is never read while train.regime is heads"),
    ({"train": {"image_tuning": "lora"}},  # LoRA under heads
     "train.image_tuning: 'lora' is never read while train.regime is heads"),
    ({"train": {"regime": "finetune", "image_tuning": "frozen", "image_encoder_lr": 1e-4}},
     "train.image_encoder_lr: 0.0001 is never read while train.image_tuning is frozen"),
    ({"train": {"regime": "finetune", "lora_rank": 4}},
     "train.lora_rank: 4 is never read while no encoder is tuned by lora"),
    ({"train": {"regime": "finetune", "image_tuning": "lora", "text_lora_targets": "query"}},
     "train.text_lora_targets: 'query' is never read while train.text_tuning is auto (full under "
     "train.regime finetune)"),
])
def test_a_knob_the_other_settings_leave_unread_is_refused_naming_both(raw, message):
    with pytest.raises(ParamsError) as error:
        params.from_dict(raw)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("raw", [
    {"train": {"early_stopping": "none", "patience": 3, "monitor": "val_macro_f1"}},  # defaults
    {"train": {"early_stopping": "holdout", "patience": 7, "holdout_fraction": 0.2}},
    {"train": {"early_stopping": "refit", "monitor": "val_loss", "holdout_fraction": 0.2}},
    {"train": {"early_stopping": "fold", "patience": 7}},
    {"featurize": {"image_model": "resnet50", "image_weights": "random"}},
    {"featurize": {"image_model": "mobilenetv3_small_050", "image_weights": "random"}},
    {"launch": "gpu", "train": {"regime": "finetune", "text_encoder_lr": 1e-5,
                                "mixed_precision": "no", "gradient_accumulation_steps": 2,
                                "num_workers": 0}},
    # CLMLF's recipe: the text encoder tuned at a low rate, the image encoder frozen
    {"train": {"regime": "finetune", "image_tuning": "frozen", "text_encoder_lr": 5e-6}},
    {"train": {"regime": "finetune", "text_tuning": "lora", "image_tuning": "lora",
               "lora_rank": 4, "image_lora_targets": "conv_pw"}},
    {"launch": "cpu_2proc"},  # featurize and predict run on the launch under heads too
    # knobs that only the mode leaves unread stay allowed: an ablation runs every mode on one set
    {"mode": "image", "train": {"text_tuning": "top", "text_top_layers": 3,
                                "lexical_weight": 0.5, "text_encoder_lr": 0.001}},
    # one text tuning in both regimes: the top layers, at the one text rate
    {"train": {"text_tuning": "top", "text_encoder_lr": 1e-4}},
    {"train": {"regime": "finetune", "text_tuning": "top", "text_top_layers": 1,
               "text_encoder_lr": 1e-4}},
    {"data": {"format": "mvsa_multiple", "test_fraction": 0.2, "test_seed": 3}},
    {"data": {"format": "mvsa_single", "test_list": "t.txt"}},
    {"data": {"format": "manifest", "manifest_file": "p.jsonl", "columns": {"text": "body"}}},
])
def test_knobs_that_are_read_or_at_their_default_are_accepted(raw):
    params.from_dict(raw)


def test_every_param_is_declared_once_with_its_help_and_spelt_out_in_params_yaml():
    import yaml

    described = params.describe()
    assert all(help_text.strip() for _, _, help_text in described)
    keys = [key for key, _, _ in described]
    assert len(keys) == len(set(keys))

    def flat(raw, prefix=""):
        return [k for name, value in raw.items()
                for k in (flat(value, f"{prefix}{name}.") if isinstance(value, dict)
                          else [prefix + name])]

    assert flat(yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))) == keys
    by_key = {key: text for key, _, text in described}
    assert by_key["train.lexical_weight"].endswith("[a number in [0, 1] (0: the network alone)]")
    assert by_key["train.monitor"].endswith("[val_loss | val_accuracy | val_macro_f1]")


def test_a_moved_key_says_where_it_went():
    with pytest.raises(ParamsError, match=r"^train.launch: moved; set the top-level launch "
                                          "instead, which featurize and predict now run on too$"):
        params.from_dict({"train": {"launch": "multi_gpu"}})
