"""`train.compile=true` with every kind of loss, gradient penalties included, and a bounded number of compilations.

aot_autograd has no double backward, so the trainer takes GP and R1 through the plain D and everything else through
the compiled modules. The step-count tests use the `aot_eager` backend behind a counting wrapper: it goes through
dynamo and aot_autograd exactly as inductor does (so a penalty through the compiled D fails the same way) but skips
inductor's C++ code generation, which on two CPU cores takes about a minute per model (transgan at test size: 70 s);
one test runs the real inductor CPU backend on the smallest model.
"""

import math
import time

import pytest
import torch
import torch._dynamo

from gbench.experiments import resolve_config
from gbench.train import gan
from gbench.train.gan import GANTrainer, StepLog

CPU = torch.device("cpu")
CASES = {  # experiment -> overrides at test size (batch 4); which penalty / loss each exercises
    "transgan-s": ["data.size=8", "model.g_kwargs.embed_dim=32", "model.g_kwargs.latent_dim=16", "model.d_kwargs.embed_dim=32",
                   "model.d_kwargs.depth=1", "train.n_critic=1", "train.local_init=band", "train.co_train_sr=true"],  # wgan-gp-eps + MT-CT
    "stylegan2": ["data.size=16"],  # ns + R1, style mixing, g-first loop
    "sngan": ["data.size=16", "train.precision=bf16"],  # hinge, spectral norm, bf16 autocast
}
COMMON = ["train.batch_size_d=4", "train.batch_size_g=4", "train.compile=true"]


@pytest.fixture
def graphs(monkeypatch):
    """Every graph dynamo hands to the backend (one per compilation), compiled with aot_eager."""
    compiled = []
    aot_eager = torch._dynamo.lookup_backend("aot_eager")

    def counting_backend(gm, example_inputs):
        compiled.append(gm)
        return aot_eager(gm, example_inputs)

    torch._dynamo.reset()
    monkeypatch.setattr(gan, "COMPILE_BACKEND", counting_backend)
    yield compiled
    torch._dynamo.reset()


@pytest.mark.slow  # dynamo + aot_autograd trace a whole training step: 15-35 s per model on two busy cores
@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_training_with_penalties_compiles_once(name, graphs):
    cfg = resolve_config(name, "smoke", COMMON + CASES[name])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, CPU)
    locality = getattr(trainer.G, "locality", None)
    if locality is not None:
        trainer.sampler.epoch = 21  # the mask widens from 4 to 6 at data epoch 22, two steps in
    widths, after_first = [], None
    for step in range(4):
        log = StepLog()
        trainer.train_step(log)
        values = log.means()
        assert values and all(math.isfinite(v) for v in values.values()), values
        if step == 0:
            after_first = len(graphs)
        if locality is not None:
            widths.append(locality.width)
    penalty = {"transgan-s": "gp", "stylegan2": "r1"}.get(name)
    assert penalty is None or penalty in values  # the penalty ran (through the plain D)
    # G and D each compile once per grad mode / requires_grad pattern in the first step, never again
    assert 2 <= after_first <= 4 and len(graphs) == after_first, [g.__class__.__name__ for g in graphs]
    if locality is not None:
        assert widths[0] == 4 and widths[-1] == 6  # the epoch changed the mask without a recompilation


@pytest.mark.slow
def test_compiled_generator_reads_the_current_locality_mask(graphs):
    """The mask is an input of the compiled graph, not a constant baked in at the first call."""
    cfg = resolve_config("transgan-s", "smoke", COMMON + CASES["transgan-s"])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, CPU)
    z = torch.randn(4, 16)
    with torch.no_grad():
        for epoch in (0, 22, 61):  # half-width 4, 6, then global attention (no mask)
            trainer.G.set_data_epoch(epoch)
            torch.testing.assert_close(trainer.G_fwd(z), trainer.G(z))
    assert len(graphs) == 2  # masked and global: one graph each


def test_penalty_through_the_compiled_critic_would_fail(graphs):
    """Why the trainer takes penalties through the plain D: aot_autograd has no double backward."""
    from gbench import losses

    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    with pytest.raises(RuntimeError, match="double backward"):
        losses.gradient_penalty(gan.compile_module(D), real, fake).backward()
    losses.gradient_penalty(D, real, fake).backward()


def test_spectral_norm_power_iteration_outside_the_graph_matches_eager(graphs):
    """Compiled D(real) - D(fake) with spectral norm: the same gradients and u vectors as eager, step after step."""
    import copy

    from torch.nn.utils import parametrizations

    torch.manual_seed(0)
    D = torch.nn.Sequential(parametrizations.spectral_norm(torch.nn.Conv2d(3, 4, 1)), torch.nn.Flatten(), torch.nn.Linear(16, 1))
    eager = copy.deepcopy(D)
    compiled = gan.power_iteration_outside(D, gan.compile_module(D))
    x, y = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 2, 2)
    for _ in range(3):
        (compiled(x).mean() - compiled(y).mean()).backward()
        (eager(x).mean() - eager(y).mean()).backward()
    for a, b in zip(D.parameters(), eager.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(D[0].parametrizations.weight[0]._u, eager[0].parametrizations.weight[0]._u)
    assert len(graphs) == 1


@pytest.mark.slow  # inductor's C++ code generation: about 1-2 minutes on two busy cores
def test_inductor_cpu_backend_trains_a_hinge_model():
    """The real backend once: C++ code generation for G and D of a tiny SN-GAN (tens of seconds on two cores). Spectral
    norm's in-place power iteration under inductor is what `power_iteration_outside` exists for: without it the
    second D forward of a step modifies a tensor the first one's backward needs."""
    torch._dynamo.reset()
    cfg = resolve_config("sngan", "smoke", COMMON + ["data.size=8", "model.g_kwargs.g_channels=8", "model.d_kwargs.d_channels=8",
                                                     "train.n_critic=1"])
    torch.manual_seed(0)
    trainer = GANTrainer(cfg, CPU)
    started = time.perf_counter()
    for _ in range(2):
        log = StepLog()
        trainer.train_step(log)
        assert all(math.isfinite(v) for v in log.means().values())
    z = torch.randn(4, trainer.G.latent_dim)
    with torch.no_grad():
        torch.testing.assert_close(trainer.D_fwd(trainer.G_fwd(z)), trainer.D(trainer.G(z)), rtol=1e-4, atol=1e-4)
    print(f"inductor: 2 compiled steps in {time.perf_counter() - started:.1f} s")
    torch._dynamo.reset()


def test_other_trainers_say_they_have_no_fast_path(tmp_path):
    from gbench.errors import GBenchError
    from gbench.runs import run_experiment

    cfg = resolve_config("pix2pix-facades", "smoke", ["train.compile=true"])
    with pytest.raises(GBenchError, match="switches of the GAN trainer"):
        run_experiment(cfg, out=tmp_path, device="cpu")
