"""gbench.official: every format imported from a file the test writes in the official layout.

Each test builds a small gbench model with random weights, writes its tensors under the official key names, shapes
and container (DataParallel prefixes, numpy extras, Chainer paths, NVlabs persistent pickles), imports the file and
checks the imported model against the same tensors loaded by hand: either a functional forward written here from the
official code (TransGAN's relative-position gather, the U-Net's nested blocks, ajbrock's / Chainer's test-time
spectral norm, ADA's label mapping) or the source model. Written gbench checkpoints are read back through
``gbench.evaluation.sources.from_checkpoint``. Wrong layouts and malicious files must fail with one line and run nothing.
"""

from __future__ import annotations

import collections
import re
import contextlib
import math
import os
import pickle
import sys
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import parametrize

import gbench.official as official
from gbench.errors import GBenchError
from gbench.experiments import resolve_config
from gbench.evaluation.sources import from_checkpoint
from gbench.official import transgan_v1
from gbench.models import build_models


# ------------------------------------------------------------------------------------------------ helpers


def build(experiment: str, overrides=()):
    G, D = build_models(resolve_config(experiment, "paper", list(overrides)))
    return G.eval(), D.eval()


def randomize(module, seed: int, scale: float = 0.2):
    """Random values in every float parameter and buffer (positive variances), so no mapping error can hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if isinstance(t, torch.Tensor) and t.is_floating_point():
                value = torch.randn(t.shape, generator=g) * scale
                t.copy_(value.abs() + 0.5 if name.endswith("running_var") else value)
    return module


def remove_spectral_norm(module, weights: dict):
    """Strip gbench's spectral-norm parametrizations and set the given (hand-normalised) weights, by module name."""
    for name, sub in module.named_modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=False)
            with torch.no_grad():
                sub.weight.copy_(weights[name])
    return module


