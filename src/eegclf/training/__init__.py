"""Training: the loop (``loop``), BatchNorm re-estimation (``batchnorm``) and augmentation (``augment``)."""

from eegclf.training.loop import FitOptions, fit, run_training, train_model

__all__ = ["FitOptions", "fit", "train_model", "run_training"]
