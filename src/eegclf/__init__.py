"""eegclf: train, evaluate and compare deep networks for motor-imagery EEG classification."""

__version__ = "0.1.0"
