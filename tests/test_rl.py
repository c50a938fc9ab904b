"""RL fine-tuning: advantages, the loss on hand-checkable cases, and a real run."""
import pytest
import torch

from engine.chem.rewards import Reward, Term
from engine.model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from engine.train.finetune import FinetuneConfig, finetune
from engine.train.rl import group_advantages, rl_loss
from engine.train.runfolder import read_history

REWARD = Reward(name="small", terms=(Term("mw", "minimize", 150.0, 350.0),))


def test_equal_rewards_give_no_advantage_and_no_loss():
    assert torch.equal(group_advantages(torch.full((4,), 0.3)), torch.zeros(4))
    logp = torch.randn(4, 6, requires_grad=True)
    loss, kl = rl_loss(logp, logp.detach(), torch.ones(4, 6), torch.full((4,), 0.3), beta=0.1)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)
    assert torch.equal(kl, torch.zeros(4))
    assert float(logp.grad.abs().max()) == pytest.approx(0.0, abs=1e-6)


def test_advantages_are_z_scores():
    adv = group_advantages(torch.tensor([0.0, 1.0]))
    assert adv.tolist() == pytest.approx([-1.0, 1.0], abs=1e-5)


def test_gradient_raises_the_better_molecule():
    logp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    loss, _ = rl_loss(logp, logp.detach(), mask, torch.tensor([1.0, 0.0]), beta=0.0)
    loss.backward()
    assert (logp.grad[0, :2] < 0).all() and (logp.grad[1] > 0).all()   # descent raises row 0
    assert logp.grad[0, 2] == 0                                          # padding


def test_kl_estimate_hand_computed():
    logp = torch.log(torch.tensor([[0.5]]))
    ref = torch.log(torch.tensor([[0.25]]))
    _, kl = rl_loss(logp, ref, torch.ones(1, 1), torch.zeros(1), beta=1.0)
    d = torch.log(torch.tensor(0.5))                                      # log ref - log pi
    assert float(kl[0]) == pytest.approx(float(torch.exp(d) - d - 1), rel=1e-6)


def test_rl_run_changes_the_policy_and_records_every_step(tmp_path):
    """On the shipped model (the tiny test model's molecules are all invalid, so all its
    rewards are 0 and there is no gradient)."""
    cfg = FinetuneConfig(kind="rl", reward=REWARD.to_dict(), out=str(tmp_path / "rl"),
                         steps=4, batch_size=16, lr=1e-3, eval_every=2, eval_n=8,
                         save_every=2, device="cpu")
    history = finetune(cfg, progress=False)
    assert [h["step"] for h in history] == [0, 1, 2, 3, 4]
    assert read_history(cfg.out) == history
    for h in history[1:]:
        assert 0 <= h["reward"] <= 1 and 0 <= h["validity"] <= 1
        assert h["kl_per_molecule"] >= 0
    assert history[1]["kl_per_molecule"] == pytest.approx(0.0, abs=1e-5)  # starts at ref
    assert history[4]["kl_per_molecule"] > 0
    assert "eval_reward" in history[0] and "eval_reward" in history[4]
    start, policy = load_checkpoint(DEFAULT_CHECKPOINT), load_checkpoint(cfg.out)
    assert policy.meta["training"]["kind"] == "rl"
    assert policy.meta["training"]["finished"] is True
    assert not torch.equal(start.model.blocks[0].attn.qkv.weight,
                           policy.model.blocks[0].attn.qkv.weight)
