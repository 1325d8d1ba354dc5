"""eegclf: train, evaluate and compare deep networks for motor-imagery EEG classification.

``from eegclf import EEGClassifier``: the scikit-learn estimator (:mod:`eegclf.estimator`), imported when first
asked for, so that ``import eegclf`` and the command line stay fast (no torch).
"""

from eegclf._version import __version__


def __getattr__(name: str):
    if name == "EEGClassifier":
        from eegclf.estimator import EEGClassifier

        return EEGClassifier
    raise AttributeError(f"module 'eegclf' has no attribute {name!r}")


__all__ = ["EEGClassifier", "__version__"]
