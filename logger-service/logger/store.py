"""The log store: the MongoDB collection `logs`, written once per event id.

One LogStore (one MongoClient, with its connection pool) per process, made after the fork. Timeouts are
short so an unreachable server fails fast: every front door maps StoreUnavailable to its "503".
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import BulkWriteError, ConnectionFailure, OperationFailure, PyMongoError

from labkit.events import LogEvent
from labkit.validation import ApiError

COLLECTION = "logs"
CONNECT_TIMEOUT_MS = 2000
SOCKET_TIMEOUT_MS = 5000
READY_TIMEOUT_S = 1.0
# How long a caller waits for the group write that takes its documents: past the socket timeout, the
# writer is stuck and the caller answers 503.
GROUP_WAIT_S = SOCKET_TIMEOUT_MS / 1000 + 2.0
DUPLICATE_KEY = 11000
INDEX_NOT_FOUND = 27
# One document per event id. The index is partial so documents written before event ids existed don't
# collide; its filter is a range, which the store can tell a query on event_id implies (with a $type
# filter SecantusDB never used the index to read: finding a duplicate or counting a prefix scanned the
# whole collection).
EVENT_ID_INDEX = "event_id_once"
HAS_EVENT_ID = {"event_id": {"$gt": ""}}
# Indexes earlier versions made: the $type-filtered event id index that EVENT_ID_INDEX replaces, and
# (name, created_at), which only the benchmark's reads by name used while every write paid for it.
RETIRED_INDEXES = frozenset({"event_id_unique", "by_name"})
# The order of the `newest` index, which GET /logs reads in.
NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]

log = logging.getLogger(__name__)

Document = dict[str, Any]


class StoreUnavailable(ApiError):
    """The log store cannot be reached: a 503 on every front door."""

    def __init__(self) -> None:
        super().__init__(503, "log store is unavailable")


class Inserted(NamedTuple):
    id: str
    event_id: str
    created: bool


def _document(event: LogEvent, transport: str, now: datetime) -> Document:
    return {
        "name": event.name,
        "data": event.data,
        "level": event.level,
        "created_at": now,
        "updated_at": now,
        "transport": transport,
        "event_id": event.event_id,
        "request_id": event.request_id,
    }


class _Write:
    """One caller's documents, waiting for the group write that takes them."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.done = threading.Event()
        self.already: set[int] = set()
        self.error: BaseException | None = None


class GroupCommit:
    """Group commit: one insert_many at a time per process. A caller that finds no write in progress and
    none waiting stores its documents at once, in its own thread (nothing waits for company, nor for a
    hand-off to another thread); callers that arrive during a write wait, and when it ends one writer
    thread stores everything waiting with one insert_many and answers each caller for its own documents.
    Under load the store pays one round trip and one write for many events."""

    def __init__(self, insert: Callable[[list[Document]], set[int]]) -> None:
        self.insert = insert
        self._waiting: list[_Write] = []
        self._writing = False
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """How many callers' writes wait for the writer."""
        with self._wake:
            return len(self._waiting)

    def write(self, documents: list[Document]) -> set[int]:
        """Store the documents: the indexes of those whose event was already stored."""
        pending = _Write(documents)
        with self._wake:
            alone = not self._writing and not self._waiting
            if alone:
                self._writing = True
            else:
                self._waiting.append(pending)
                if self._writer is None:
                    self._writer = threading.Thread(target=self._run, name="group-commit", daemon=True)
                    self._writer.start()
        if alone:
            try:
                self._write_group([pending])
            finally:
                self._written()
        elif not pending.done.wait(GROUP_WAIT_S):
            raise StoreUnavailable
        if pending.error is not None:
            raise pending.error
        return pending.already

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._writing or not self._waiting:
                    self._wake.wait()
                group, self._waiting = self._waiting, []
                self._writing = True
            try:
                self._write_group(group)
            finally:
                self._written()

    def _written(self) -> None:
        """A write ended: the writer thread may take what waits."""
        with self._wake:
            self._writing = False
            self._wake.notify()

    def _write_group(self, group: list[_Write]) -> None:
        documents = [document for pending in group for document in pending.documents]
        try:
            already = self.insert(documents)
        except Exception as exc:  # every caller of the group gets the error, raised in its own thread
            for pending in group:
                pending.error = exc
        else:
            start = 0
            for pending in group:
                end = start + len(pending.documents)
                pending.already = {i - start for i in already if start <= i < end}
                start = end
        for pending in group:
            pending.done.set()


def _event_id_prefix(prefix: str) -> Document:
    """The event ids that start with a non-empty `prefix`, as a range of the index (never a pattern):
    from the prefix itself up to the first string past all of them, which MongoDB's order of UTF-8 bytes
    (that of code points) puts at the prefix with its last character incremented."""
    bounds: dict[str, str] = {"$gte": prefix}
    stem = prefix.rstrip(chr(sys.maxunicode))
    if stem:
        following = ord(stem[-1]) + 1
        if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters of UTF-8
            following = 0xE000
        bounds["$lt"] = stem[:-1] + chr(following)
    return {"event_id": bounds}


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except ConnectionFailure as exc:
        log.warning("log store unreachable: %s", exc)
        raise StoreUnavailable from None


