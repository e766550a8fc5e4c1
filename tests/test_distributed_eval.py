"""Distributed evaluation: two CPU processes on gloo, started the way torchrun starts them (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment), give the single-process result.

The protocol is a small toy-shapes32 variant with 3 stream chunks, so rank 0 generates chunks 0 and 2
and rank 1 chunk 1: uneven shards whose rows must be put back in stream order (IS and KID use the rows
themselves; FID only differs by the order of float64 sums). A one-chunk variant leaves rank 1 idle; it
must still take part in every collective.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from gbench import distributed as dist
from gbench.protocols import PROTOCOLS

PROTOCOL = "test-toy-dist"

WORKER = textwrap.dedent('''
    import dataclasses, json, sys
    import torch
    from torch import nn

    from gbench import distributed as dist
    from gbench.evaluation.evaluate import evaluate_generator
    from gbench.protocols import PROTOCOLS

    PROTOCOLS["{protocol}"] = dataclasses.replace(PROTOCOLS["toy-shapes32"], id="{protocol}", n_gen=1300, n_ref=1000, is_splits=5,
                                                  kid_subsets=10, kid_subset_size=100)
    PROTOCOLS["{protocol}-1"] = dataclasses.replace(PROTOCOLS["{protocol}"], id="{protocol}-1", n_gen=400)  # one chunk: rank 1 idles


    class Tiny(nn.Module):
        latent_dim, num_classes = 8, 0

        def __init__(self):
            super().__init__()
            self.net = nn.Linear(8, 3 * 8 * 8)

        def forward(self, z):
            x = torch.tanh(3 * self.net(z)).view(-1, 3, 8, 8)
            return nn.functional.interpolate(x, size=(32, 32), mode="nearest")


    def make():
        torch.manual_seed(0)
        return Tiny()


    if __name__ == "__main__":
        rank, world = dist.init_from_env("cpu")
        gathered = dist.all_gather_object(rank * 10)
        pieces = dist.all_gather_tensors(torch.full((rank + 1, 2), float(rank)))
        result = evaluate_generator(make(), "{protocol}", batch_size=128)
        result["one_chunk"] = evaluate_generator(make(), "{protocol}-1", batch_size=128)["metrics"]
        result["check"] = {{"world": world, "gathered": gathered, "piece_rows": [len(p) for p in pieces],
                           "piece_values": [float(p.mean()) for p in pieces], "main": dist.is_main()}}
        with open(sys.argv[1] + f"/rank{{rank}}.json", "w") as f:
            json.dump(result, f)
        dist.destroy()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def worker(tmp_path, monkeypatch):
    (tmp_path / "eval_worker.py").write_text(WORKER.format(protocol=PROTOCOL))
    monkeypatch.syspath_prepend(str(tmp_path))
    import eval_worker  # registers the test protocol here too

    yield eval_worker
    sys.modules.pop("eval_worker", None)
    PROTOCOLS.pop(PROTOCOL, None)
    PROTOCOLS.pop(f"{PROTOCOL}-1", None)


def test_two_gloo_processes_equal_one_process(worker, tmp_path):
    from gbench.evaluation.evaluate import evaluate_generator, my_chunks

    single = evaluate_generator(worker.make(), PROTOCOL, batch_size=128)  # also caches the reference for the workers
    single_one_chunk = evaluate_generator(worker.make(), f"{PROTOCOL}-1", batch_size=128)["metrics"]
    assert [c[0] for c in my_chunks(1300)] == [0, 1, 2] and dist.world_size() == 1

    port = free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen([sys.executable, str(tmp_path / "eval_worker.py"), str(tmp_path)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, res in enumerate(ranks):
        check = res.pop("check")
        assert check == {"world": 2, "gathered": [0, 10], "piece_rows": [1, 2], "piece_values": [0.0, 1.0], "main": r == 0}
    assert {k: v for k, v in ranks[0].items() if k != "seconds"} == {k: v for k, v in ranks[1].items() if k != "seconds"}
    assert ranks[0]["one_chunk"] == ranks[1]["one_chunk"]

    for ours, theirs in ((ranks[0]["metrics"], single["metrics"]), (ranks[0].pop("one_chunk"), single_one_chunk)):
        assert ours.keys() == theirs.keys() == {"is_mean", "is_std", "fid", "kid_mean", "kid_std"}
        for k in ("is_mean", "is_std", "kid_mean", "kid_std"):  # same rows, same order
            assert ours[k] == pytest.approx(theirs[k], rel=1e-12, abs=1e-15), k
        assert ours["fid"] == pytest.approx(theirs["fid"], rel=1e-9)
    assert ranks[0]["fingerprint"] == single["fingerprint"] and ranks[0]["n_gen"] == 1300


def test_helpers_are_single_process_no_ops(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert dist.init_from_env("cpu") == (0, 1)
    assert dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    assert dist.all_gather_object({"a": 1}) == [{"a": 1}] and dist.broadcast_object(5) == 5
    assert dist.main_first(lambda x: x + 1, 1) == 2
    dist.barrier()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    from gbench.errors import GBenchError

    with pytest.raises(GBenchError, match="torchrun"):
        dist.init_from_env("cpu")