def sigma_one_step(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """ajbrock layers.power_iteration / Chainer max_singular_value at test time: one step from u, sigma = v W^T u'^T."""
    w = weight.reshape(weight.shape[0], -1)
    v = F.normalize(u.reshape(1, -1) @ w, eps=1e-12)
    u2 = F.normalize(v @ w.t(), eps=1e-12)
    return (v @ w.t() @ u2.t()).squeeze()


def assert_one_line(exc_info, *fragments):
    message = str(exc_info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


def round_trip(tmp_path, result, z, y=None, extra=()):
    """to_gbench_checkpoint, then the existing checkpoint reader builds the experiment's generator and gives the same images."""
    path = official.to_gbench_checkpoint(result, None, tmp_path / "imported.pt")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    assert set(blob) >= {"trainer", "config_hash", "imported"} and blob["imported"]["format"] == result.format
    source = from_checkpoint(path, result.experiment, "paper")  # the file's own overrides are applied automatically
    want = "G_ema" if "G_ema" in result.modules else "G"
    assert source.details["generator"] == ("EMA" if want == "G_ema" else "G")
    G = source.generator.eval()
    outputs = []
    for module in (result.modules[want], G):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # the same noise for generators that draw it (StyleGAN2, TransGAN's noise injection)
            outputs.append(module(z) if y is None else module(z, y))
    torch.testing.assert_close(*outputs, rtol=0, atol=0)
    return blob


# ------------------------------------------------------------------------------------------------ TransGAN

TRANSGAN_SMALL = ("model.g_kwargs.latent_dim=16", "model.g_kwargs.embed_dim=64", "model.g_kwargs.depths=[2,1,1]",
                  "model.d_kwargs.embed_dim=32", "model.d_kwargs.depth=2")


def official_swin_index(window: int) -> torch.Tensor:
    """models_search/ViT_custom_rp.py Attention.__init__, step by step."""
    coords = torch.stack(torch.meshgrid([torch.arange(window), torch.arange(window)], indexing="ij"))
    flat = torch.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += window - 1
    rel[:, :, 1] += window - 1
    rel[:, :, 0] *= 2 * window - 1
    return rel.sum(-1)


def official_transgan_forward(sd: dict, z: torch.Tensor, stages: list[list[str]], norm: str, bottom: int, heads: int = 4):
    """The official generators' forward (v1 TransGAN_8_8_*, HEAD ViT_custom_rp) on official-layout tensors.
    ``stages``: the block key prefixes of every stage; ``norm``: "norm1.weight" style (v1) or "norm1.norm.weight" (HEAD)."""
    def block(x, p):
        B, N, C = x.shape
        def ln(x, n):
            key = f"{p}{n}.norm." if norm == "head" else f"{p}{n}."
            return F.layer_norm(x, (C,), sd[key + "weight"], sd[key + "bias"])
        h = ln(x, "norm1")
        q, k, v = F.linear(h, sd[p + "attn.qkv.weight"]).reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * (C // heads) ** -0.5
        if p + "attn.relative_position_bias_table" in sd:
            table, index = sd[p + "attn.relative_position_bias_table"], sd[p + "attn.relative_position_index"]
            attn = attn + table[index.view(-1)].view(N, N, -1).permute(2, 0, 1).unsqueeze(0)
        h = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, C)
        x = x + F.linear(h, sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        h = F.linear(ln(x, "norm2"), sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])
        h = h * 0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))
        return x + F.linear(h, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])

    x = F.linear(z, sd["l1.weight"], sd["l1.bias"]).view(z.shape[0], bottom ** 2, -1) + sd["pos_embed_1"]
    H = bottom
    for s, prefixes in enumerate(stages):
        if s > 0:  # pixel_upsample
            B, N, C = x.shape
            x = torch.nn.PixelShuffle(2)(x.permute(0, 2, 1).reshape(B, C, H, H))
            H *= 2
            x = x.reshape(B, C // 4, H * H).permute(0, 2, 1) + sd[f"pos_embed_{s + 1}"]
        for p in prefixes:
            x = block(x, p)
    B, N, C = x.shape
    return F.conv2d(x.permute(0, 2, 1).reshape(B, C, H, H), sd["deconv.0.weight"], sd["deconv.0.bias"])


def transgan_v1_generator_state(G) -> dict:
    """gbench -> v1 names (models/TransGAN_8_8_1.py), written out by hand, plus the unused to_rgb BatchNorm2d."""
    out = {}
    for key, t in G.state_dict().items():
        if key == "locality._extra_state":
            continue
        parts = key.split(".")
        if parts[0] == "latent_to_tokens":
            name = "l1." + parts[1]
        elif parts[0] == "pos_embeds":
            name = f"pos_embed_{int(parts[1]) + 1}"
        elif parts[0] == "stages":
            stage, block, rest = int(parts[1]), parts[2], ".".join(parts[3:])
            name = f"blocks.{block}.{rest}" if stage == 0 else f"upsample_blocks.{stage - 1}.{block}.{rest}"
        elif parts[0] == "to_rgb":
            name = "deconv.0." + parts[1]
        else:
            raise AssertionError(key)
        out[name] = t.clone()
    width = G.widths[0]
    out.update({"to_rgb.0.weight": torch.ones(width), "to_rgb.0.bias": torch.zeros(width), "to_rgb.0.running_mean": torch.zeros(width),
                "to_rgb.0.running_var": torch.ones(width), "to_rgb.0.num_batches_tracked": torch.tensor(0)})
    return out


def dataparallel(state: dict) -> dict:
    return {"module." + k: v for k, v in state.items()}


def test_transgan_v1_checkpoint_imports_and_matches_the_official_forward(tmp_path):
    overrides = ("train.co_train_sr=false",) + TRANSGAN_SMALL
    G, D = build("transgan-s", overrides)
    G_avg = randomize(build("transgan-s", overrides)[0], 2)
    randomize(G, 1), randomize(D, 3)
    ckpt = {"epoch": 320, "gen_model": "TransGAN_8_8_G2_1", "dis_model": "ViT_8_8",
            "gen_state_dict": dataparallel(transgan_v1_generator_state(G)), "dis_state_dict": dataparallel(D.state_dict()),
            "avg_gen_state_dict": dataparallel(transgan_v1_generator_state(G_avg)),
            "gen_optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.0, 0.99), "params": [0, 1]}]},
            "dis_optimizer": {"state": {}, "param_groups": []}, "best_fid": np.float64(11.89),
            "path_helper": {"prefix": "logs/x", "ckpt_path": "logs/x/Model"}, "fixed_z": torch.randn(4, 16)}
    path = tmp_path / "cifar_checkpoint.pth"
    torch.save(ckpt, path)

    result = official.import_checkpoint("transgan-v1", path, "transgan-s", TRANSGAN_SMALL)
    assert set(result.modules) == {"G", "G_ema", "D"} and result.experiment == "transgan-s"
    assert "train.co_train_sr=false" in result.overrides
    assert any("to_rgb" in n for n in result.notes) and any("300" in n for n in result.notes)
    z = torch.randn(3, 16)
    official_sd = transgan_v1_generator_state(G_avg)
    stages = [[f"blocks.{i}." for i in range(2)], ["upsample_blocks.0.0."], ["upsample_blocks.1.0."]]
    with torch.no_grad():
        want = official_transgan_forward(official_sd, z, stages, "v1", bottom=8)
        got = result.modules["G_ema"](z)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        G.set_data_epoch(300)  # the source model still masks (epoch 0); the import evaluates as test.py does
        torch.testing.assert_close(result.modules["G"](z), G(z), rtol=0, atol=0)
        x = torch.randn(2, 3, 32, 32)
        torch.testing.assert_close(result.modules["D"](x), D(x), rtol=0, atol=0)
    assert result.modules["G_ema"].locality.width is None  # epoch 300: global attention, as test.py evaluates
    blob = round_trip(tmp_path, result, z)
    assert blob["imported"]["overrides"] == list(result.overrides)


def test_transgan_v1_infers_the_architecture_from_shapes():
    def meta(*shape):  # shapes only: no memory for the 65536 x 1024 Linear
        return torch.empty(*shape, device="meta")

    def shapes(latent, width, depths, bottom):
        state = {"l1.weight": meta(bottom ** 2 * width, latent), "pos_embed_1": meta(1, bottom ** 2, width)}
        state.update({f"blocks.{i}.norm1.weight": meta(width) for i in range(depths[0])})
        for s, depth in enumerate(depths[1:]):
            state[f"pos_embed_{s + 2}"] = meta(1, (bottom * 2 ** (s + 1)) ** 2, width // 4 ** (s + 1))
            state.update({f"upsample_blocks.{s}.{j}.norm1.weight": meta(1) for j in range(depth)})
        return state

    assert transgan_v1.infer_experiment(shapes(1024, 1024, (5, 4, 2), 8)) == "transgan-xl"
    assert transgan_v1.infer_experiment(shapes(1024, 384, (5, 2, 2), 8)) == "transgan-s"
    assert transgan_v1.infer_experiment(shapes(1024, 768, (5, 2, 2), 12)) == "transgan-stl10"
    assert transgan_v1.infer_experiment(shapes(1024, 1024, (5, 3, 3, 2), 8)) == "transgan-celeba64"
    with pytest.raises(Exception, match="none of the v1 experiments"):
        transgan_v1.infer_experiment(shapes(1024, 640, (5, 2, 2), 8))


def neurips_generator_state(G) -> dict:
    """gbench -> models_search/ViT_custom_rp.py names; tables back to ((2w-1)^2, heads) and the official index buffer."""
    out = {}
    for key, t in G.state_dict().items():
        parts = key.split(".")
        if parts[0] == "latent_to_tokens":
            out["l1." + parts[1]] = t.clone()
        elif parts[0] == "pos_embeds":
            out[f"pos_embed_{int(parts[1]) + 1}"] = t.clone()
        elif parts[0] == "to_rgb":
            out["deconv.0." + parts[1]] = t.clone()
        else:
            stage, block, rest = int(parts[1]), parts[2], ".".join(parts[3:])
            prefix = f"blocks.block.{block}." if stage == 0 else f"upsample_blocks.{stage - 1}.block.{block}."
            out.update(_official_block(prefix, rest, t))
    return out


def _official_block(prefix: str, rest: str, t: torch.Tensor) -> dict:
    if rest == "attn.relative_position.table":
        heads, side = t.shape[0], t.shape[1]
        window = (side + 1) // 2
        return {prefix + "attn.relative_position_bias_table": t.reshape(heads, side * side).t().contiguous(),
                prefix + "attn.relative_position_index": official_swin_index(window)}
    rest = rest.replace("norm1.", "norm1.norm.").replace("norm2.", "norm2.norm.").replace("attn.noise_strength", "attn.noise_strength_1")
    return {prefix + rest: t.clone()}


def neurips_discriminator_state(D) -> dict:
    names = {"patch_embed_fine": "fRGB_1", "patch_embed_coarse": "fRGB_2", "pos_embed_fine": "pos_embed_1", "pos_embed_coarse": "pos_embed_2",
             "cls_token": "cls_token", "head": "head"}
    out = {}
    for key, t in D.state_dict().items():
        parts = key.split(".")
        if parts[0] in names:
            out[".".join([names[parts[0]], *parts[1:]])] = t.clone()
        elif parts[0] == "norm":
            out["norm.norm." + parts[1]] = t.clone()
        elif parts[0] in ("blocks_fine", "blocks_coarse"):
            prefix = f"{'blocks_1' if parts[0] == 'blocks_fine' else 'blocks_2'}.{parts[1]}."
            out.update(_official_block(prefix, ".".join(parts[2:]), t))
        else:
            assert parts[0] == "last_block"
            out.update(_official_block("last_block.0.", ".".join(parts[1:]), t))
    return out


def test_transgan_neurips_checkpoint_imports_relative_position_tables(tmp_path):
    G, D = build("transgan-neurips", TRANSGAN_SMALL)
    randomize(G, 4), randomize(D, 5)
    official_g = neurips_generator_state(G)
    torch.save({"avg_gen_state_dict": dataparallel(official_g), "dis_state_dict": dataparallel(neurips_discriminator_state(D)),
                "epoch": 200, "best_fid": np.float32(9.26)}, tmp_path / "cifar_checkpoint")
    result = official.import_checkpoint("transgan-neurips", tmp_path / "cifar_checkpoint", None, TRANSGAN_SMALL)
    assert set(result.modules) == {"G_ema", "D"} and result.experiment == "transgan-neurips"
    assert result.overrides == TRANSGAN_SMALL  # the default HEAD variant needs nothing beyond the caller's sizes
    z = torch.randn(3, 16)
    stages = [["blocks.block.0.", "blocks.block.1."], ["upsample_blocks.0.block.0."], ["upsample_blocks.1.block.0."]]
    with torch.no_grad():
        torch.testing.assert_close(result.modules["G_ema"](z), official_transgan_forward(official_g, z, stages, "head", bottom=8),
                                   rtol=1e-4, atol=1e-5)
        x = torch.randn(2, 3, 32, 32)
        torch.manual_seed(0)
        a = result.modules["D"](x)
        torch.manual_seed(0)
        torch.testing.assert_close(a, D(x), rtol=0, atol=0)
    round_trip(tmp_path, result, z)

    # A bare generator state dict (test.py's other branch) and a broken index buffer
    torch.save(official_g, tmp_path / "generator.pth")
    assert set(official.load("transgan-neurips", tmp_path / "generator.pth", overrides=TRANSGAN_SMALL)) == {"G"}
    broken = dict(official_g)
    broken["blocks.block.0.attn.relative_position_index"] = broken["blocks.block.0.attn.relative_position_index"].flip(0)
    torch.save(broken, tmp_path / "broken.pth")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-neurips", tmp_path / "broken.pth", overrides=TRANSGAN_SMALL)
    assert_one_line(e, "blocks.block.0.attn.relative_position_index", "standard relative-position index")


def test_transgan_neurips_aug2021_variant_is_detected(tmp_path):
    # ViT_custom (Jul 2021): noise injection instead of tables in G; ViT_custom_scale2: tables but no noise in D
    variant = ("model.g_kwargs.relative_position=false", "model.g_kwargs.noise_injection=true", "model.d_kwargs.noise_injection=false")
    G, D = build("transgan-neurips", TRANSGAN_SMALL + variant)
    randomize(G, 6), randomize(D, 7)
    torch.save({"avg_gen_state_dict": neurips_generator_state(G), "dis_state_dict": neurips_discriminator_state(D)}, tmp_path / "aug.pth")
    result = official.import_checkpoint("transgan-neurips", tmp_path / "aug.pth", "transgan-neurips", TRANSGAN_SMALL)
    assert set(variant) <= set(result.overrides) and not any("d_kwargs.relative_position" in o for o in result.overrides)
    z = torch.randn(2, 16)
    with torch.no_grad():
        torch.manual_seed(1)
        a = result.modules["G_ema"](z)
        torch.manual_seed(1)
        torch.testing.assert_close(a, G(z), rtol=0, atol=0)
    strength = result.modules["G_ema"].stages[0][0].attn.noise_strength.item()
    assert strength == G.stages[0][0].attn.noise_strength.item() != 0


def test_wrong_layouts_are_one_line_errors_that_name_the_key_and_the_likely_format(tmp_path):
    G, D = build("transgan-s", ("train.co_train_sr=false",) + TRANSGAN_SMALL)
    torch.save({"avg_gen_state_dict": transgan_v1_generator_state(G)}, tmp_path / "v1.pth")
    with pytest.raises(GBenchError) as e:
        official.load("autogan", tmp_path / "v1.pth")
    assert_one_line(e, "does not fit format autogan", "looks like format transgan-v1")
    with pytest.raises(GBenchError) as e:  # right format, wrong sizes: the first key whose shape differs
        official.load("transgan-v1", tmp_path / "v1.pth", "transgan-s", TRANSGAN_SMALL[:1] + ("model.g_kwargs.embed_dim=128",) + TRANSGAN_SMALL[2:])
    assert_one_line(e, "'l1.weight' has shape (4096, 16)", "its keys are transgan-v1's")
    state = transgan_v1_generator_state(G)
    state["blocks.0.attn.extra"] = torch.zeros(1)
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-v1", tmp_path / "extra.pth", "transgan-s", TRANSGAN_SMALL)
    assert_one_line(e, "unexpected key 'blocks.0.attn.extra'")
    del state["blocks.0.attn.extra"], state["blocks.1.mlp.fc2.bias"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-v1", tmp_path / "missing.pth", "transgan-s", TRANSGAN_SMALL)
    assert_one_line(e, "no tensor for", "stages.0.1.mlp.fc2.bias")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-v2", tmp_path / "v1.pth")
    assert_one_line(e, "unknown checkpoint format", "transgan-v1")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-v1", tmp_path / "v1.pth", "autogan")
    assert_one_line(e, "maps to the experiments")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(GBenchError) as e:
        official.load("transgan-v1", tmp_path / "junk.pth")
    assert_one_line(e, "junk.pth")


# ------------------------------------------------------------------------------------------------ AutoGAN


def autogan_discriminator_state(D, seed: int, pre_1_1: bool = False) -> tuple[dict, dict]:
    """gbench -> models/autogan_cifar10_a.py names with torch.nn.utils.spectral_norm's (weight_orig, weight_u, weight_v),
    and the eval-time weights W / (u^T W v) by module name."""
    g = torch.Generator().manual_seed(seed)
    names = {"conv1": "c1", "conv2": "c2", "shortcut": "c_sc"}
    state, normalised = {}, {}
    for name, sub in D.named_modules():
        if not parametrize.is_parametrized(sub, "weight"):
            continue
        official = "l5" if name == "linear" else f"block{int(name.split('.')[1]) + 1}.{names[name.split('.')[2]]}"
        w = sub.parametrizations.weight.original.detach().clone()
        u = F.normalize(torch.randn(w.shape[0], generator=g), dim=0)
        v = F.normalize(torch.randn(w[0].numel(), generator=g), dim=0)
        sigma = u @ w.reshape(w.shape[0], -1) @ v
        normalised[name] = w / sigma
        state[f"{official}.weight_orig"], state[f"{official}.weight_u"] = w, u
        if pre_1_1:
            state[f"{official}.weight"] = w / sigma  # PyTorch < 1.1 kept the normalised weight instead of v
        else:
            state[f"{official}.weight_v"] = v
        if sub.bias is not None:
            state[f"{official}.bias"] = sub.bias.detach().clone()
    return state, normalised


AUTOGAN_SMALL = ("model.g_kwargs.g_channels=32", "model.d_kwargs.d_channels=16")


def test_autogan_release_and_training_checkpoint(tmp_path):
    G, D = build("autogan", AUTOGAN_SMALL)
    randomize(G, 8), randomize(D, 9)
    d_state, normalised = autogan_discriminator_state(D, 10)
    torch.save({"epoch": 673, "gen_state_dict": G.state_dict(), "avg_gen_state_dict": G.state_dict(), "dis_state_dict": d_state,
                "best_fid": np.float64(12.42), "path_helper": {"log_path": "logs"}}, tmp_path / "checkpoint.pth")
    result = official.import_checkpoint("autogan", tmp_path / "checkpoint.pth", overrides=AUTOGAN_SMALL)
    assert result.experiment == "autogan" and set(result.modules) == {"G", "G_ema", "D"}
    assert any("inferred" in n for n in result.notes)
    reference = remove_spectral_norm(build("autogan", AUTOGAN_SMALL)[1], normalised)
    reference.load_state_dict({k: v for k, v in D.state_dict().items() if "parametrizations" not in k}, strict=False)
    z, x = torch.randn(2, 128), torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(result.modules["G_ema"](z), G(z), rtol=0, atol=0)
        torch.testing.assert_close(result.modules["D"](x), reference(x), rtol=1e-4, atol=1e-5)
    round_trip(tmp_path, result, z)


def test_autogan_discriminator_from_pytorch_before_1_1_recovers_v(tmp_path):
    _, D = build("autogan", AUTOGAN_SMALL)
    d_state, normalised = autogan_discriminator_state(randomize(D, 12), 13, pre_1_1=True)
    torch.save({"dis_state_dict": d_state}, tmp_path / "old.pth")
    result = official.import_checkpoint("autogan", tmp_path / "old.pth", "autogan", AUTOGAN_SMALL)
    assert any("solved" in n for n in result.notes)
    with torch.no_grad():
        for name, sub in result.modules["D"].named_modules():
            if parametrize.is_parametrized(sub, "weight"):  # eval mode: W / (u^T W v) with the recovered v
                torch.testing.assert_close(sub.weight, normalised[name], rtol=1e-4, atol=1e-6)


def test_autogan_stl10_generator_is_inferred_from_the_bottom_width(tmp_path):
    G, _ = build("autogan-stl10", AUTOGAN_SMALL)
    torch.save(randomize(G, 11).state_dict(), tmp_path / "autogan_stl10.pth")  # test.py also accepts a bare state dict
    result = official.import_checkpoint("autogan", tmp_path / "autogan_stl10.pth", overrides=AUTOGAN_SMALL)
    assert result.experiment == "autogan-stl10" and set(result.modules) == {"G"}
    z = torch.randn(1, 128)
    with torch.no_grad():
        out = result.modules["G"](z)
        assert out.shape == (1, 3, 48, 48)
        torch.testing.assert_close(out, G(z), rtol=0, atol=0)


# ------------------------------------------------------------------------------------------------ pix2pix / CycleGAN


def unet_prefix(level: int) -> str:
    """UnetSkipConnectionBlock nesting: the outermost block's submodule is model[1], every other block's is model[3]."""
    return "model.model." + "".join("1.model." if k == 0 else "3.model." for k in range(level))


def official_unet_state(G, levels: int) -> dict:
    out = {}
    for key, t in G.state_dict().items():
        side, level, layer, rest = key.split(".", 3)
        level, layer = int(level), int(layer)
        if side == "encoder":
            index = 0 if level == 0 else {0: 1, 1: 2}[layer]  # downconv, downnorm
        else:
            index = {1: 3, 2: 4}[layer] if level in (0, levels - 1) else {1: 5, 2: 6}[layer]  # upconv, upnorm
        out[f"{unet_prefix(level)}{index}.{rest}"] = t.clone()
    return out


def official_unet_forward(sd: dict, x: torch.Tensor, levels: int) -> torch.Tensor:
    """UnetSkipConnectionBlock.forward, eval mode (BatchNorm running statistics, no dropout)."""
    def bn(h, p):
        return F.batch_norm(h, sd[p + "running_mean"], sd[p + "running_var"], sd[p + "weight"], sd[p + "bias"], False, 0.1, 1e-5)

    def block(x, level):
        p = unet_prefix(level)
        if level == 0:
            h = block(F.conv2d(x, sd[p + "0.weight"], sd.get(p + "0.bias"), stride=2, padding=1), 1)
            return torch.tanh(F.conv_transpose2d(F.relu(h), sd[p + "3.weight"], sd[p + "3.bias"], stride=2, padding=1))
        x = F.leaky_relu(x, 0.2)  # in place in the official block: the concatenated skip is the activated input
        h = F.conv2d(x, sd[p + "1.weight"], sd.get(p + "1.bias"), stride=2, padding=1)
        if level == levels - 1:
            h = bn(F.conv_transpose2d(F.relu(h), sd[p + "3.weight"], sd.get(p + "3.bias"), stride=2, padding=1), p + "4.")
        else:
            h = block(bn(h, p + "2."), level + 1)
            h = bn(F.conv_transpose2d(F.relu(h), sd[p + "5.weight"], sd.get(p + "5.bias"), stride=2, padding=1), p + "6.")
        return torch.cat([x, h], 1)

    return block(x, 0)


IMG2IMG_SMALL = ("model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8")


@pytest.mark.parametrize("experiment", ["pix2pix-cityscapes", "pix2pix-cityscapes-128", "pix2pix-facades", "pix2pix-maps"])
def test_pix2pix_unet_and_patchgan_files(tmp_path, experiment):
    G, D = build(experiment, IMG2IMG_SMALL + ("model.g_kwargs.num_downs=5",))
    randomize(G, 14), randomize(D, 15)
    official_g = official_unet_state(G, 5)
    torch.save(official_g, tmp_path / "latest_net_G.pth")
    torch.save({k.replace("net.", "model.", 1): v for k, v in D.state_dict().items()}, tmp_path / "latest_net_D.pth")
    result = official.import_checkpoint("pix2pix-cyclegan", tmp_path / "latest_net_G.pth", experiment, IMG2IMG_SMALL)
    assert set(result.modules) == {"G", "D"}
    assert "model.g_kwargs.num_downs=5" in result.overrides  # read off the file: 5 nested blocks
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(result.modules["G"](x), official_unet_forward(official_g, x, 5), rtol=1e-4, atol=1e-5)
        pair = torch.cat([x, x.flip(0)], dim=1)
        torch.testing.assert_close(result.modules["D"](pair), D(pair), rtol=0, atol=0)
    round_trip(tmp_path, result, x)


@pytest.mark.parametrize("experiment", ["cyclegan-cityscapes", "cyclegan-horse2zebra"])
def test_cyclegan_resnet_file_with_pre_0_4_instance_norm_entries(tmp_path, experiment):
    G, D = build(experiment, IMG2IMG_SMALL + ("model.g_kwargs.n_blocks=2",))
    randomize(G, 16), randomize(D, 17)
    state = {}
    for key, t in G.state_dict().items():
        state[key.replace("net.", "model.", 1).replace(".body.", ".conv_block.")] = t.clone()
    for index in (2, 5, 8):  # InstanceNorm2d layers of c7s1-64, d128, d256 as saved by PyTorch < 0.4
        width = G.net[index - 1].out_channels
        state[f"model.{index}.running_mean"], state[f"model.{index}.running_var"] = torch.zeros(width), torch.ones(width)
    torch.save(state, tmp_path / "horse2zebra.pth")
    result = official.import_checkpoint("pix2pix-cyclegan", tmp_path / "horse2zebra.pth", experiment, IMG2IMG_SMALL)
    assert set(result.modules) == {"G"} and "model.g_kwargs.n_blocks=2" in result.overrides
    assert any("InstanceNorm running-stat" in n for n in result.notes)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(result.modules["G"](x), G(x), rtol=0, atol=0)
    round_trip(tmp_path, result, x)
    torch.save({k.replace("net.", "model.", 1): v for k, v in D.state_dict().items()}, tmp_path / "latest_net_D_A.pth")
    only_d = official.import_checkpoint("pix2pix-cyclegan", tmp_path / "latest_net_D_A.pth", experiment, IMG2IMG_SMALL)
    assert set(only_d.modules) == {"D"}
    with pytest.raises(GBenchError) as e:
        official.load("pix2pix-cyclegan", tmp_path / "horse2zebra.pth", None, IMG2IMG_SMALL)
    assert_one_line(e, "pass --experiment", "cyclegan-horse2zebra")


# ------------------------------------------------------------------------------------------------ StyleGAN2-ADA pickles

ADA_MODEL = ("model.generator=stylegan2-ada-cifar10", "model.discriminator=stylegan2-ada-cifar10")
ADA_SMALL = {"resolution": 8, "latent_dim": 8, "w_dim": 8, "num_classes": 3, "channel_base": 64, "channel_max": 16,
             "mbstd_group_size": 2, "d_mapping_layers": 2}
ADA_OVERRIDES = ADA_MODEL + tuple(f"model.{side}_kwargs.{k}={v}" for side in "gd" for k, v in ADA_SMALL.items())


@contextlib.contextmanager
def nvlabs_modules():
    """Stand-ins for torch_utils.persistence and dnnlib.util under their real module paths, present only while the test
    pickles, so the pickle names exactly the globals an NVlabs snapshot names."""
    persistence, util = types.ModuleType("torch_utils.persistence"), types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # never called: unpickling goes through gbench's restricted unpickler
        raise AssertionError("the NVlabs reconstruct hook ran")

    class EasyDict(dict):
        pass

    _reconstruct_persistent_obj.__module__, EasyDict.__module__ = "torch_utils.persistence", "dnnlib.util"
    _reconstruct_persistent_obj.__qualname__, EasyDict.__qualname__ = "_reconstruct_persistent_obj", "EasyDict"
    persistence._reconstruct_persistent_obj, util.EasyDict = _reconstruct_persistent_obj, EasyDict
    names = {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
             "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}
    saved = {k: sys.modules.get(k) for k in names}
    sys.modules.update(names)
    try:
        yield persistence, util
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class Persistent:
    """Pickles as NVlabs' persistent classes do: _reconstruct_persistent_obj(dict(type, version, module_src, class_name, state))."""

    def __init__(self, hook, class_name: str, state: dict, module_src: str):
        self.hook, self.meta = hook, dict(type="class", version=6, module_src=module_src, class_name=class_name, state=state)

    def __reduce__(self):
        return self.hook, (self.meta,)


BUFFERS = ("w_avg", "resample_filter", "noise_const")


def ada_class(path: str, kind: str) -> str:
    last = path.rsplit(".", 1)[-1]
    if path == "":
        return "Generator" if kind == "G" else "Discriminator"
    if last in ("affine", "embed") or re.fullmatch(r"fc\d*|out", last):
        return "FullyConnectedLayer"
    if last == "mapping":
        return "MappingNetwork"
    if last == "synthesis":
        return "SynthesisNetwork"
    if re.fullmatch(r"b\d+", last):
        return "SynthesisBlock" if kind == "G" else ("DiscriminatorEpilogue" if last == "b4" else "DiscriminatorBlock")
    if last == "torgb":
        return "ToRGBLayer"
    return "SynthesisLayer" if kind == "G" else "Conv2dLayer"


def ada_key(key: str, kind: str, resolution: int) -> str:
    """gbench -> training/networks.py names (the inverse of the importer's map, written out here)."""
    key = re.sub(r"^mapping\.layers\.(\d+)\.", r"mapping.fc\1.", key)
    if kind == "G":
        return re.sub(r"^synthesis\.blocks\.(\d+)\.", lambda m: f"synthesis.b{4 * 2 ** int(m[1])}.", key)
    key = re.sub(r"^epilogue\.", "b4.", key)
    return re.sub(r"^blocks\.(\d+)\.", lambda m: f"b{resolution // 2 ** int(m[1])}.", key)


def persistent_tree(module, kind: str, hook, easydict, init_kwargs: dict, module_src: str) -> Persistent:
    from reference_models.stylegan2 import fir_kernel

    tensors = {ada_key(k, kind, ADA_SMALL["resolution"]): v for k, v in module.state_dict().items()}
    paths = {""} | {k.rsplit(".", 1)[0] if "." in k else "" for k in tensors}
    for p in list(paths):  # every intermediate path is a module too
        while "." in p:
            p = p.rsplit(".", 1)[0]
            paths.add(p)
        paths.add(p)
    # the official blocks and conv layers also register their [1, 3, 3, 1] filter as a (persistent) buffer
    for p in paths:
        if ada_class(p, kind) in ("SynthesisBlock", "SynthesisLayer", "Conv2dLayer", "DiscriminatorBlock"):
            tensors[f"{p}.resample_filter"] = fir_kernel((1, 3, 3, 1))

    def node(path: str) -> Persistent:
        prefix = f"{path}." if path else ""
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
        children = sorted({k[len(prefix):].split(".")[0] for k in tensors if k.startswith(prefix) and "." in k[len(prefix):]})
        state = {"training": False, "_parameters": collections.OrderedDict((n, torch.nn.Parameter(v.clone(), requires_grad=False))
                                                                          for n, v in own.items() if n not in BUFFERS),
                 "_buffers": collections.OrderedDict((n, v.clone()) for n, v in own.items() if n in BUFFERS),
                 "_non_persistent_buffers_set": set(), "_backward_hooks": collections.OrderedDict(),
                 "_forward_hooks": collections.OrderedDict(), "_modules": collections.OrderedDict(
                     (c, node(f"{prefix}{c}")) for c in children),
                 "_init_args": (), "_init_kwargs": init_kwargs if path == "" else easydict(),
                 "weight_gain": np.float64(0.125), "activation": "lrelu"}
        return Persistent(hook, ada_class(path, kind), state, module_src)

    return node("")


@pytest.mark.parametrize("tf_converted", [False, True])
def test_stylegan2_ada_pickle_imports_without_running_its_code(tmp_path, tf_converted):
    # legacy.py's TF conversion gives the conditional D a label mapping without hidden layers (lr multiplier 0.1)
    d_mapping = {"num_layers": 0, "lr_multiplier": 0.1} if tf_converted else {"num_layers": 2}
    overrides = ADA_OVERRIDES + (("model.d_kwargs.d_mapping_layers=0", "model.d_kwargs.mapping_lr_multiplier=0.1") if tf_converted else ())
    G, D = build("stylegan2", overrides)
    G_ema = randomize(build("stylegan2", overrides)[0], 18, scale=0.5)
    randomize(G, 19, scale=0.5), randomize(D, 20, scale=0.5)
    marker = tmp_path / "source-code-ran"
    module_src = f"open({str(marker)!r}, 'w').write('the pickled source code was executed')\n"
    with nvlabs_modules() as (persistence, util):
        g_kwargs = util.EasyDict(z_dim=8, c_dim=3, w_dim=8, img_resolution=8, img_channels=3,
                                 mapping_kwargs=util.EasyDict(num_layers=2),
                                 synthesis_kwargs=util.EasyDict(channel_base=64, channel_max=16, num_fp16_res=4, conv_clamp=256))
        d_kwargs = util.EasyDict(c_dim=3, img_resolution=8, img_channels=3, architecture="orig", channel_base=64, channel_max=16,
                                 num_fp16_res=4, conv_clamp=256, block_kwargs=util.EasyDict(),
                                 mapping_kwargs=util.EasyDict(**d_mapping), epilogue_kwargs=util.EasyDict(mbstd_group_size=2))
        hook = persistence._reconstruct_persistent_obj
        augment = Persistent(hook, "AugmentPipe", {"_buffers": collections.OrderedDict(p=torch.zeros([])), "_modules": {},
                                                  "_init_kwargs": util.EasyDict(xflip=1, rotate90=1)}, module_src)
        snapshot = {"training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "path": "cifar10.zip",
                                            "use_labels": True, "resolution": 32},
                    "G": persistent_tree(G, "G", hook, util.EasyDict, g_kwargs, module_src),
                    "D": persistent_tree(D, "D", hook, util.EasyDict, d_kwargs, module_src),
                    "G_ema": persistent_tree(G_ema, "G", hook, util.EasyDict, g_kwargs, module_src), "augment_pipe": augment}
        (tmp_path / "cifar10.pkl").write_bytes(pickle.dumps(snapshot, protocol=3))
    assert b"torch_utils.persistence" in (tmp_path / "cifar10.pkl").read_bytes()

    result = official.import_checkpoint("stylegan2-ada", tmp_path / "cifar10.pkl")
    assert not marker.exists()
    assert set(result.modules) == {"G", "G_ema", "D"} and result.experiment == "stylegan2"
    assert set(ADA_MODEL) <= set(result.overrides) and "model.g_kwargs.num_classes=3" in result.overrides
    assert ("model.d_kwargs.d_mapping_layers=0" in result.overrides) == tf_converted
    assert any("augment_pipe" in n for n in result.notes) and any("fp16" in n for n in result.notes)
    z, y = torch.randn(4, 8), torch.tensor([0, 2, 1, 2])
    with torch.no_grad():
        # ADA's MappingNetwork by hand: normalize(z) ++ normalize(embed(one_hot(y))), then FC + lrelu (lr multiplier 0.01)
        sd = {ada_key(k, "G", 8): v for k, v in G_ema.state_dict().items()}
        def normalize(x):
            return x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()

        c = F.one_hot(y, 3).float()
        x = torch.cat([normalize(z), normalize(F.linear(c, sd["mapping.embed.weight"] / math.sqrt(3), sd["mapping.embed.bias"]))], 1)
        for i in range(2):
            w, b = sd[f"mapping.fc{i}.weight"], sd[f"mapping.fc{i}.bias"]
            x = F.leaky_relu(F.linear(x, w * 0.01 / math.sqrt(w.shape[1]), b * 0.01), 0.2) * math.sqrt(2)
        torch.testing.assert_close(result.modules["G_ema"].mapping(z, y), x, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(result.modules["G_ema"](z, y, noise_mode="const"), G_ema(z, y, noise_mode="const"), rtol=0, atol=0)
        images = torch.randn(4, 3, 8, 8)
        torch.testing.assert_close(result.modules["D"](images, y), D(images, y), rtol=0, atol=0)
    round_trip(tmp_path, result, z, y)
    assert not marker.exists()


def test_stylegan2_ada_minibatch_group_none_means_the_whole_batch():
    from gbench.official.stylegan2_ada import WHOLE_BATCH, discriminator_fields
    from gbench.official.unpickle import PersistentObject

    kwargs = {"c_dim": 10, "img_resolution": 32, "img_channels": 3, "architecture": "orig", "epilogue_kwargs": {"mbstd_group_size": None}}
    fields = discriminator_fields(PersistentObject("Discriminator", {"_init_kwargs": kwargs}))
    assert fields["mbstd_group_size"] == WHOLE_BATCH and fields["d_architecture"] == "orig" and fields["d_mapping_layers"] == 8
    D = build("stylegan2", ADA_MODEL + (f"model.d_kwargs.mbstd_group_size={WHOLE_BATCH}",) + tuple(
        f"model.d_kwargs.{k}={v}" for k, v in ADA_SMALL.items() if k != "mbstd_group_size"))[1]
    with torch.no_grad():
        assert D(torch.randn(5, 3, 8, 8), torch.arange(5) % 3).shape == (5,)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_files_are_refused_and_run_nothing(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": Evil(marker)}))
    with pytest.raises(GBenchError) as e:
        official.load("stylegan2-ada", tmp_path / "evil.pkl")
    assert_one_line(e, "system", "refuses")
    torch.save({"avg_gen_state_dict": {"l1.weight": torch.zeros(1)}, "payload": Evil(marker)}, tmp_path / "evil.pth")
    for fmt in ("transgan-v1", "autogan", "biggan-pytorch", "pix2pix-cyclegan"):
        with pytest.raises(GBenchError) as e:
            official.load(fmt, tmp_path / "evil.pth")
        assert_one_line(e, "system")
    np.savez(tmp_path / "evil.npz", **{"l1/W": np.array([Evil(marker)], dtype=object)})
    with pytest.raises(GBenchError) as e:
        official.load("sngan-chainer", tmp_path / "evil.npz")
    assert_one_line(e, "allow_pickle=False")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------------ BigGAN-PyTorch and Chainer SN-GAN


def official_sn_layers(module, official_name, seed: int, u_key: str, weight_key: str, sep: str = "."):
    """(state, eval-time weights) for every spectral-norm layer: the raw weight, a random u of shape (1, rows) and the
    weight the official test-time forward uses (one power iteration from u)."""
    g = torch.Generator().manual_seed(seed)
    state, normalised = {}, {}
    for name, sub in module.named_modules():
        if parametrize.is_parametrized(sub, "weight"):
            w = sub.parametrizations.weight.original.detach().clone()
            u = torch.randn(1, w.shape[0], generator=g)
            state[official_name(name) + sep + weight_key], state[official_name(name) + sep + u_key] = w, u
            normalised[name] = w / sigma_one_step(w, u)
    return state, normalised


def reference_without_sn(module, experiment, overrides, normalised):
    reference = remove_spectral_norm(build(experiment, overrides)[0 if hasattr(module, "latent_dim") else 1], normalised)
    reference.load_state_dict({k: v for k, v in module.state_dict().items() if "parametrizations" not in k}, strict=False)
    return reference.eval()


BIGGAN_SMALL = ("model.g_kwargs.g_channels=32", "model.d_kwargs.d_channels=32")


def biggan_official_state(G, D, seed):
    def g_name(name):
        return {"linear": "linear", "out_conv": "output_layer.2"}.get(name) or re.sub(
            r"blocks\.(\d+)\.(conv1|conv2|shortcut)", lambda m: f"blocks.{m[1]}.0.{m[2] if m[2] != 'shortcut' else 'conv_sc'}", name)

    def d_name(name):
        return re.sub(r"blocks\.(\d+)\.(conv1|conv2|shortcut)", lambda m: f"blocks.{m[1]}.0.{m[2] if m[2] != 'shortcut' else 'conv_sc'}", name)

    g_state, g_norm = official_sn_layers(G, g_name, seed, "u0", "weight")
    for key, t in G.state_dict().items():
        if "parametrizations" in key or key.endswith("num_batches_tracked"):
            continue
        if m := re.fullmatch(r"blocks\.(\d+)\.norm(\d)\.(gain|bias)\.weight", key):
            g_state[f"blocks.{m[1]}.0.bn{m[2]}.{m[3]}.weight"] = t.clone()
        elif m := re.fullmatch(r"blocks\.(\d+)\.norm(\d)\.norm\.running_(mean|var)", key):
            g_state[f"blocks.{m[1]}.0.bn{m[2]}.stored_{m[3]}"] = t.clone()
        elif key.startswith("out_norm."):
            g_state["output_layer.0." + {"weight": "gain", "bias": "bias", "running_mean": "stored_mean", "running_var": "stored_var"}[key[9:]]] = t.clone()
        else:
            g_state[g_name(key.rsplit(".", 1)[0]) + ".bias"] = t.clone()
    g_state.update({k.replace(".u0", ".sv0"): torch.ones(1) for k in list(g_state) if k.endswith(".u0")})
    d_state, d_norm = official_sn_layers(D, d_name, seed + 1, "u0", "weight")
    for key, t in D.state_dict().items():
        if "parametrizations" not in key:
            d_state[d_name(key.rsplit(".", 1)[0]) + ".bias"] = t.clone()
    return g_state, g_norm, d_state, d_norm


def test_biggan_weights_folder_and_single_release_file(tmp_path):
    G, D = build("biggan", BIGGAN_SMALL)
    G_ema = randomize(build("biggan", BIGGAN_SMALL)[0], 21)
    randomize(G, 22), randomize(D, 23)
    g_state, _, d_state, d_norm = biggan_official_state(G, D, 24)
    ema_state, ema_norm, _, _ = biggan_official_state(G_ema, D, 25)
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.save(g_state, folder / "G.pth"), torch.save(ema_state, folder / "G_ema.pth"), torch.save(d_state, folder / "D.pth")
    result = official.import_checkpoint("biggan-pytorch", folder, overrides=BIGGAN_SMALL)
    assert set(result.modules) == {"G", "G_ema", "D"} and result.experiment == "biggan"
    z, y, x = torch.randn(3, 128), torch.tensor([0, 5, 9]), torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want = reference_without_sn(G_ema, "biggan", BIGGAN_SMALL, ema_norm)(z, y)
        torch.testing.assert_close(result.modules["G_ema"](z, y), want, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(result.modules["D"](x, y), reference_without_sn(D, "biggan", BIGGAN_SMALL, d_norm)(x, y),
                                   rtol=1e-4, atol=1e-5)
    round_trip(tmp_path, result, z, y)

    torch.save(ema_state, tmp_path / "DiffAugment-biggan-cifar10.pth")  # the DiffAugment releases: a G_ema state dict
    single = official.import_checkpoint("biggan-pytorch", tmp_path / "DiffAugment-biggan-cifar10.pth", "biggan", BIGGAN_SMALL)
    assert set(single.modules) == {"G"}
    with torch.no_grad():
        torch.testing.assert_close(single.modules["G"](z, y), result.modules["G_ema"](z, y), rtol=0, atol=0)
    with pytest.raises(GBenchError) as e:
        official.load("biggan-pytorch", folder / "D.pth", "biggan", BIGGAN_SMALL[:1] + ("model.d_kwargs.d_channels=64",))
    assert_one_line(e, "'blocks.0.0.conv1.weight' has shape (32, 3, 3, 3)")


# BigGAN-PyTorch at ImageNet 128 (launch_BigGAN_bs256x8.sh) with tiny widths: G_ch 4, D_ch 8 (D's 64x64 attention
# projects to D_ch // 8 channels, so D_ch must be >= 8). The state dicts are written from BigGAN.py's G_arch[128] /
# D_arch[128] and layers.py alone, and checked against a functional copy of the official eval-mode forward.
BIGGAN128_CH = {"G": 4, "D": 8}
BIGGAN128_Z, BIGGAN128_CHUNK, BIGGAN128_SHARED, BIGGAN128_CLASSES = 120, 20, 128, 50  # 50 classes: D's embed u0 is (1, 50)
BIGGAN128_SMALL = (f"model.g_kwargs.g_ch={BIGGAN128_CH['G']}", f"model.d_kwargs.d_ch={BIGGAN128_CH['D']}",
                   f"model.g_kwargs.num_classes={BIGGAN128_CLASSES}", f"model.d_kwargs.num_classes={BIGGAN128_CLASSES}")


def official_biggan128_shapes(kind: str, ch: int) -> dict[str, tuple]:
    """Key -> shape of ``BigGAN.Generator`` (G_shared, hier, dim_z 120, shared_dim 128) or ``BigGAN.Discriminator`` at
    resolution 128 with attention at 64x64, from the official architecture tables (not from gbench's models)."""
    shapes: dict[str, tuple] = {}

    def sn(layer, *shape, bias=True):  # layers.SNConv2d / SNLinear / SNEmbedding: u0 is (1, rows), sv0 (1,)
        shapes.update({f"{layer}.weight": shape, **({f"{layer}.bias": (shape[0],)} if bias else {}),
                       f"{layer}.u0": (1, shape[0]), f"{layer}.sv0": (1,)})

    def attention(prefix, c):  # layers.Attention
        for name, out, inp in (("theta", c // 8, c), ("phi", c // 8, c), ("g", c // 2, c), ("o", c, c // 2)):
            sn(f"{prefix}.{name}", out, inp, 1, 1, bias=False)
        shapes[f"{prefix}.gamma"] = ()

    if kind == "G":
        shapes["shared.weight"] = (BIGGAN128_CLASSES, BIGGAN128_SHARED)
        sn("linear", 16 * ch * 4 * 4, BIGGAN128_CHUNK)
        ins, outs = [16, 16, 8, 4, 2], [16, 8, 4, 2, 1]
        for i, (cin, cout, side) in enumerate(zip(ins, outs, [8, 16, 32, 64, 128])):
            p = f"blocks.{i}.0"
            sn(f"{p}.conv1", cout * ch, cin * ch, 3, 3), sn(f"{p}.conv2", cout * ch, cout * ch, 3, 3)
            sn(f"{p}.conv_sc", cout * ch, cin * ch, 1, 1)
            for k, c in ((1, cin * ch), (2, cout * ch)):  # ccbn with G_shared: bias-free SNLinear(128 + 20 -> C)
                sn(f"{p}.bn{k}.gain", c, BIGGAN128_SHARED + BIGGAN128_CHUNK, bias=False)
                sn(f"{p}.bn{k}.bias", c, BIGGAN128_SHARED + BIGGAN128_CHUNK, bias=False)
                shapes[f"{p}.bn{k}.stored_mean"] = shapes[f"{p}.bn{k}.stored_var"] = (c,)
            if side == 64:
                attention(f"blocks.{i}.1", cout * ch)
        shapes.update({f"output_layer.0.{n}": (ch,) for n in ("gain", "bias", "stored_mean", "stored_var")})
        sn("output_layer.2", 3, ch, 3, 3)
    else:
        ins, outs = [3] + [m * ch for m in (1, 2, 4, 8, 16)], [m * ch for m in (1, 2, 4, 8, 16, 16)]
        for i, (cin, cout, side) in enumerate(zip(ins, outs, [64, 32, 16, 8, 4, 4])):
            down = i < 5
            sn(f"blocks.{i}.0.conv1", cout, cin, 3, 3), sn(f"blocks.{i}.0.conv2", cout, cout, 3, 3)  # wide: hidden = out
            if cin != cout or down:
                sn(f"blocks.{i}.0.conv_sc", cout, cin, 1, 1)
            if side == 64:
                attention(f"blocks.{i}.1", cout)
        sn("linear", 1, 16 * ch)
        sn("embed", BIGGAN128_CLASSES, 16 * ch, bias=False)
    return shapes


def official_biggan128_state(kind: str, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors in the official layout; positive stored variances, non-zero attention gains."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in official_biggan128_shapes(kind, BIGGAN128_CH[kind]).items():
        t = torch.randn(shape, generator=g) * 0.3
        state[key] = t.abs() + 0.5 if key.endswith("stored_var") else t
    return state


def official_sn_weight(sd, layer):
    """layers.SN.W_ in eval mode: W divided by sigma from one power iteration from the stored u0."""
    return sd[f"{layer}.weight"] / sigma_one_step(sd[f"{layer}.weight"], sd[f"{layer}.u0"])


def official_attention(sd, p, x):
    """layers.Attention.forward with bmm and softmax, as written there."""
    b, c, h, w = x.shape
    theta = F.conv2d(x, official_sn_weight(sd, f"{p}.theta")).view(b, c // 8, h * w)
    phi = F.max_pool2d(F.conv2d(x, official_sn_weight(sd, f"{p}.phi")), 2).view(b, c // 8, h * w // 4)
    g = F.max_pool2d(F.conv2d(x, official_sn_weight(sd, f"{p}.g")), 2).view(b, c // 2, h * w // 4)
    beta = F.softmax(torch.bmm(theta.transpose(1, 2), phi), -1)
    o = F.conv2d(torch.bmm(g, beta.transpose(1, 2)).view(b, c // 2, h, w), official_sn_weight(sd, f"{p}.o"))
    return sd[f"{p}.gamma"] * o + x


def official_conv(sd, layer, x):
    weight = official_sn_weight(sd, layer)
    return F.conv2d(x, weight, sd[f"{layer}.bias"], padding=weight.shape[-1] // 2)


def official_biggan128_generator(sd, z, y):
    """BigGAN.Generator.forward(z, G.shared(y)) in eval mode (G_eval_mode): hier split, ccbn on stored statistics."""
    zs = torch.split(z, BIGGAN128_CHUNK, 1)
    ys = [torch.cat([sd["shared.weight"][y], chunk], 1) for chunk in zs[1:]]
    h = F.linear(zs[0], official_sn_weight(sd, "linear"), sd["linear.bias"]).view(z.shape[0], -1, 4, 4)
    for i in range(5):
        p = f"blocks.{i}.0"

        def ccbn(x, k):
            bn = f"{p}.bn{k}"
            gain = 1 + F.linear(ys[i], official_sn_weight(sd, f"{bn}.gain"))
            bias = F.linear(ys[i], official_sn_weight(sd, f"{bn}.bias"))
            x = F.batch_norm(x, sd[f"{bn}.stored_mean"], sd[f"{bn}.stored_var"], None, None, False, 0.1, 1e-5)
            return x * gain[:, :, None, None] + bias[:, :, None, None]

        out = official_conv(sd, f"{p}.conv1", F.interpolate(F.relu(ccbn(h, 1)), scale_factor=2))
        out = official_conv(sd, f"{p}.conv2", F.relu(ccbn(out, 2)))
        h = out + official_conv(sd, f"{p}.conv_sc", F.interpolate(h, scale_factor=2))
        if f"blocks.{i}.1.gamma" in sd:
            h = official_attention(sd, f"blocks.{i}.1", h)
    bn = "output_layer.0"
    h = F.batch_norm(h, sd[f"{bn}.stored_mean"], sd[f"{bn}.stored_var"], sd[f"{bn}.gain"], sd[f"{bn}.bias"], False, 0.1, 1e-5)
    return torch.tanh(official_conv(sd, "output_layer.2", F.relu(h)))


def official_biggan128_discriminator(sd, x, y):
    """BigGAN.Discriminator.forward: DBlocks (the first without pre-activation), attention, sum pool, projection."""
    h = x
    for i in range(6):
        p, pre, down = f"blocks.{i}.0", i > 0, i < 5
        out = official_conv(sd, f"{p}.conv2", F.relu(official_conv(sd, f"{p}.conv1", F.relu(h) if pre else h)))
        out = F.avg_pool2d(out, 2) if down else out
        shortcut = h
        if not pre and down:
            shortcut = F.avg_pool2d(shortcut, 2)
        if f"{p}.conv_sc.weight" in sd:
            shortcut = official_conv(sd, f"{p}.conv_sc", shortcut)
        if pre and down:
            shortcut = F.avg_pool2d(shortcut, 2)
        h = out + shortcut
        if f"blocks.{i}.1.gamma" in sd:
            h = official_attention(sd, f"blocks.{i}.1", h)
    h = torch.sum(F.relu(h), [2, 3])
    out = F.linear(h, official_sn_weight(sd, "linear"), sd["linear.bias"])
    return out + torch.sum(F.embedding(y, official_sn_weight(sd, "embed")) * h, 1, keepdim=True)


def test_biggan_imagenet128_release_maps_every_official_key_and_matches_the_official_forward(tmp_path, monkeypatch):
    import zipfile

    from typer.testing import CliRunner

    from gbench.cli import app
    from gbench.invert import load_generator_pair, released_checkpoint

    states = {"G": official_biggan128_state("G", 31), "G_ema": official_biggan128_state("G", 32), "D": official_biggan128_state("D", 33)}
    folder = tmp_path / "138k"
    folder.mkdir()
    for name, state in states.items():
        torch.save(state, folder / f"{name}.pth")
    result = official.import_checkpoint("biggan-pytorch", folder, overrides=BIGGAN128_SMALL)
    assert result.experiment == "biggan-imagenet128" and set(result.modules) == {"G", "G_ema", "D"}  # inferred from the blocks
    assert any("stored BatchNorm statistics" in note for note in result.notes)
    G, D, sd, dsd = result.modules["G_ema"].eval(), result.modules["D"].eval(), states["G_ema"], states["D"]
    for name, module in result.modules.items():  # load_exact is strict: every gbench tensor came from the file
        assert result.tensors[name] == sum(not k.endswith("num_batches_tracked") for k in module.state_dict())

    with torch.no_grad():
        # spectral norm (a CBN projection, an attention conv, D's embedding): W / sigma of one power iteration from u0
        for module, state, layer, official_layer in ((G.blocks[2].norm2.gain, sd, "", "blocks.2.0.bn2.gain"),
                                                     (G.attention["3"].theta, sd, "", "blocks.3.1.theta"),
                                                     (D.embed, dsd, "", "embed"), (D.attention["0"].o, dsd, "", "blocks.0.1.o")):
            torch.testing.assert_close(module.weight, official_sn_weight(state, official_layer), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(G.blocks[2].norm2.norm.running_var, sd["blocks.2.0.bn2.stored_var"], rtol=0, atol=0)
        torch.testing.assert_close(G.blocks[4].norm1.norm.running_mean, sd["blocks.4.0.bn1.stored_mean"], rtol=0, atol=0)
        torch.testing.assert_close(G.out_norm.weight, sd["output_layer.0.gain"], rtol=0, atol=0)
        torch.testing.assert_close(G.shared.weight, sd["shared.weight"], rtol=0, atol=0)
        assert G.attention["3"].gamma.item() == sd["blocks.3.1.gamma"].item() and set(G.attention) == {"3"}
        assert D.attention["0"].gamma.item() == dsd["blocks.0.1.gamma"].item() and set(D.attention) == {"0"}

        # hier: chunk 0 of z feeds the first linear layer, chunk i + 1 block i's BNs as [shared(y), chunk]
        z, y, x = torch.randn(2, BIGGAN128_Z), torch.tensor([3, 48]), torch.randn(2, 3, 128, 128)
        seen = {}
        hooks = [G.linear.register_forward_hook(lambda m, args, out: seen.__setitem__("linear", args[0])),  # returns None
                 G.blocks[1].norm2.gain.register_forward_hook(lambda m, args, out: seen.__setitem__("block1", args[0]))]
        images = G(z, y)
        for hook in hooks:
            hook.remove()
        torch.testing.assert_close(seen["linear"], z[:, :BIGGAN128_CHUNK], rtol=0, atol=0)
        torch.testing.assert_close(seen["block1"], torch.cat([sd["shared.weight"][y], z[:, 2 * BIGGAN128_CHUNK:3 * BIGGAN128_CHUNK]], 1),
                                   rtol=0, atol=0)
        assert images.shape == (2, 3, 128, 128) and torch.isfinite(images).all() and images.abs().lt(0.99).float().mean() > 0.2
        torch.testing.assert_close(images, official_biggan128_generator(sd, z, y), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(D(x, y), official_biggan128_discriminator(dsd, x, y).flatten(), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(result.modules["G"](z, y), official_biggan128_generator(states["G"], z, y), rtol=1e-4, atol=1e-5)

    # the release archive (BigGAN_ch96_bs256x8_138k.zip: 138k/G.pth, ...) imports as the folder, other members unread
    archive = tmp_path / "BigGAN_ch96_bs256x8_138k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("G", "G_ema", "D"):
            zf.write(folder / f"{name}.pth", f"138k/{name}.pth")
        zf.writestr("138k/G_optim.pth", b"not read")
    monkeypatch.setenv("GBENCH_HOME", str(tmp_path / "home"))  # where the dgp-inversion table looks for the release
    out = released_checkpoint("biggan-imagenet128")
    run = CliRunner().invoke(app, ["import", "biggan-pytorch", str(archive), "--experiment", "biggan-imagenet128",
                                   *sum((["--set", s] for s in BIGGAN128_SMALL), []), "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "mapped: G " in run.output and "from the archive BigGAN_ch96_bs256x8_138k.zip" in " ".join(run.output.split())
    pair = load_generator_pair("biggan-imagenet128", "paper", checkpoint=out, overrides=list(BIGGAN128_SMALL))  # invert's loader
    with torch.no_grad():
        torch.testing.assert_close(pair.G(z, y), images, rtol=0, atol=0)
        torch.testing.assert_close(pair.D(x, y), D(x, y), rtol=0, atol=0)

    with pytest.raises(GBenchError) as e:  # the CIFAR experiment asked for 128 weights: the first key that does not fit
        official.load("biggan-pytorch", folder, "biggan")
    assert_one_line(e, "does not fit format biggan-pytorch (biggan)")


SNGAN_SMALL = ("model.g_kwargs.g_channels=32", "model.d_kwargs.d_channels=32")


def chainer_generator_arrays(G, conditional: bool) -> dict:
    bn = {"weight": "gamma", "bias": "beta", "running_mean": "avg_mean", "running_var": "avg_var", "num_batches_tracked": "N"}
    convs = {"conv1": "c1", "conv2": "c2", "shortcut": "c_sc"}
    out = {}
    for key, t in G.state_dict().items():
        t = t.detach().numpy().copy()
        if m := re.fullmatch(r"blocks\.(\d)\.(conv1|conv2|shortcut)\.(weight|bias)", key):
            out[f"block{int(m[1]) + 2}/{convs[m[2]]}/{'W' if m[3] == 'weight' else 'b'}"] = t
        elif conditional and (m := re.fullmatch(r"blocks\.(\d)\.norm(\d)\.(gain|bias)\.weight", key)):
            out[f"block{int(m[1]) + 2}/b{m[2]}/{'gammas' if m[3] == 'gain' else 'betas'}/W"] = t + 1 if m[3] == "gain" else t
        elif m := re.fullmatch(r"blocks\.(\d)\.norm(\d)\.(?:norm\.)?(\w+)", key):
            out[f"block{int(m[1]) + 2}/b{m[2]}/{bn[m[3]]}"] = t
        elif key.startswith("out_norm."):
            out[f"b5/{bn[key[9:]]}"] = t
        else:
            layer, param = key.split(".")
            out[f"{'l1' if layer == 'l1' else 'c5'}/{'W' if param == 'weight' else 'b'}"] = t
    return out


def chainer_discriminator_arrays(D, seed: int) -> tuple[dict, dict]:
    convs = {"conv1": "c1", "conv2": "c2", "shortcut": "c_sc"}

    def name(module_name):
        if module_name in ("linear", "embed"):
            return "l5" if module_name == "linear" else "l_y"
        _, block, conv = module_name.split(".")
        return f"block{int(block) + 1}/{convs[conv]}"

    state, normalised = official_sn_layers(D, name, seed, "u", "W", sep="/")
    for key, t in D.state_dict().items():
        if "parametrizations" not in key:
            state[name(key.rsplit(".", 1)[0]) + "/b"] = t
    return {k: v.detach().numpy().copy() for k, v in state.items()}, normalised


@pytest.mark.parametrize("conditional", [False, True])
def test_sngan_chainer_npz(tmp_path, conditional):
    overrides = SNGAN_SMALL + (("model.g_kwargs.num_classes=3", "model.d_kwargs.num_classes=3") if conditional else ())
    G, D = build("sngan", overrides)
    randomize(G, 26), randomize(D, 27)
    g_arrays = chainer_generator_arrays(G, conditional)
    d_arrays, d_norm = chainer_discriminator_arrays(D, 28)
    np.savez(tmp_path / "ResNetGenerator_50000.npz", **g_arrays)
    result = official.import_checkpoint("sngan-chainer", tmp_path / "ResNetGenerator_50000.npz", None, SNGAN_SMALL)
    assert set(result.modules) == {"G"} and result.experiment == "sngan"
    assert ("model.g_kwargs.num_classes=3" in result.overrides) == conditional
    z, y = torch.randn(3, 128), torch.tensor([0, 2, 1])
    call = (lambda m, *a: m(*a, y)) if conditional else (lambda m, *a: m(*a))
    with torch.no_grad():
        torch.testing.assert_close(call(result.modules["G"], z), call(G, z), rtol=0, atol=0)
    round_trip(tmp_path, result, z, y if conditional else None)
    # the trainer snapshot: both networks (and optimizer states) under updater/model:gen/ and updater/model:dis/
    snapshot = {**{f"updater/model:gen/{k}": v for k, v in g_arrays.items()}, **{f"updater/model:dis/{k}": v for k, v in d_arrays.items()},
                "updater/optimizer:gen/alpha": np.float32(2e-4), "updater/iteration": np.int64(50000)}
    np.savez(tmp_path / "snapshot_iter_50000.npz", **snapshot)
    both = official.import_checkpoint("sngan-chainer", tmp_path / "snapshot_iter_50000.npz", "sngan", SNGAN_SMALL)
    assert set(both.modules) == {"G", "D"}
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want = call(reference_without_sn(D, "sngan", overrides, d_norm), x)
        torch.testing.assert_close(call(both.modules["D"], x), want, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------------------ registry


def test_registry_entries_are_consistent():
    from gbench.experiments import experiments
    from gbench.leaderboard import PAPER_PROTOCOLS
    from gbench.official.registry import RELEASES, get_release
    from gbench.protocols import PROTOCOLS

    paper_ids = set(PAPER_PROTOCOLS)
    assert len(RELEASES) >= 12
    for release in RELEASES.values():
        assert release.format in official.FORMATS, release.name
        if release.experiment is not None:
            assert release.experiment in experiments() and release.experiment in official.FORMATS[release.format].experiments
            resolve_config(release.experiment, "paper", list(release.overrides))  # the overrides are valid --set strings
        assert release.protocol is None or release.protocol in PROTOCOLS, release.name
        assert release.paper_protocol in paper_ids, release.name
        assert release.downloads and all(d.url.startswith("http") and d.filename for d in release.downloads)
        for d in release.downloads:
            assert (d.drive_id is None) == (d.drive_kind is None) and (d.drive_id is None or d.drive_id in d.url)
        assert release.sha256 is None or len(release.sha256) == 64
        assert release.comparable_note and release.verify_command == f"gbench verify {release.name} --device cuda"
        for p in release.published:
            assert p.source and (p.error is not None or p.tolerance > 0), (release.name, p.metric)
    xl = get_release("transgan-xl-cifar10")
    fid = next(p for p in xl.published if p.metric == "fid")
    assert fid.reproduced_by(11.89 + 0.3) and not fid.reproduced_by(11.89 + 0.5)  # 3% of 11.89 = 0.357
    is_ = next(p for p in xl.published if p.metric == "is_mean")
    assert is_.reproduced_by(8.63 - 0.17) and not is_.reproduced_by(8.63 - 0.18)  # the paper's +-0.16 vs 2% = 0.173
    with pytest.raises(GBenchError, match="did you mean 'autogan-cifar10'"):
        get_release("autogan-cifar")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_unpickler_reads_tensors_and_plain_values_at_every_protocol(tmp_path, protocol):
    from gbench.official.unpickle import read_pickle

    obj = {"array": np.arange(6, dtype=np.float32).reshape(2, 3), "scalar": np.float64(2.5), "parameter": torch.nn.Parameter(torch.ones(2, 2)),
           "tensor": torch.arange(4).view(2, 2)[:, 1], "set": {1, 2}, "size": torch.Size([2, 3]), "bytes": b"\x00\xff",
           "ordered": collections.OrderedDict(a=1)}
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(obj, protocol=protocol))
    out = read_pickle(tmp_path / "plain.pkl")
    assert out["array"].tolist() == [[0, 1, 2], [3, 4, 5]] and out["scalar"] == 2.5 and out["bytes"] == b"\x00\xff"
    assert type(out["parameter"]) is torch.Tensor and out["parameter"].sum() == 4 and out["tensor"].tolist() == [1, 3]
    assert out["set"] == {1, 2} and out["size"] == (2, 3) and out["ordered"] == {"a": 1}
