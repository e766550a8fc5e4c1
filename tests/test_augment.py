"""DiffAugment: shapes, gradients, translation/cutout/erase geometry, batch gating, colour ranges, RNG."""

import pytest
import torch

from gbench.augment import diff_augment, parse_policy


def _point_images(n, side, row, col):
    x = torch.zeros(n, 3, side, side)
    x[:, :, row, col] = 1.0
    return x


def _zero_boxes(out):
    """Per image: (number of zeroed pixels, bounding-box height, width, whether the box is all zero)."""
    zero = (out == 0).all(dim=1)  # (N, H, W)
    results = []
    for z in zero:  # test-side inspection only
        rows, cols = z.any(dim=1).nonzero().flatten(), z.any(dim=0).nonzero().flatten()
        if len(rows) == 0:
            results.append((0, 0, 0, True))
            continue
        box = z[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        results.append((int(z.sum()), box.shape[0], box.shape[1], bool(box.all())))
    return results


@pytest.mark.parametrize("variant", ["original", "transgan"])
@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "translation,cutout,color", ""])
def test_shape_preserved_and_differentiable(variant, policy):
    torch.manual_seed(0)
    x = (torch.rand(4, 3, 32, 24) * 2 - 1).requires_grad_()
    out = diff_augment(x, policy, variant)
    assert out.shape == x.shape
    if policy:
        out.square().sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0


def test_stl_erase_ratio_is_differentiable_and_transgan_only():
    x = torch.rand(4, 3, 48, 48, requires_grad=True)
    diff_augment(x, "translation,stl_erase_ratio,color", "transgan").sum().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        diff_augment(x, "stl_erase_ratio", "original")
    with pytest.raises(ValueError):
        parse_policy("translation,flip")
    with pytest.raises(ValueError):
        parse_policy("color", variant="ada")
    assert parse_policy(" translation, cutout ,color ") == ["translation", "cutout", "color"]


@pytest.mark.parametrize("variant,side,bound", [("original", 32, 4), ("transgan", 32, 6), ("transgan", 48, 10), ("original", 48, 6)])
def test_translation_range(variant, side, bound):
    torch.manual_seed(1)
    centre = side // 2
    out = diff_augment(_point_images(1024, side, centre, centre), "translation", variant)
    where = (out[:, 0] == 1).flatten(1).nonzero()
    assert len(where) == 1024  # the point never leaves the image at these bounds: exactly one per image
    rows, cols = where[:, 1] // side - centre, where[:, 1] % side - centre
    for shift in (rows, cols):
        assert shift.abs().max() == bound  # reaches the bound (each value has probability 1 / (2 bound + 1))
        assert shift.min() == -bound
    assert out.sum() == 1024 * 3  # pure shift: nothing scaled, vacated pixels zero


def test_translation_zero_fill():
    torch.manual_seed(0)
    out = diff_augment(torch.ones(64, 3, 32, 32), "translation", "original")
    zero_rows = (out[:, 0] == 0).all(dim=2).sum(dim=1)
    zero_cols = (out[:, 0] == 0).all(dim=1).sum(dim=1)
    assert zero_rows.max() == 4 and zero_cols.max() == 4
    assert ((out == 0) | (out == 1)).all()


def test_original_cutout_always_applied_per_sample():
    torch.manual_seed(0)
    out = diff_augment(torch.ones(256, 3, 32, 32), "cutout", "original")
    boxes = _zero_boxes(out)
    for count, h, w, solid in boxes:
        assert solid and h <= 16 and w <= 16 and count == h * w
        assert count >= 8 * 8  # the centre lies inside the image, so at least a quarter square remains
    assert sum(count == 256 for count, *_ in boxes) > 50  # full 16x16 squares are common
    assert len({(h, w, c) for c, h, w, _ in boxes}) > 10  # positions differ per sample


