"""DINOv2 extractor: Pillow-exact resize, dgm-eval's preprocessing, strict loading of a random-weight
file in the official key layout, and a hand-assembled forward of a tiny one-block ViT."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image

from gbench.errors import GBenchError
from gbench.evaluation.dinov2 import DinoV2Config, load_dinov2, parameter_count, pil_bicubic_resize

# 2x2 patches at 28 pixels; the checkpoint's position grid is 3x3 (as 37x37 is for ViT-L/14 at 518).
TINY = DinoV2Config(embed_dim=16, depth=1, num_heads=2, mlp_ratio=4, patch_size=14, pretrain_grid=3, image_size=28)


def official_layout_state_dict(config: DinoV2Config, seed: int = 0) -> dict:
    """Random tensors under the key names and shapes of facebookresearch/dinov2's DinoVisionTransformer
    (block_chunks=0, no registers), written out here rather than taken from gbench's module."""
    generator = torch.Generator().manual_seed(seed)
    dim, hidden, grid, patch = config.embed_dim, config.mlp_ratio * config.embed_dim, config.pretrain_grid, config.patch_size

    def rand(*shape, mean=0.0, std=0.2):
        return mean + std * torch.randn(*shape, generator=generator)

    state = {
        "cls_token": rand(1, 1, dim),
        "pos_embed": rand(1, 1 + grid * grid, dim),
        "mask_token": rand(1, dim),
        "patch_embed.proj.weight": rand(dim, 3, patch, patch, std=0.05),
        "patch_embed.proj.bias": rand(dim),
    }
    for i in range(config.depth):
        block = {
            "norm1.weight": rand(dim, mean=1.0), "norm1.bias": rand(dim),
            "attn.qkv.weight": rand(3 * dim, dim), "attn.qkv.bias": rand(3 * dim),
            "attn.proj.weight": rand(dim, dim), "attn.proj.bias": rand(dim),
            "ls1.gamma": rand(dim, mean=0.5),
            "norm2.weight": rand(dim, mean=1.0), "norm2.bias": rand(dim),
            "mlp.fc1.weight": rand(hidden, dim), "mlp.fc1.bias": rand(hidden),
            "mlp.fc2.weight": rand(dim, hidden), "mlp.fc2.bias": rand(dim),
            "ls2.gamma": rand(dim, mean=0.5),
        }  # fmt: skip
        state.update({f"blocks.{i}.{name}": tensor for name, tensor in block.items()})
    state["norm.weight"], state["norm.bias"] = rand(dim, mean=1.0), rand(dim)
    return state


def reference_forward(state: dict, config: DinoV2Config, images: torch.Tensor) -> torch.Tensor:
    """One-block DINOv2 forward assembled by hand from the official code's steps."""
    dim, heads, grid, patch = config.embed_dim, config.num_heads, config.pretrain_grid, config.patch_size
    eps = config.layer_norm_eps
    tokens = F.conv2d(images, state["patch_embed.proj.weight"], state["patch_embed.proj.bias"], stride=patch)
    grid_h, grid_w = tokens.shape[-2:]
    tokens = tokens.flatten(2).transpose(1, 2)
    tokens = torch.cat([state["cls_token"].expand(len(images), 1, dim), tokens], dim=1)
    pos = state["pos_embed"]
    if (grid_h, grid_w) != (grid, grid):  # interpolate_pos_encoding: bicubic, scale (w0 + 0.1) / M
        patch_pos = pos[:, 1:].reshape(1, grid, grid, dim).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=((grid_h + 0.1) / grid, (grid_w + 0.1) / grid), mode="bicubic")
        pos = torch.cat([pos[:, :1], patch_pos.permute(0, 2, 3, 1).reshape(1, -1, dim)], dim=1)
    x = tokens + pos

    b = "blocks.0."
    h = F.layer_norm(x, (dim,), state[b + "norm1.weight"], state[b + "norm1.bias"], eps)
    qkv = (h @ state[b + "attn.qkv.weight"].T + state[b + "attn.qkv.bias"]).reshape(len(x), -1, 3, heads, dim // heads)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    weights = torch.softmax(q @ k.transpose(-1, -2) * (dim // heads) ** -0.5, dim=-1)
    attended = (weights @ v).transpose(1, 2).reshape(len(x), -1, dim)
    x = x + state[b + "ls1.gamma"] * (attended @ state[b + "attn.proj.weight"].T + state[b + "attn.proj.bias"])
    h = F.layer_norm(x, (dim,), state[b + "norm2.weight"], state[b + "norm2.bias"], eps)
    h = F.gelu(h @ state[b + "mlp.fc1.weight"].T + state[b + "mlp.fc1.bias"]) @ state[b + "mlp.fc2.weight"].T + state[b + "mlp.fc2.bias"]
    x = x + state[b + "ls2.gamma"] * h
    return F.layer_norm(x, (dim,), state["norm.weight"], state["norm.bias"], eps)[:, 0]


def dgm_eval_inputs(images_uint8: torch.Tensor, size: int) -> torch.Tensor:
    """dgm-eval's DINOv2 transform on PIL images: Resize((size, size), BICUBIC), ToTensor, Normalize."""
    transform = T.Compose([T.Resize((size, size), T.InterpolationMode.BICUBIC), T.ToTensor()])
    normalize = T.Normalize(np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]))
    pil_images = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in images_uint8]
    return torch.stack([normalize(transform(image)) for image in pil_images])