class LogStore:
    def __init__(self, url: str, database: str) -> None:
        self.client: MongoClient[Document] = MongoClient(
            url,
            serverSelectionTimeoutMS=CONNECT_TIMEOUT_MS,
            connectTimeoutMS=CONNECT_TIMEOUT_MS,
            socketTimeoutMS=SOCKET_TIMEOUT_MS,
            tz_aware=True,
            appname="logger",
            # Every write is idempotent by its event id and a failed one is retried by its sender (a
            # 503), so the driver's own retry bookkeeping is not needed: the server keeps a record per
            # retryable write, which SecantusDB prunes by scanning all of them on every write.
            retryWrites=False,
        )
        self.collection = self.client[database][COLLECTION]
        self._indexed = False
        self.group = GroupCommit(self._insert_group)
        # For each question newest() was asked (a level or None, and a limit): the creation time of the
        # oldest entry of its last answer. See newest().
        self._answered_from: dict[tuple[str | None, int], datetime] = {}

    def ensure_indexes(self) -> None:
        """Create the indexes once per process, then drop the retired ones a store may still have;
        retried on the next write if the store was down. See EVENT_ID_INDEX and RETIRED_INDEXES."""
        if self._indexed:
            return
        with _reachable():
            self.collection.create_index(
                "event_id", name=EVENT_ID_INDEX, unique=True, partialFilterExpression=HAS_EVENT_ID
            )
            self.collection.create_index(NEWEST_FIRST, name="newest")
            for name in RETIRED_INDEXES.intersection(self.collection.index_information()):
                try:
                    self.collection.drop_index(name)
                except OperationFailure as exc:  # another process of the logger dropped it first
                    if exc.code != INDEX_NOT_FOUND:
                        raise
        self._indexed = True

    def insert(self, event: LogEvent, transport: str) -> Inserted:
        """Store an event; a second insert of the same event id changes nothing and returns the first."""
        document = _document(event, transport, datetime.now(UTC))
        if not self._commit([document]):
            return Inserted(str(document["_id"]), event.event_id, True)
        with _reachable():
            existing = self.collection.find_one({"event_id": event.event_id}, {"_id": 1})
        if existing is None:
            # Only a delete since the write gets here; the caller's retry stores the event.
            raise StoreUnavailable
        return Inserted(str(existing["_id"]), event.event_id, False)

    def insert_many(self, events: Sequence[LogEvent], transport: str) -> list[tuple[str, bool]]:
        """Store a batch in one write, each event once per event id: each event's id, and whether it
        is new (an event already stored, or twice in the batch, changes nothing)."""
        now = datetime.now(UTC)
        documents = [_document(event, transport, now) for event in events]
        already = self._commit(documents)
        return [(document["event_id"], i not in already) for i, document in enumerate(documents)]

    def _commit(self, documents: list[Document]) -> set[int]:
        """Write the documents with whatever other callers of this process are writing: the indexes of
        those whose event was already stored. See GroupCommit."""
        self.ensure_indexes()
        return self.group.write(documents)

    def _insert_group(self, documents: list[Document]) -> set[int]:
        """One unordered insert_many: the indexes of the documents whose event id was already stored
        (before, or earlier in the same write); StoreUnavailable for anything else."""
        with _reachable():
            try:
                self.collection.insert_many(documents, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                failed = [error.get("code") for error in errors if error.get("code") != DUPLICATE_KEY]
                if failed or exc.details.get("writeConcernErrors"):
                    log.warning("batch write failed with codes %s", failed)
                    raise StoreUnavailable from None
                return {error["index"] for error in errors}
        return set()

    def newest(self, limit: int, level: str | None = None) -> list[Document]:
        """The newest entries, newest first; only those of one level when it is given.

        SecantusDB reads every document a query matches before it applies the limit, even through the
        `newest` index: the newest 20 of 67,000 entries cost 1.2 s of its CPU, and the test page asks
        every 1.5 s. So the same question is first asked again only of the entries created since the
        oldest one of its last answer: when they are enough, they are the answer (every other entry is
        older, or has no created_at and sorts last), read at the cost of what was written since. Only a
        first question, or one whose entries were deleted, reads the whole collection."""
        question = (level, limit)
        only = {"level": level} if level else {}
        with _reachable():
            entries: list[Document] = []
            since = self._answered_from.get(question)
            if since is not None:
                entries = self._newest({"created_at": {"$gte": since}} | only, limit)
            if len(entries) < limit:
                entries = self._newest(only, limit)
        if len(entries) == limit and isinstance(entries[-1].get("created_at"), datetime):
            self._answered_from[question] = entries[-1]["created_at"]
        return entries

    def _newest(self, query: Document, limit: int) -> list[Document]:
        return list(self.collection.find(query).sort(NEWEST_FIRST).limit(limit))

    def count_prefixed(self, prefix: str) -> int:
        """How many entries have an event id that starts with `prefix` (read through EVENT_ID_INDEX)."""
        with _reachable():
            return self.collection.count_documents(_event_id_prefix(prefix))

    def prefixed(self, prefix: str, limit: int) -> list[Document]:
        """The data and creation time of up to `limit` entries whose event id starts with `prefix`, in
        event id order."""
        with _reachable():
            cursor = self.collection.find(_event_id_prefix(prefix), {"_id": 0, "data": 1, "created_at": 1})
            return list(cursor.sort("event_id", ASCENDING).limit(limit))

    def get(self, entry_id: str) -> Document | None:
        if not ObjectId.is_valid(entry_id):
            return None
        with _reachable():
            return self.collection.find_one({"_id": ObjectId(entry_id)})

    def ready(self) -> bool:
        """Whether the store answers and has its indexes, within about a second."""
        try:
            with pymongo.timeout(READY_TIMEOUT_S):
                self.client.admin.command("ping")
                self.ensure_indexes()
        except (PyMongoError, StoreUnavailable):
            return False
        return True

    def close(self) -> None:
        self.client.close()
