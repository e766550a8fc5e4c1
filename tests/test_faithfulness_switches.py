"""Recipe details reproduced from the official code behind switches (issue 13), each shown to change what it should:
TransGAN's D-gradient carry-over, BigGAN's train-mode sampling, and (tests/test_img2img_sr_models.py) pix2pix's
dropout placement."""

import dataclasses

import pytest
import torch

from gbench.evaluation import evaluate
from gbench.experiments import experiments, resolve_config
from gbench.protocols import PROTOCOLS
from gbench.train.gan import GANTrainer, StepLog

CPU = torch.device("cpu")
TINY_TRANSGAN = ["data.size=32", "model.g_kwargs.embed_dim=32", "model.g_kwargs.latent_dim=16", "model.d_kwargs.embed_dim=32",
                 "model.d_kwargs.depth=1", "train.batch_size_d=4", "train.batch_size_g=4", "train.n_critic=1",
                 "train.co_train_sr=false", "train.ema=false"]


# ----------------------------------------------------------------------------- TransGAN: D's gradient carry-over


def test_carryover_is_the_transgan_recipes_default_only():
    for name, exp in experiments().items():
        assert exp.config("paper").train.d_grad_carryover == ("transgan" in name), name


def _two_steps(carryover: bool):
    """Two G steps with plain SGD and no clipping, so D's update is exactly -lr * (its gradient)."""
    cfg = resolve_config("transgan-s", "smoke", TINY_TRANSGAN + ["train.optimizer=sgd", "train.grad_clip=0",
                                                                 f"train.d_grad_carryover={str(carryover).lower()}"])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, CPU)
    trainer.train_step(StepLog())
    d_after_first = [p.detach().clone() for p in trainer.D.parameters()]
    carried = [None if p.grad is None else p.grad.clone() for p in trainer.D.parameters()]
    state = trainer.state_dict()
    trainer.train_step(StepLog())
    return cfg, d_after_first, carried, state, [p.detach().clone() for p in trainer.D.parameters()]


def test_d_grad_carryover_adds_the_g_losss_gradient_to_the_next_d_update():
    cfg, d1_on, carried, state, d2_on = _two_steps(True)
    _, d1_off, _, _, d2_off = _two_steps(False)
    assert all(torch.equal(a, b) for a, b in zip(d1_on, d1_off))  # the first D update is the same either way
    assert all(g is not None for g in carried) and sum(float(g.abs().sum()) for g in carried) > 0
    # the second D update differs by exactly the carried gradient (SGD: delta = -lr * grad)
    lr = cfg.train.lr_d
    for on, off, g in zip(d2_on, d2_off, carried):  # within float32 rounding of the parameters themselves
        torch.testing.assert_close(off - on, lr * g, rtol=1e-4, atol=4 * torch.finfo(torch.float32).eps * float(on.abs().max()))
    # the carried gradient is part of the checkpoint, so a resumed run continues exactly
    assert all(torch.equal(a, b) for a, b in zip(state["d_grad_carry"], carried))
    fresh = GANTrainer(cfg, CPU)
    fresh.load_state_dict(state)
    assert all(torch.equal(p.grad, g) for p, g in zip(fresh.D.parameters(), carried))


