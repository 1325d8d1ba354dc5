"""One tuning worker: draw a setting, train it on the training part, report validation accuracy.

Several workers (processes, machines) share one study through its storage. Each worker loops:

1. fail stale trials (their worker stopped sending heartbeats; Optuna's retry callback queues them again);
2. stop when the study holds ``n_trials`` finished (COMPLETE or PRUNED) trials; wait while the trials
   still missing are all being run by others (one of them may die: its trial then comes back);
3. ask for a trial (a queued retry first), and run it unless it is *surplus*: a trial runs only if fewer
   than ``n_trials`` trials with a lower number are finished, running or queued. Trial numbers are
   assigned under a row lock, so this rule lets at most ``n_trials`` trials finish however many workers
   race; a surplus trial is closed at once as FAIL with user attribute ``surplus``.

Optuna's ``MaxTrialsCallback`` alone overshoots with several workers: it stops a worker only after its
trial ended, when the others' trials are already running; hence the explicit rule above.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from eegclf.config import RunConfig
from eegclf.errors import EEGClfError
from eegclf.tuning.space import SearchSpace, apply_params

MAX_FAILED_IN_A_ROW = 3  # a worker gives up when this many of its trials fail in a row
POLL_S = 1.0  # how often a waiting worker looks at the study again


class TuneError(EEGClfError, RuntimeError):
    """Trials keep failing: the message carries the last error."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerLog:
    """What one worker did: trial numbers by final state."""

    trials: dict[str, list[int]] = field(default_factory=lambda: {"COMPLETE": [], "PRUNED": [], "FAIL": []})
    surplus: int = 0


def search_dataset(dataset):
    """The data a trial sees: the training part only. The test part is replaced by one training trial,
    because fit() insists on a test part: test accuracy cannot reach the search, and is not computed."""
    return dataset.with_splits(dataset.train, dataset.train.subset(np.arange(1)))


def objective_value(config: RunConfig, dataset, trial) -> tuple[float, dict]:
    """Train ``config`` on ``dataset`` (train part only), reporting validation accuracy every epoch.

    Returns (best validation accuracy over the epochs, fit's summary). Raises optuna.TrialPruned when the
    pruner stops the trial.
    """
    import optuna

    from eegclf.training.loop import fit

    def on_epoch(epoch: int, row: dict) -> None:
        trial.report(row["val_acc"], epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"at epoch {epoch} (validation accuracy {row['val_acc']:.3f})")

    summary = fit(config, search_dataset(dataset), run_dir=None, progress=False, on_epoch=on_epoch)
    return float(summary["val_acc_selected"]), summary


class Heartbeat:
    """Records the trial's heartbeat every ``interval`` s in a thread while the trial runs."""

    def __init__(self, storage, trial_id: int, interval: int):
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # noqa: BLE001 - a lost connection: try again next beat
                pass
            if self._stop.wait(self._interval):
                return

    def __enter__(self):
        self._storage.record_heartbeat(self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def count_states(study) -> Counter:
    """Trials of ``study`` per state name (COMPLETE, PRUNED, RUNNING, WAITING, FAIL)."""
    return Counter(t.state.name for t in study.get_trials(deepcopy=False))


def finished(counts: Counter) -> int:
    return counts["COMPLETE"] + counts["PRUNED"]


def _fail_stale(study) -> None:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _is_surplus(study, number: int, n_trials: int) -> bool:
    from optuna.trial import TrialState

    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    return sum(t.number < number for t in study.get_trials(deepcopy=False, states=live)) >= n_trials


def _say(text: str) -> None:
    print(f"tune: {text}", file=sys.stderr, flush=True)


def _fmt_params(params: dict) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def run_worker(study, base: RunConfig, space: SearchSpace, dataset, n_trials: int, heartbeat: int,
               timeout: float | None = None) -> WorkerLog:
    """Run trials of ``study`` until it holds ``n_trials`` finished trials (or ``timeout`` s passed)."""
    import optuna
    from optuna.trial import TrialState

    log = WorkerLog()
    me = worker_id()
    deadline = None if timeout is None else time.monotonic() + timeout
    failed_in_a_row = 0
    waiting_said = False
    while deadline is None or time.monotonic() < deadline:
        _fail_stale(study)
        counts = count_states(study)
        if finished(counts) >= n_trials:
            break
        if counts["WAITING"] == 0 and finished(counts) + counts["RUNNING"] >= n_trials:
            if not waiting_said:
                _say(f"waiting for {counts['RUNNING']} trial(s) of other workers to finish")
                waiting_said = True
            time.sleep(POLL_S)
            continue
        waiting_said = False

        with warnings.catch_warnings():  # we run the heartbeat ourselves (Heartbeat below), not optimize()
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        try:
            outcome = _run_trial(study, trial, base, space, dataset, n_trials, heartbeat, me)
        except optuna.exceptions.UpdateFinishedTrialError:
            outcome = None
        if outcome is None:
            _say(f"trial {trial.number} was failed by another worker (its heartbeat came late); "
                 "its result is discarded")
            continue
        state, value, error = outcome
        if state is None:
            log.surplus += 1
            continue
        log.trials[state.name].append(trial.number)
        shown = f"validation accuracy {value:.4f}" if value is not None else str(error)
        _say(f"trial {trial.number} {state.name.lower()}: {shown} ({_fmt_params(trial.params)})")
        if state == TrialState.FAIL:
            failed_in_a_row += 1
            if failed_in_a_row >= MAX_FAILED_IN_A_ROW:
                raise TuneError(f"{failed_in_a_row} trials in a row failed; last: {type(error).__name__}: {error}")
        else:
            failed_in_a_row = 0
    return log


def _run_trial(study, trial, base, space, dataset, n_trials, heartbeat, me):
    """Run one asked trial under a heartbeat and tell its outcome.

    Returns (state, value, error); (None, None, None) for a surplus trial; None when another worker had
    closed the trial already (it judged the heartbeat stale). Re-raises EEGClfError (a problem with the
    user's settings: every trial would fail alike) and KeyboardInterrupt after closing the trial as FAIL.
    """
    import optuna
    from optuna.trial import TrialState

    with Heartbeat(study._storage, trial._trial_id, heartbeat):
        if _is_surplus(study, trial.number, n_trials):
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            return None, None, None
        trial.set_user_attr("worker", me)
        state, value, error = TrialState.FAIL, None, None
        t0 = time.perf_counter()
        try:
            params = space.suggest(trial)
            value, summary = objective_value(apply_params(base, params), dataset, trial)
            trial.set_user_attr("selected_epoch", int(summary["selected_epoch"]))
            state = TrialState.COMPLETE
        except optuna.TrialPruned as exc:
            state, error = TrialState.PRUNED, exc
        except optuna.exceptions.UpdateFinishedTrialError:
            raise
        except (EEGClfError, KeyboardInterrupt):
            _tell(study, trial, TrialState.FAIL, None)
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a diverging setting: record it, go on
            error = exc
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 3))
    if not _tell(study, trial, state, value):
        return None
    return state, value, error


def _tell(study, trial, state, value) -> bool:
    """Close ``trial``; False when another worker closed it already (it judged the heartbeat stale)."""
    import optuna

    try:
        frozen = study.tell(trial, value if state.name == "COMPLETE" else None, state=state, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return frozen.state == state
