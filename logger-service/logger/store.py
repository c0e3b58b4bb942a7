"""The log store: the MongoDB collection `logs`, written once per event id.

One LogStore (one MongoClient, with its connection pool) per process, made after the fork. Timeouts are
short so an unreachable server fails fast: every front door maps StoreUnavailable to its "503".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from labkit.events import LogEvent
from labkit.validation import ApiError

COLLECTION = "logs"
CONNECT_TIMEOUT_MS = 2000
SOCKET_TIMEOUT_MS = 5000
READY_TIMEOUT_S = 1.0
DUPLICATE_KEY = 11000

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

    def ensure_indexes(self) -> None:
        """Create the indexes once per process; retried on the next write if the store was down.

        The event id index is partial so documents written before event ids existed don't collide.
        """
        if self._indexed:
            return
        with _reachable():
            self.collection.create_index(
                "event_id",
                name="event_id_unique",
                unique=True,
                partialFilterExpression={"event_id": {"$type": "string"}},
            )
            self.collection.create_index([("created_at", DESCENDING), ("_id", DESCENDING)], name="newest")
            self.collection.create_index([("name", ASCENDING), ("created_at", ASCENDING)], name="by_name")
        self._indexed = True

    def insert(self, event: LogEvent, transport: str) -> Inserted:
        """Store an event; a second insert of the same event id changes nothing and returns the first."""
        document = _document(event, transport, datetime.now(UTC))
        self.ensure_indexes()
        with _reachable():
            return self._insert_once(document)

    def insert_many(self, events: Sequence[LogEvent], transport: str) -> list[tuple[str, bool]]:
        """Store a batch in one write, each event once per event id: each event's id, and whether it
        is new (an event already stored, or twice in the batch, changes nothing)."""
        now = datetime.now(UTC)
        documents = [_document(event, transport, now) for event in events]
        self.ensure_indexes()
        already: set[int] = set()
        with _reachable():
            try:
                self.collection.insert_many(documents, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                failed = [error.get("code") for error in errors if error.get("code") != DUPLICATE_KEY]
                if failed or exc.details.get("writeConcernErrors"):
                    log.warning("batch write failed with codes %s", failed)
                    raise StoreUnavailable from None
                already = {error["index"] for error in errors}
        return [(document["event_id"], i not in already) for i, document in enumerate(documents)]

    def _insert_once(self, document: Document) -> Inserted:
        event_id = document["event_id"]
        try:
            return Inserted(str(self.collection.insert_one(document).inserted_id), event_id, True)
        except DuplicateKeyError:
            existing = self.collection.find_one({"event_id": event_id}, {"_id": 1})
            if existing is None:
                # Only a delete between the two calls gets here; the caller's retry stores the event.
                raise StoreUnavailable from None
            return Inserted(str(existing["_id"]), event_id, False)

    def newest(self, limit: int, level: str | None = None) -> list[Document]:
        """The newest entries, newest first; only those of one level when it is given."""
        with _reachable():
            cursor = self.collection.find({"level": level} if level else {}).sort(
                [("created_at", DESCENDING), ("_id", DESCENDING)]
            )
            return list(cursor.limit(limit))

    def count_named(self, name: str) -> int:
        with _reachable():
            return self.collection.count_documents({"name": name})

    def named(self, name: str, limit: int) -> list[Document]:
        """The data and creation time of up to `limit` entries with this name, oldest first."""
        with _reachable():
            cursor = self.collection.find({"name": name}, {"_id": 0, "data": 1, "created_at": 1})
            return list(cursor.sort("created_at", ASCENDING).limit(limit))

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
