"""Real-time classification of continuous EEG.

- :mod:`~eegclf.streaming.sources`: the :class:`Source` interface, :class:`FileReplaySource` (EDF replay at real
  time or faster) and :class:`LSLSource` (a pylsl inlet);
- :mod:`~eegclf.streaming.ring_buffer`: the last window of samples;
- :mod:`~eegclf.streaming.causal_bandpass` and :mod:`~eegclf.streaming.preprocess`: the training preprocessing, causally;
- :mod:`~eegclf.streaming.decoder`: one window -> class probabilities;
- :mod:`~eegclf.streaming.scoring`: which windows lie inside a cued trial;
- :mod:`~eegclf.streaming.runner`: the loop and its report.
"""

from eegclf.streaming.runner import Decision, StreamReport, StreamRunner
from eegclf.streaming.sources import Event, FileReplaySource, LSLSource, Source

__all__ = ["Decision", "Event", "FileReplaySource", "LSLSource", "Source", "StreamReport", "StreamRunner"]
