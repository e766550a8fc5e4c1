import pytest

from gbench.config import RunConfig, apply_overrides, config_from_dict
from gbench.errors import GBenchError
from gbench.experiments import resolve_config


def test_overrides_parse_to_the_declared_types():
    cfg = resolve_config("dcgan", "smoke", ["train.steps=7", "train.lr_g=0.001", "train.ema=false", "train.betas_g=0,0.99",
                                            "data.dataset=cifar10", "model.g_kwargs.g_channels=8"])
    assert cfg.train.steps == 7 and isinstance(cfg.train.steps, int)
    assert cfg.train.lr_g == pytest.approx(0.001)
    assert cfg.train.ema is False
    assert cfg.train.betas_g == (0.0, 0.99)
    assert cfg.data.dataset == "cifar10"
    assert cfg.model.g_kwargs["g_channels"] == 8


def test_presets_differ_and_hash_is_stable():
    paper, smoke = resolve_config("dcgan"), resolve_config("dcgan", "smoke")
    assert paper.data.dataset == "cifar10" and smoke.data.dataset == "shapes32"
    assert paper.eval.protocol == "cifar10-50k" and smoke.eval.protocol == "toy-shapes32"
    assert smoke.hash() == resolve_config("dcgan", "smoke").hash()
    assert smoke.hash() != resolve_config("dcgan", "smoke", ["train.steps=151"]).hash()
    assert smoke.hash() != resolve_config("dcgan", "smoke", seed=1).hash()


@pytest.mark.parametrize("override, message", [
    ("train.stepz=5", "did you mean 'train.steps'"),
    ("trian.steps=5", "did you mean 'train'"),
    ("train.steps=five", "cannot read 'five' as int"),
    ("train.ema=maybe", "as bool"),
    ("train.steps", "expects key=value"),
    ("train.steps.x=1", "has no sub-keys"),
])
def test_bad_overrides_are_one_line_errors(override, message):
    with pytest.raises(GBenchError, match=message.replace("(", r"\(")):
        resolve_config("dcgan", "smoke", [override])


def test_unknown_experiment_and_preset_suggest():
    with pytest.raises(GBenchError, match="did you mean 'dcgan'"):
        resolve_config("dcgann")
    with pytest.raises(GBenchError, match="did you mean 'smoke'"):
        resolve_config("dcgan", "smok")


def test_programmatic_override_type_check():
    cfg = RunConfig(experiment="x")
    with pytest.raises(GBenchError, match="expected int"):
        apply_overrides(cfg, {"train.steps": "10"})
    assert apply_overrides(cfg, {"train.lr_g": 1}).train.lr_g == 1


def test_config_round_trips_through_json_dict():
    cfg = resolve_config("dcgan", "smoke", ["train.betas_d=0,0.9"])
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and again.hash() == cfg.hash()
