"""The reference plain PyTorch loop's two passes, shared by the speed benchmarks' contenders (a) and (a').

Written as a student writes it: DataLoader batches, ``.item()`` per batch, no tricks. ``autocast``: a
``torch.autocast`` context, enabled for (a') (bf16 training pass), disabled for (a).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def train_epoch(model, loader, optimizer, autocast) -> tuple[float, int]:
    """One training pass; returns (summed loss, correct count) over the loader's trials."""
    model.train()
    train_loss, train_correct = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        with autocast:
            out = model(xb)
        loss = F.cross_entropy(out.float(), yb)
        loss.backward()
        optimizer.step()
        model.apply_constraints()  # the same max-norm as eegclf, for the same model
        train_loss += loss.item() * len(yb)
        train_correct += (out.argmax(1) == yb).sum().item()
    return train_loss, train_correct


def test_pass(model, loader) -> tuple[float, int]:
    """No-grad fp32 evaluation; returns (summed loss, correct count)."""
    model.eval()
    test_loss, test_correct = 0.0, 0
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            test_loss += F.cross_entropy(out, yb, reduction="sum").item()
            test_correct += (out.argmax(1) == yb).sum().item()
    return test_loss, test_correct
