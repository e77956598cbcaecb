import pytest
import torch
import torch.nn.functional as F

from digitlab.learning.losses import cross_entropy, log_softmax, mnist_loss, softmax
from digitlab.models.baseline import l1_distance, l2_distance

pytestmark = pytest.mark.numeric  # float results compared with bounds: rerun under other kernels


def test_softmax_and_cross_entropy_match_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 10, generator=g) * 5
    targets = torch.randint(0, 10, (16,), generator=g)
    torch.testing.assert_close(softmax(logits), torch.softmax(logits, 1))
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, 1))
    torch.testing.assert_close(cross_entropy(logits, targets), F.cross_entropy(logits, targets))


def test_cross_entropy_gradient_matches_torch():
    logits = torch.randn(8, 10, requires_grad=True)
    targets = torch.randint(0, 10, (8,))
    (ours,) = torch.autograd.grad(cross_entropy(logits, targets), logits)
    (theirs,) = torch.autograd.grad(F.cross_entropy(logits, targets), logits)
    torch.testing.assert_close(ours, theirs)


def test_stable_for_huge_activations():
    logits = torch.tensor([[1000.0, 0.0, -1000.0]])
    assert torch.isfinite(cross_entropy(logits, torch.tensor([2]))).all()
    assert softmax(logits).sum().item() == pytest.approx(1.0)


def test_l1_and_l2_match_torch():
    a, b = torch.rand(28, 28), torch.rand(28, 28)
    torch.testing.assert_close(l1_distance(a, b), F.l1_loss(a, b))
    torch.testing.assert_close(l2_distance(a, b), F.mse_loss(a, b).sqrt())


def test_mnist_loss_as_in_the_lesson():
    preds = torch.tensor([0.9, 0.4, 0.2])
    targets = torch.tensor([1, 0, 1])
    p = preds.sigmoid()
    expected = ((1 - p[0]) + p[1] + (1 - p[2])) / 3
    torch.testing.assert_close(mnist_loss(preds, targets), expected)
    assert mnist_loss(torch.tensor([[20.0], [-20.0]]), torch.tensor([1, 0])) < 1e-6
