"""The disk spool of a queued sink: an ordered on-disk queue that survives the process.

An event is removed only once its destination acknowledged it, so whatever a run could not
deliver (endpoint away, process killed) is sent by the next run with the same sink.

One sink at a time owns a spool: two sinks sharing one (two stations with the same destination,
or two runs at once) would each send every row, and neither one's counts would ever settle. The
owner holds an exclusive ``flock`` on ``PATH.lock``, which the system drops when the process ends,
however it ends, so a restarted run takes its spool over and sends what was left in it.
"""

from __future__ import annotations

import fcntl
import hashlib
import sqlite3
import threading
from pathlib import Path
from typing import IO, List, Sequence, Tuple

from edge.cache import user_cache_dir
from edge.sinks.base import SinkError


def default_spool_path(kind: str, host: str, port: int, key: str) -> Path:
    """Per destination (host, port and ``key``: topic or path), in the user's cache, never the current directory.

    Credentials never take part: the same destination keeps its spool when a password changes.
    """
    tag = hashlib.sha256(f"{host}:{port}/{key}".encode()).hexdigest()[:12]
    return user_cache_dir("spool") / f"{kind}-{host}-{port}-{tag}.sqlite"


class Spool:
    """Add, read after a watermark, remove on acknowledgement; SQLite in WAL mode, one connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._owner = _own(self.path)
        except OSError as exc:
            raise SinkError(f"spool {self.path}: cannot open ({exc}); pass a writable spool=PATH in the sink spec") from exc
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # survives a crash of this process; see journal for power loss
            self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT, payload TEXT)")
        except (OSError, sqlite3.Error) as exc:
            self._owner.close()
            raise SinkError(f"spool {self.path}: cannot open ({exc}); pass a writable spool=PATH in the sink spec") from exc
        self._lock = threading.Lock()

    def add(self, topic: str, payload: str) -> int:
        with self._lock:
            return int(self._db.execute("INSERT INTO spool (topic, payload) VALUES (?, ?)", (topic, payload)).lastrowid)

    def add_many(self, rows: Sequence[Tuple[str, str]]) -> None:
        """One transaction for a batch: a burst of events costs one disk sync, not one each."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO spool (topic, payload) VALUES (?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def after(self, seq: int, limit: int) -> List[Tuple[int, str, str]]:
        with self._lock:
            return self._db.execute("SELECT seq, topic, payload FROM spool WHERE seq > ? ORDER BY seq LIMIT ?",
                                    (seq, limit)).fetchall()

    def remove(self, seq: int) -> bool:
        """False when ``seq`` was gone already (an event acknowledged twice)."""
        with self._lock:
            return self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,)).rowcount > 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._owner.close()  # after the database: the next owner finds it complete


def _own(path: Path) -> IO[bytes]:
    """The open, exclusively locked ``PATH.lock`` of the spool at ``path``; SinkError when another sink has it.

    A separate file, because closing a second descriptor of the database itself would drop the
    POSIX locks SQLite holds on it in this process.
    """
    owner = open(path.with_name(path.name + ".lock"), "ab")
    try:
        fcntl.flock(owner.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner.close()
        raise SinkError(f"spool {path} is in use by another sink (another station or run with the same destination); "
                        f"give this sink its own spool=PATH") from None
    return owner
