"""The shared step loop: it calls backward() on the step's loss, skips the update when there
is no loss, records the loss first and stops when `after_step` says so."""
import torch

from engine.train.loop import run_steps


def _setup():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def test_every_step_trains_and_is_recorded():
    model, optimizer = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    records = []

    def step_fn(step):
        loss = model(torch.ones(1, 2)).pow(2).sum()
        return loss, {"step_seen": step}

    def after_step(n, rec):
        records.append((n, rec))
        return False

    done = run_steps(step_fn, optimizer, model.parameters(), 3, 6, after_step, "test",
                     progress=False)
    assert done == 6 and [n for n, _ in records] == [4, 5, 6]
    assert [list(rec) for _, rec in records] == [["loss", "step_seen"]] * 3
    assert [rec["step_seen"] for _, rec in records] == [3, 4, 5]
    for a, b in zip(before, model.parameters()):
        assert not torch.equal(a, b)


def test_no_loss_means_no_update_and_after_step_can_stop():
    model, optimizer = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    seen = []
    done = run_steps(lambda step: (None, {}), optimizer, model.parameters(), 0, 10,
                     lambda n, rec: seen.append(rec) or n == 2, "test", progress=False)
    assert done == 2 and seen == [{"loss": 0.0}, {"loss": 0.0}]
    for a, b in zip(before, model.parameters()):
        assert torch.equal(a, b)