def test_transgan_cutout_gates_the_whole_batch():
    torch.manual_seed(123)
    x = torch.ones(4, 3, 32, 32)
    calls, applied = 2000, 0
    for _ in range(calls):
        cut = (diff_augment(x, "cutout", "transgan") == 0).flatten(1).any(dim=1)
        assert cut.all() or not cut.any()  # all samples or none
        applied += int(cut.all())
    # p = 0.3; the standard error of the rate is 0.010, so +-0.06 is six sigma.
    assert abs(applied / calls - 0.3) < 0.06
    out = torch.cat([diff_augment(x, "cutout", "transgan") for _ in range(50)])
    assert max(h for _, h, _, _ in _zero_boxes(out)) == 16


def test_stl_erase_ratio_rectangles():
    torch.manual_seed(7)
    x = torch.ones(8, 3, 48, 48)
    applied, sides = 0, []
    for _ in range(400):
        boxes = _zero_boxes(diff_augment(x, "stl_erase_ratio", "transgan"))
        hit = [count > 0 for count, *_ in boxes]
        assert all(hit) or not any(hit)
        if all(hit):
            applied += 1
            assert all(solid and h <= 44 and w <= 44 for _, h, w, solid in boxes)
            sides += [side for _, h, w, _ in boxes for side in (h, w)]
    assert abs(applied / 400 - 0.3) < 0.1
    assert max(sides) == 44  # the largest side, 48 // 2 + 20, shows up unclipped (every one of 20 seeds tried)


def test_color_ranges():
    torch.manual_seed(0)
    n = 2048
    # channels (a, -a, 0): channel mean 0 everywhere, image mean 0, so the output is
    # (c*s*a + b, -c*s*a + b, b) with brightness b, saturation s and contrast c.
    a = torch.rand(n, 1, 8, 8) * 0.5 + 0.1
    x = torch.cat([a, -a, torch.zeros_like(a)], dim=1)
    out = diff_augment(x, "color", "transgan")
    brightness = out[:, 2, 0, 0]
    assert torch.allclose(out[:, 2], brightness[:, None, None].expand(n, 8, 8), atol=1e-6)
    assert brightness.min() >= -0.5 and brightness.max() <= 0.5
    assert brightness.min() < -0.45 and brightness.max() > 0.45
    gain = ((out[:, 0] - brightness[:, None, None]) / a[:, 0]).mean(dim=(1, 2))  # = saturation * contrast
    assert gain.min() >= 0 and gain.max() <= 3.0 + 1e-5
    assert gain.max() > 2.5 and gain.min() < 0.1
    # brightness alone on a grey image: saturation and contrast leave a constant image unchanged
    grey = torch.full((n, 3, 4, 4), 0.25)
    shift = diff_augment(grey, "color", "original") - grey
    assert shift.std(dim=(1, 2, 3)).max() < 1e-6 and shift.abs().max() <= 0.5


def test_contrast_about_image_mean_and_saturation_about_pixel_mean():
    torch.manual_seed(0)
    x = torch.rand(512, 3, 8, 8) * 2 - 1
    out = diff_augment(x, "color", "original")
    # the per-pixel channel spread scales by s*c, the image mean moves by exactly the brightness
    pixel_spread_ratio = (out - out.mean(1, keepdim=True)).norm(dim=1) / (x - x.mean(1, keepdim=True)).norm(dim=1)
    per_image = pixel_spread_ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("variant", ["original", "transgan"])
def test_reproducible_from_global_seed_and_from_a_generator(variant):
    policy = "translation,cutout,color" if variant == "original" else "translation,stl_erase_ratio,cutout,color"
    x = torch.rand(16, 3, 48, 48) * 2 - 1
    outs = []
    for _ in range(2):
        torch.manual_seed(42)
        outs.append(torch.stack([diff_augment(x, policy, variant) for _ in range(5)]))
    assert torch.equal(outs[0], outs[1])

    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = diff_augment(x, policy, variant, generator=torch.Generator().manual_seed(5))
    b = diff_augment(x, policy, variant, generator=torch.Generator().manual_seed(5))
    c = diff_augment(x, policy, variant, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())  # a given generator leaves the global RNG alone