def test_a_run_resumed_between_g_step_and_d_step_continues_exactly():
    """The carried gradient lives between two train steps: a checkpoint there must hold it."""
    import io

    cfg = resolve_config("transgan-s", "smoke", TINY_TRANSGAN)
    assert cfg.train.d_grad_carryover
    torch.manual_seed(0)
    straight = GANTrainer(cfg, CPU)
    for _ in range(3):
        straight.train_step(StepLog())
    torch.manual_seed(0)
    first = GANTrainer(cfg, CPU)
    first.train_step(StepLog())
    buffer, rng = io.BytesIO(), torch.get_rng_state()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    resumed = GANTrainer(cfg, CPU)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    torch.set_rng_state(rng)
    for _ in range(2):
        resumed.train_step(StepLog())
    assert all(torch.equal(a, b) for a, b in zip(straight.D.parameters(), resumed.D.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(straight.G.parameters(), resumed.G.parameters()))


# ----------------------------------------------------------------------------- BigGAN: train-mode sampling


def test_biggan_recipe_samples_in_train_mode_at_batch_50_and_the_trainer_passes_it(monkeypatch):
    cfg = resolve_config("biggan")
    assert cfg.eval.g_train_mode and cfg.eval.g_train_mode_batch == 50 and cfg.train.batch_size_g == 50
    assert not any(e.config("paper").eval.g_train_mode for n, e in experiments().items() if n != "biggan")
    seen = {}
    monkeypatch.setattr(evaluate, "evaluate_generator", lambda G, protocol, **kw: seen.update(kw) or {})
    for setting, expected in (([], 50), (["eval.g_train_mode=false"], 0)):
        trainer = GANTrainer(resolve_config("biggan", "smoke", ["data.size=64"] + setting), CPU)
        trainer.evaluate(0)
        assert seen["train_mode_batch"] == expected
        assert seen["batch_size"] == trainer.cfg.eval.batch_size  # the extraction batch stays the evaluation setting


@pytest.fixture
def small_biggan():
    torch.manual_seed(0)
    cfg = resolve_config("biggan", "smoke")
    G = GANTrainer(cfg, CPU).G
    with torch.no_grad():  # running statistics away from the batch statistics, as after training
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return G


def test_train_mode_chunks_are_seeded_restored_and_independent_of_batch_size_and_order(small_biggan):
    G = small_biggan.eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}

    def chunk(index, batch_size, train_mode_batch):
        with torch.random.fork_rng(devices=[]):
            return torch.cat(list(evaluate.generated_chunk(G, 7, index, 500, batch_size, CPU, train_mode_batch)))

    eval_mode = chunk(1, 250, 0)
    alone = chunk(1, 250, 50)
    assert not torch.equal(alone, eval_mode)  # batch statistics, not running statistics
    assert torch.equal(chunk(1, 64, 50), alone)  # the evaluation batch size does not enter (BN batches are 50)
    chunk(0, 250, 50)  # another chunk first (another rank's share, or the stream's order) changes nothing
    assert torch.equal(chunk(1, 250, 50), alone)
    assert not torch.equal(chunk(1, 250, 100), alone)  # the BN batch size does
    assert not G.training and all(torch.equal(v, before[k]) for k, v in G.state_dict().items())  # buffers put back
    assert evaluate.sampling_mode(50)["mode"] == "train" and evaluate.sampling_mode(0) == {"mode": "eval"}


def test_train_mode_evaluation_records_the_mode_and_changes_the_numbers(small_biggan, monkeypatch):
    small = dataclasses.replace(PROTOCOLS["toy-shapes32"], id="test-bn-mode", n_gen=500, n_ref=500, is_splits=5, kid_subsets=5,
                                kid_subset_size=100)
    monkeypatch.setitem(PROTOCOLS, small.id, small)
    G = small_biggan
    eval_mode = evaluate.evaluate_generator(G, small.id, batch_size=250)
    train_mode = evaluate.evaluate_generator(G, small.id, batch_size=250, train_mode_batch=50)
    again = evaluate.evaluate_generator(G, small.id, batch_size=100, train_mode_batch=50)
    assert eval_mode["sampling"] == {"mode": "eval"}
    assert train_mode["sampling"]["mode"] == "train" and train_mode["sampling"]["batch"] == 50
    assert train_mode["metrics"]["fid"] != eval_mode["metrics"]["fid"]
    assert again["metrics"] == train_mode["metrics"]  # seeded: the same numbers at another evaluation batch size
    assert train_mode["fingerprint"] == eval_mode["fingerprint"]  # the protocol is the same; the generator mode is recorded beside it
