"""The shared step loop: it calls backward() on the step's loss, skips the update when there
is no loss or a non-finite one, records the loss first and stops when `after_step` says so."""
import pytest
import torch

from engine.train.loop import NonFiniteLossError, run_steps


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


def test_a_non_finite_step_updates_nothing_and_says_so(capsys):
    model, optimizer = _setup()
    before = [p.detach().clone() for p in model.parameters()]
    seen = []

    def step_fn(step):
        # step 0: NaN loss; step 1: a finite loss with a NaN gradient (sqrt at 0 has an
        # infinite slope, times 0); step 2: a real step
        out = model(torch.ones(1, 2)).pow(2).sum()
        if step == 0:
            return out * float("nan"), {}
        if step == 1:
            return out + torch.sqrt(model.weight * 0).sum(), {}
        return out, {}

    done = run_steps(step_fn, optimizer, model.parameters(), 0, 2, lambda n, rec: seen.append(
        rec) or False, "test", progress=False)
    assert done == 2 and [rec["loss"] for rec in seen] == [None, None]
    assert seen[0]["skipped"].startswith("the loss is nan")
    assert seen[1]["skipped"] == "the gradient norm is nan"
    for a, b in zip(before, model.parameters()):
        assert torch.equal(a, b)
    err = capsys.readouterr().err
    assert "warning: test step 1: the loss is nan" in err and "skipped" in err
    run_steps(step_fn, optimizer, model.parameters(), 2, 3, lambda n, rec: False, "test",
              progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(before[0], model.weight)


def test_steps_that_stay_non_finite_end_the_run_with_what_to_do():
    model, optimizer = _setup()

    def step_fn(step):
        return model(torch.ones(1, 2)).sum() * float("nan"), {}

    with pytest.raises(NonFiniteLossError, match=r"5 steps in a row \(to step 7\).*a lower "
                                                 r"learning rate"):
        run_steps(step_fn, optimizer, model.parameters(), 2, 20, lambda n, rec: False, "test",
                  progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())
