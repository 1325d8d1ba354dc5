"""Training: the loop (``loop``), BatchNorm re-estimation (``batchnorm``) and augmentation (``augment``)."""

from eegclf.training.loop import fit, run_training, train_model

__all__ = ["fit", "train_model", "run_training"]
