"""Progress bars that show on a terminal and stay quiet in logs and pipes."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def is_interactive() -> bool:
    return sys.stderr.isatty()


class EpochBar:
    """A tqdm bar over epochs with the latest loss and accuracies as its postfix."""

    def __init__(self, done: int, total: int, enabled: bool | None, desc: str):
        enabled = is_interactive() if enabled is None else enabled
        self._bar = tqdm(total=total, initial=done, desc=desc, unit="epoch", disable=not enabled,
                         dynamic_ncols=True, leave=True)

    def update(self, row: dict) -> None:
        self._bar.set_postfix(loss=f"{row['train_loss']:.3f}", train=f"{row['train_acc']:.3f}",
                              val=f"{row['val_acc']:.3f}", test=f"{row['test_acc']:.3f}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def epoch_bar(done: int, total: int, enabled: bool | None, desc: str) -> EpochBar:
    return EpochBar(done, total, enabled, desc)
