"""Shared test setup: one GBENCH_HOME per session (the toy classifier and reference statistics are
computed once and reused), never the user's real cache."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def gbench_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gbench_home")
    old = os.environ.get("GBENCH_HOME")
    os.environ["GBENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("GBENCH_HOME", None)
    else:
        os.environ["GBENCH_HOME"] = old


TINY_GENERATOR_MODULE = '''
import torch
from torch import nn


class Tiny(nn.Module):
    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(8, 3 * 4 * 4)

    def forward(self, z):
        x = torch.tanh(2 * self.net(z)).view(-1, 3, 4, 4)
        return nn.functional.interpolate(x, size=(32, 32), mode="nearest")


def make():
    torch.manual_seed(0)
    return Tiny()
'''


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """An empty GBENCH_HOME (own cache root) and torch hub dir, offline, with `tiny_gen:make` (a 32x32 generator for
    `gbench eval --generator`) importable; the extractor cache is cleared around it."""
    from gbench.evaluation.features import build_extractor

    home = tmp_path / "home"
    monkeypatch.setenv("GBENCH_HOME", str(home))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GBENCH_OFFLINE", "1")
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "tiny_gen.py").write_text(TINY_GENERATOR_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "gen"))
    build_extractor.cache_clear()
    yield home
    build_extractor.cache_clear()
