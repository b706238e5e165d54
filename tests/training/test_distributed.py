"""guide.training.trainer's data-parallel path (torchrun + gloo): `_distributed()` reads RANK/WORLD_SIZE and
joins the group; `_average_gradients` all-reduces and averages every gradient, filling missing ones with zeros.

Single-process gloo groups on loopback; one test starts two ranks as subprocesses to see a real average."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.distributed as dist

from guide.config import PROJECT_ROOT
from guide.training import trainer
from guide.training.trainer import _average_gradients, _distributed

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch built without torch.distributed")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def no_torchrun_env(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trainer.torch.cuda, "is_available", lambda: False)  # gloo, as on a CPU machine
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.fixture
def one_rank_group(no_torchrun_env):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_without_torchrun_it_is_one_process_and_joins_no_group(no_torchrun_env):
    assert _distributed() == (0, 1)
    assert not dist.is_initialized()


def test_under_torchrun_env_it_joins_a_gloo_group(no_torchrun_env, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    assert _distributed() == (0, 1)
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    assert _distributed() == (0, 1)  # a second call reuses the group instead of initialising again


def test_an_existing_group_is_used_as_it_is(one_rank_group, monkeypatch):
    monkeypatch.setenv("RANK", "5")  # stale variables do not override the group the process is in
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert _distributed() == (dist.get_rank(), dist.get_world_size()) == (0, 1)


def test_average_gradients_keeps_a_lone_ranks_gradients_and_fills_missing_ones(one_rank_group):
    used, unused = torch.nn.Parameter(torch.ones(2, 3)), torch.nn.Parameter(torch.ones(4))
    (used * torch.arange(6.0).view(2, 3)).sum().backward()
    assert unused.grad is None  # e.g. the head of a task not drawn this step
    _average_gradients([used, unused], 1)
    torch.testing.assert_close(used.grad, torch.arange(6.0).view(2, 3))
    torch.testing.assert_close(unused.grad, torch.zeros(4))  # every rank must join every all-reduce


def test_average_gradients_divides_the_all_reduced_sum_by_the_world_size(one_rank_group):
    parameter = torch.nn.Parameter(torch.zeros(3))
    parameter.grad = torch.tensor([2.0, -4.0, 6.0])
    _average_gradients([parameter], 2)  # the sum over this one rank, over a stated world of 2
    torch.testing.assert_close(parameter.grad, torch.tensor([1.0, -2.0, 3.0]))


WORKER = textwrap.dedent(
    """
    import json, torch
    from guide.training.trainer import _average_gradients, _distributed
    rank, world = _distributed()
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([1.0, 2.0, 3.0]) * (rank + 1)  # rank 0: 1x, rank 1: 2x
    if rank == 1:
        b.grad = torch.tensor([4.0, -4.0])  # rank 0 never touched b
    _average_gradients([a, b], world)
    print(json.dumps({"rank": rank, "world": world, "a": a.grad.tolist(), "b": b.grad.tolist()}))
    torch.distributed.destroy_process_group()
    """
)


def test_two_ranks_end_with_the_same_averaged_gradients():
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    env.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES=""
    )
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            cwd=PROJECT_ROOT,
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    results = []
    try:
        for process in ranks:
            out, err = process.communicate(timeout=180)
            assert process.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for process in ranks:
            if process.poll() is None:
                process.kill()
    assert [(r["rank"], r["world"]) for r in results] == [(0, 2), (1, 2)]
    for result in results:
        assert result["a"] == [1.5, 3.0, 4.5]  # (1x + 2x) / 2
        assert result["b"] == [2.0, -2.0]  # (zeros + rank 1's) / 2
