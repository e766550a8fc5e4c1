"""shapes32 determinism and the toy-shapes32 protocol's extractor and scores."""

import torch

from gbench.data import load_dataset
from gbench.data.shapes import CLASS_NAMES, load_shapes32, render
from gbench.evaluation.evaluate import evaluate_batches
from gbench.evaluation.features import build_extractor
from gbench.evaluation.toy_classifier import accuracy, load_toy_classifier
from gbench.protocols import get_protocol


def test_shapes32_is_deterministic_and_balanced():
    a, b = load_shapes32(1500), load_shapes32(1500)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (1500, 3, 32, 32) and a.images.dtype == torch.uint8
    counts = torch.bincount(a.labels, minlength=len(CLASS_NAMES))
    assert counts.min() > 100  # ten roughly balanced classes
    test = load_shapes32(1500, split="test")
    assert not torch.equal(test.images[:10], a.images[:10]) and test.checksum != a.checksum
    # any prefix is the same images: chunks are seeded independently
    assert torch.equal(load_shapes32(1100).images, a.images[:1100])
    assert a.images.float().std() > 30  # not a flat image set


def test_render_varies_with_seed_and_shapes_are_visible():
    x1, _ = render(64, seed=1)
    x2, _ = render(64, seed=2)
    assert not torch.equal(x1, x2)
    assert load_dataset("shapes32", "train", size=64).resolution == 32


def test_toy_classifier_is_cached_deterministic_and_learned(gbench_home):
    model, digest = load_toy_classifier(gbench_home / "assets")
    again, digest2 = load_toy_classifier(gbench_home / "assets")
    assert digest == digest2
    x = load_shapes32(64, split="test").images
    assert torch.equal(model(x)[0], again(x)[0])
    test = load_shapes32(1000, split="test")
    assert accuracy(model, test.images, test.labels) >= 0.95  # chance is 0.1 (issue 14: at least 0.95)


def test_toy_classifier_corrupt_cache_is_retrained(tmp_path):
    _, digest = load_toy_classifier(tmp_path)
    path = next(tmp_path.glob("toy-shapes32-classifier-*.pt"))
    path.write_bytes(b"garbage")
    _, again = load_toy_classifier(tmp_path)
    assert again == digest  # retrained to the same weights: training is seeded and deterministic


def test_toy_protocol_orders_real_blurred_and_flat_images():
    p = get_protocol("toy-shapes32")
    real = load_shapes32(p.n_gen, split="train").images
    blurred = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(real.float(), 4), scale_factor=4, mode="bilinear")
    flat = torch.full_like(real, 128)

    def fid(images):
        res = evaluate_batches("toy-shapes32", [images[i : i + 500] for i in range(0, len(images), 500)])
        assert res["fingerprint"].startswith("toy-shapes32@") and res["n_gen"] == p.n_gen and res["n_ref"] == p.n_ref
        return res["metrics"]

    r, b, f = fid(real), fid(blurred.round().clamp(0, 255).to(torch.uint8)), fid(flat)
    assert r["fid"] < 5 < b["fid"] < f["fid"]
    assert r["is_mean"] > b["is_mean"] > 1.0
    assert abs(r["kid_mean"]) < b["kid_mean"]


def test_extractor_fingerprint_contains_weights_hash():
    ext = build_extractor("toy-shapes32", "cpu")
    feats, logits = ext(load_shapes32(8).images)
    assert feats.shape == (8, 64) and logits.shape == (8, 10) and len(ext.sha256) == 64


def test_protocol_models_train_on_one_thread_whatever_the_callers_threads(tmp_path):
    """CPU convolutions sum in an order that depends on the thread count, so a cached protocol model (toy classifier,
    toy segmenter) trained on 2 threads would differ from one trained on 1, and so would the fingerprint."""
    from gbench.evaluation.cache import load_or_train

    seen = []

    def train():
        seen.append(torch.get_num_threads())
        return torch.nn.Linear(2, 2)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model, digest = load_or_train(tmp_path / "model.pt", lambda: torch.nn.Linear(2, 2), train)
        assert seen == [1] and torch.get_num_threads() == 2  # pinned while training, restored after
        assert load_or_train(tmp_path / "model.pt", lambda: torch.nn.Linear(2, 2), train)[1] == digest and seen == [1]  # cached
    finally:
        torch.set_num_threads(before)
