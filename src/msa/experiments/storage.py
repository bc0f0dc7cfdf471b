"""Where an experiment set's trials are kept: an Optuna storage, which every worker on every
machine asks for the next trial. Embedded by default (an SQLite file under the repository that
git ignores, for the workers of one machine); `--storage URL` names a server database
(PostgreSQL) for many machines, its password taken from the environment (PGPASSWORD or
~/.pgpass, read by the driver), never from the command line or git.

Workers send a heartbeat while a trial runs; a trial whose worker falls silent for three
heartbeats is failed and enqueued again (Optuna's RetryHeartbeatStaleTrialCallback), so a
killed worker's trial is run by another, never lost.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from msa.errors import MsaError

STATE_DIR = ".msa"  # git- and dvc-ignored: the embedded storage and the workers' workspaces
EMBEDDED = f"{STATE_DIR}/studies.db"
HEARTBEAT_SECONDS = 60
SCHEMES = ("sqlite", "postgresql", "mysql")
RETRIES = 3  # a trial whose workers die this many times is left failed


def embedded_url(repo: str | Path = ".") -> str:
    return f"sqlite:///{(Path(repo) / EMBEDDED).resolve()}"


def shown(url: str) -> str:
    """The URL as reports and messages say it: any password in it hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is said as given, less what follows @
        return url.rpartition("@")[2]


def is_embedded(url: str | None) -> bool:
    return url is None


def open_storage(url: str | None, repo: str | Path = ".",
                 heartbeat: int = HEARTBEAT_SECONDS):
    """The Optuna storage at `url` (None: the embedded one), reached and ready, or one line
    saying why not: a malformed URL, a database nobody serves, a driver not installed."""
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if url is None:
        (Path(repo) / STATE_DIR).mkdir(exist_ok=True)
        url = embedded_url(repo)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise MsaError(f"--storage {shown(url)}: not a database URL (expected e.g. "
                       "postgresql://USER@HOST:5432/DATABASE or sqlite:///PATH)") from None
    scheme = parsed.get_backend_name()
    if scheme not in SCHEMES:
        raise MsaError(f"--storage {shown(url)}: {scheme} is not a database Optuna keeps "
                       f"studies in (one of: {', '.join(SCHEMES)})")
    if scheme == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise MsaError(f"--storage {shown(url)}: no folder {folder} to keep it in")
    engine = {"connect_args": {"timeout": 60}} if scheme == "sqlite" else {"pool_pre_ping": True}
    optuna.logging.set_verbosity(logging.WARNING)
    # The heartbeat and its retry are marked experimental since Optuna 2.8; pinned, they are not.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # msa's workers send the heartbeat themselves (msa.experiments.workers), not Study.optimize.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    try:
        store = optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=heartbeat,
            grace_period=3 * heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=RETRIES))
    except ImportError as exc:  # Optuna's, raised from SQLAlchemy's ModuleNotFoundError
        missing = getattr(exc.__cause__, "name", None) or "its driver"
        raise MsaError(f"--storage {shown(url)}: its driver {missing} is not installed "
                       "(requirements.txt installs psycopg for PostgreSQL)") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's and the drivers' many errors
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise MsaError(f"--storage {shown(url)}: cannot be reached "
                       f"({cause[0] if cause else type(exc).__name__})") from None
    if scheme == "sqlite":
        _serialized(store.engine)
    return store


def _serialized(engine) -> None:
    """Each SQLite transaction takes the write lock when it begins (SQLAlchemy's recipe for
    pysqlite): Python's sqlite3 reads outside a transaction, so two workers could both read a
    trial as waiting and both take it, where a server database locks the row (FOR UPDATE)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(connection, record):
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # the connections Optuna opened before these rules