def random_images(n, height, width, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, height, width), dtype=torch.uint8, generator=generator)


def test_vitl14_parameter_count_matches_the_official_model():
    # facebookresearch/dinov2 vit_large(patch_size=14, img_size=518), counted from the official code.
    assert parameter_count() == 304_368_640


# Square sizes (up and down) and shapes whose height does not shrink: the pass order of Pillow <= 12
# (horizontal first), which gbench follows, and of Pillow 13 agree on these.
@pytest.mark.parametrize("size", [(32, 32), (48, 48), (224, 224), (256, 256), (500, 500), (30, 50), (100, 300)])
def test_resize_equals_pillow_bicubic_bit_for_bit(size):
    images = random_images(2, *size, seed=sum(size))
    ours = pil_bicubic_resize(images, 224)
    for image, resized in zip(images, ours):
        pil = Image.fromarray(image.permute(1, 2, 0).numpy()).resize((224, 224), Image.BICUBIC)
        assert torch.equal(resized, torch.from_numpy(np.array(pil)).permute(2, 0, 1))


def test_preprocessing_equals_dgm_eval_transform(tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save(official_layout_state_dict(TINY), path)
    extractor = load_dinov2(path, config=TINY)
    images = random_images(3, 32, 32, seed=1)
    assert torch.equal(extractor.preprocess(images), dgm_eval_inputs(images, TINY.image_size))


@pytest.mark.parametrize("image_size", [28, 42])  # 2x2 patches (interpolated positions), 3x3 (the stored grid)
def test_tiny_one_block_forward_equals_hand_assembled_reference(tmp_path, image_size):
    config = DinoV2Config(**{**TINY.__dict__, "image_size": image_size})
    state = official_layout_state_dict(config, seed=2)
    path = tmp_path / "tiny.pth"
    torch.save(state, path)
    extractor = load_dinov2(path, config=config)
    images = random_images(3, 32, 32, seed=3)
    features = extractor(images)
    assert features.shape == (3, config.embed_dim) and features.dtype == torch.float32
    expected = reference_forward(state, config, dgm_eval_inputs(images, image_size))
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=1e-5)
    assert (features[0] - features[1]).abs().max() > 1e-2  # different images, different features


def test_every_official_key_is_consumed_strictly(tmp_path):
    config = DinoV2Config(**{**TINY.__dict__, "depth": 2})
    state = official_layout_state_dict(config, seed=4)
    path = tmp_path / "two_blocks.pth"
    torch.save(state, path)
    loaded = load_dinov2(path, config=config).vit.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[key], value) for key, value in state.items())

    for broken, match in [
        ({k: v for k, v in state.items() if k != "blocks.1.ls2.gamma"}, "missing.*blocks.1.ls2.gamma"),
        ({**state, "register_tokens": torch.zeros(1, 4, 16)}, "unexpected.*register_tokens"),
        ({**state, "pos_embed": torch.zeros(1, 17, 16)}, "pos_embed"),
    ]:
        torch.save(broken, path)
        with pytest.raises(GBenchError, match=match):
            load_dinov2(path, config=config)


def test_unsafe_or_missing_files_are_one_line_errors(tmp_path):
    path = tmp_path / "pickled.pth"
    torch.save({"cls_token": torch.zeros(1), "note": object()}, path)  # needs a full unpickler
    with pytest.raises(GBenchError, match="cannot load DINOv2 weights"):
        load_dinov2(path, config=TINY)
    with pytest.raises(GBenchError, match="not found"):
        load_dinov2(tmp_path / "absent.pth", config=TINY)
    torch.save(official_layout_state_dict(TINY), path)
    extractor = load_dinov2(path, config=TINY)
    with pytest.raises(GBenchError, match="uint8"):
        extractor(torch.zeros(1, 3, 32, 32))
