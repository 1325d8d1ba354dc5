"""Study reporting: results.csv, results.md, figures/*.png and report.md from a finished study folder.

Modules: ``collect`` reads the runs, ``stats`` does mean/std and paired tests, ``tables`` writes the two
tables, ``figures`` the learning curves and bar chart, ``filters`` EEGNet's filter responses, and
``report`` ties them together in :func:`build_report`.
"""

from eegclf.reporting.report import build_report

__all__ = ["build_report"]
