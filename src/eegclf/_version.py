"""The package version, in a module of its own: what records it (checkpoints, exports) need not import
the package root, which offers the estimator."""

__version__ = "0.1.0"
