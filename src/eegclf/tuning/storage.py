"""Opening the Optuna RDB storage: a SQLite file by default, PostgreSQL (or any SQLAlchemy URL) to share.

Every worker records a heartbeat for its running trial; a trial whose heartbeat is older than the grace
period (its worker was killed, or its machine went away) is marked FAIL by the next worker that looks,
and queued again once (same parameters) through Optuna's retry callback.
"""

from __future__ import annotations

import inspect
import random
import time
import warnings
from pathlib import Path

from eegclf.errors import EEGClfError

DEFAULT_DB = "tune.db"


class StorageError(EEGClfError, RuntimeError):
    """The study storage URL is malformed, or its database cannot be reached or used."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and reports)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL has nothing we can safely mask
        return url.split("@")[-1] if "@" in url else url


def default_storage_url(out_dir: str | Path) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / DEFAULT_DB}"


def _check_url(url: str):
    """Parse ``url``; StorageError with the expected forms when it is not a usable database URL."""
    from sqlalchemy.engine import make_url

    expected = "expected sqlite:///PATH/tune.db or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError or ValueError
        raise StorageError(f"storage={url!r} is not a database URL: {expected}", param="storage") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername=f"postgresql+{_postgres_driver(url)}")
    try:
        parsed.get_dialect()
    except Exception:  # noqa: BLE001 - NoSuchModuleError for unknown schemes, ImportError for drivers
        raise StorageError(f"storage={mask_url(url)}: unknown database kind {parsed.drivername!r} or its "
                           f"driver is not installed: {expected}", param="storage") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            raise StorageError(f"storage={url}: an in-memory database cannot be shared; {expected}",
                               param="storage")
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return parsed


def _postgres_driver(url: str) -> str:
    """The installed PostgreSQL driver: SQLAlchemy 2.1 means psycopg (3) by a bare postgresql:// URL, the
    'tune' extra installs psycopg2-binary; either works."""
    import importlib.util

    for module, name in (("psycopg", "psycopg"), ("psycopg2", "psycopg2")):
        if importlib.util.find_spec(module) is not None:
            return name
    raise StorageError(f"storage={mask_url(url)}: no PostgreSQL driver is installed "
                       "(pip install psycopg2-binary, or eegclf[tune])", param="storage")


def _engine_kwargs(parsed) -> dict:
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": 60}}  # wait for other processes' write locks
    kwargs = {"pool_pre_ping": True}  # connections survive long trials and server restarts
    if backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
    return kwargs


def _heartbeat_kwargs(heartbeat: int, retries: int) -> dict:
    """Keyword arguments of RDBStorage for the heartbeat, for Optuna 3.x/4.x (and 5.x names)."""
    from optuna import storages

    retry_cls = getattr(storages, "RetryHeartbeatStaleTrialCallback", None) or storages.RetryFailedTrialCallback
    params = inspect.signature(storages.RDBStorage).parameters
    key = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
    kwargs = {"heartbeat_interval": heartbeat, "grace_period": 2 * heartbeat}
    if retries > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental since Optuna 2.8
            kwargs[key] = retry_cls(max_retry=retries)
    return kwargs


def open_storage(url: str, heartbeat: int = 20, retries: int = 1):
    """An ``optuna.storages.RDBStorage`` on ``url`` with a heartbeat every ``heartbeat`` seconds.

    A trial without a heartbeat for ``2 * heartbeat`` seconds is stale: it is failed and (``retries`` > 0)
    queued again with the same parameters, at most ``retries`` times. Raises StorageError with one line
    for a malformed URL, an unknown driver or a database that cannot be reached.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    if heartbeat < 1:
        raise StorageError(f"heartbeat={heartbeat} is invalid: expected whole seconds >= 1", param="heartbeat")
    parsed = _check_url(url)
    kwargs = _heartbeat_kwargs(heartbeat, retries)
    last = None
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", FutureWarning)
                return optuna.storages.RDBStorage(parsed.render_as_string(hide_password=False),
                                                  engine_kwargs=_engine_kwargs(parsed), **kwargs)
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
            last = exc
            if not _is_create_race(exc):
                break
            time.sleep(0.2 + random.random())  # another worker creates the tables right now
        except RuntimeError as exc:  # optuna: the schema is of another (newer/older) version
            raise StorageError(f"storage={mask_url(url)}: {str(exc).splitlines()[0]}", param="storage") from None
    raise StorageError(f"cannot open the study storage {mask_url(url)}: {_one_line(last)}") from None


def _is_create_race(exc: Exception) -> bool:
    """True for errors two workers get when both create the tables of a new database at once."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    text = str(exc).lower()
    return isinstance(exc, (IntegrityError, ProgrammingError)) or "already exists" in text or "duplicate" in text


def _one_line(exc: BaseException | None) -> str:
    orig = getattr(exc, "orig", None) or exc  # the driver's own message, without SQLAlchemy's links
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
