"""The log store against a real SecantusDB: the documents it writes, once per event id."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from labkit.config import ConfigError
from labkit.events import LogEvent
from labtest import eventually
from logger.config import Config
from logger.store import Inserted, LogStore, StoreUnavailable


def event(name: str, data: str, event_id: str = "", **fields: str) -> LogEvent:
    """A checked event, its id new unless given."""
    return LogEvent.parse({"name": name, "data": data, "event_id": event_id or None, **fields})


def test_insert_stores_every_field_with_utc_timestamps(store: LogStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    inserted = store.insert(
        event("login", "admin logged in", "ev-1", request_id="req-1", level="warning"), "grpc"
    )

    assert inserted.created is True
    assert inserted.event_id == "ev-1"
    document = store.collection.find_one({"event_id": "ev-1"})
    assert document is not None
    assert str(document["_id"]) == inserted.id
    assert set(document) == {
        "_id",
        "name",
        "data",
        "level",
        "created_at",
        "updated_at",
        "transport",
        "event_id",
        "request_id",
    }
    assert (document["name"], document["data"], document["transport"]) == ("login", "admin logged in", "grpc")
    assert (document["level"], document["request_id"]) == ("WARNING", "req-1")
    assert document["created_at"] == document["updated_at"]
    assert document["created_at"].utcoffset() == timedelta(0)
    assert before <= document["created_at"] <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_second_insert_of_the_same_event_changes_nothing(store: LogStore) -> None:
    first = store.insert(event("event", "first delivery", "same"), "rabbitmq")
    second = store.insert(event("event", "second delivery", "same"), "rpc")

    assert second == (first.id, "same", False)
    documents = list(store.collection.find({"event_id": "same"}))
    assert len(documents) == 1
    assert (documents[0]["data"], documents[0]["transport"]) == ("first delivery", "rabbitmq")


def test_concurrent_deliveries_of_one_event_store_it_once(store: LogStore) -> None:
    def deliver(attempt: int) -> Inserted:
        return store.insert(event("race", str(attempt), "racy"), "rabbitmq")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(deliver, range(16)))

    assert len({result.id for result in results}) == 1
    assert sum(result.created for result in results) == 1
    assert store.collection.count_documents({"event_id": "racy"}) == 1


def test_the_first_write_creates_the_indexes(store: LogStore) -> None:
    store.insert(event("a", "b"), "http")

    indexes = {index["name"]: index for index in store.collection.list_indexes()}
    assert set(indexes) == {"_id_", "event_id_once", "newest"}
    assert indexes["event_id_once"]["unique"] is True
    assert list(indexes["event_id_once"]["key"].items()) == [("event_id", 1)]
    assert list(indexes["newest"]["key"].items()) == [("created_at", -1), ("_id", -1)]


def winning_index(store: LogStore, query: dict[str, object]) -> str | None:
    plan = store.collection.find(query).explain()["queryPlanner"]["winningPlan"]
    return plan.get("inputStage", {}).get("indexName")


def test_reads_by_event_id_go_through_its_index(store: LogStore) -> None:
    """Finding a second delivery's first copy, and the benchmark's reads by prefix, never scan the
    collection (they did while the index's filter was a $type, which the store could not match)."""
    store.insert(event("a", "b", "run-1-0"), "http")

    assert winning_index(store, {"event_id": "run-1-0"}) == "event_id_once"
    assert winning_index(store, {"event_id": {"$gte": "run-1-", "$lt": "run-1."}}) == "event_id_once"


def test_a_store_made_by_an_earlier_version_gets_the_new_indexes_and_loses_the_retired_ones(
    store: LogStore,
) -> None:
    """Its documents from before event ids existed (no event_id) still don't collide, and an event id
    is still stored once."""
    store.collection.create_index(
        "event_id",
        name="event_id_unique",
        unique=True,
        partialFilterExpression={"event_id": {"$type": "string"}},
    )
    store.collection.create_index([("name", 1), ("created_at", 1)], name="by_name")
    store.collection.insert_many([{"name": "old", "data": "1"}, {"name": "old", "data": "2"}])

    first = store.insert(event("new", "first", "kept-once"), "http")
    second = store.insert(event("new", "second", "kept-once"), "rpc")

    assert {index["name"] for index in store.collection.list_indexes()} == {"_id_", "event_id_once", "newest"}
    assert (first.created, second.created, second.id) == (True, False, first.id)
    assert store.collection.count_documents({}) == 3


def test_newest_lists_newest_first_up_to_the_limit(store: LogStore) -> None:
    levels = ["INFO", "ERROR", "WARNING", "ERROR", "INFO"]
    ids = [store.insert(event("n", str(i), level=level), "http").id for i, level in enumerate(levels)]

    assert [str(document["_id"]) for document in store.newest(3)] == ids[::-1][:3]
    assert [str(document["_id"]) for document in store.newest(5, "ERROR")] == [ids[3], ids[1]]


def test_newest_asked_again_finds_what_was_written_since_in_order(
    store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question asked again first reads only the entries created since the oldest of its last
    answer (the queries the store receives say so): what was written since still comes in order, dated
    ahead of the others or among them; when too few are left, as after a delete, the whole collection is
    read, old entries and one without a created_at included."""
    reads: list[dict] = []
    find = store.collection.find

    def recorded_find(query: dict, *args: object, **kwargs: object) -> object:
        reads.append(query)
        return find(query, *args, **kwargs)

    monkeypatch.setattr(store.collection, "find", recorded_find)
    now = datetime.now(UTC)
    ages = [-2.0, 0.0, 0.5, 3.0, 600.0, 365 * 86400.0]
    store.collection.insert_many(
        [
            *(
                {
                    "name": "aged",
                    "data": str(age),
                    "level": "INFO",
                    "created_at": now - timedelta(seconds=age),
                }
                for age in ages
            ),
            {"name": "aged", "data": "no creation time", "level": "INFO"},
        ]
    )
    everything = [*(str(age) for age in ages), "no creation time"]
    first = store.newest(3)
    assert [entry["data"] for entry in first] == everything[:3]
    assert [entry["data"] for entry in store.newest(3, "INFO")] == everything[:3]
    assert reads == [{}, {"level": "INFO"}]
    since = {"created_at": {"$gte": first[-1]["created_at"]}}

    store.collection.insert_many(
        [
            {"name": "aged", "data": "just now", "level": "INFO", "created_at": datetime.now(UTC)},
            {"name": "aged", "data": "behind", "level": "INFO", "created_at": now - timedelta(seconds=0.2)},
            {"name": "aged", "data": "too old", "level": "INFO", "created_at": now - timedelta(seconds=1)},
        ]
    )
    again = store.newest(3)
    assert [entry["data"] for entry in again] == ["-2.0", "just now", "0.0"]
    assert [entry["data"] for entry in store.newest(3, "INFO")] == ["-2.0", "just now", "0.0"]
    assert [entry["data"] for entry in store.newest(5)] == ["-2.0", "just now", "0.0", "behind", "0.5"]
    assert reads[2:] == [since, since | {"level": "INFO"}, {}]

    store.collection.delete_many({"data": {"$in": ["-2.0", "just now", "0.0"]}})
    assert [entry["data"] for entry in store.newest(3)] == ["behind", "0.5", "too old"]
    assert reads[5:] == [{"created_at": {"$gte": again[-1]["created_at"]}}, {}]
    assert [entry["data"] for entry in store.newest(20)] == ["behind", "0.5", "too old", *everything[3:]]


def test_get_finds_an_entry_and_not_an_unknown_or_malformed_id(store: LogStore) -> None:
    inserted = store.insert(event("n", "d"), "http")

    found = store.get(inserted.id)
    assert found is not None
    assert found["data"] == "d"
    assert store.get("0123456789abcdef01234567") is None
    assert store.get("not-an-id") is None


def test_an_unreachable_store_raises_store_unavailable(down_store: LogStore) -> None:
    assert down_store.ready() is False
    with pytest.raises(StoreUnavailable, match=r"^log store is unavailable$"):
        down_store.insert(event("n", "d"), "http")
    with pytest.raises(StoreUnavailable):
        down_store.newest(1)
    with pytest.raises(StoreUnavailable):
        down_store.get("0123456789abcdef01234567")


def test_config_defaults_follow_the_contract() -> None:
    assert Config.from_env({}) == Config(
        host="0.0.0.0",
        port=8083,
        rpc_port=5001,
        grpc_port=50001,
        mongo_url="mongodb://127.0.0.1:27017",
        mongo_db="logs",
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORT", "http"), ("RPC_PORT", "70000"), ("MONGO_URL", "http://db:27017"), ("MONGO_DB", "a.b")],
)
def test_a_malformed_setting_stops_the_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} "):
        Config.from_env({variable: value})


def test_writes_that_arrive_during_a_write_go_together_in_the_next_and_each_gets_its_own_answer(
    store: LogStore,
) -> None:
    """Group commit: a lone write is stored at once in its caller's thread; while it runs, the others
    queue, and the next insert (the writer thread's) takes them all at once."""
    group_sizes: list[int] = []
    writers: list[str] = []
    first_write_started, release_first_write = threading.Event(), threading.Event()
    insert = store.group.insert

    def observed(documents: list[dict]) -> set[int]:
        group_sizes.append(len(documents))
        writers.append(threading.current_thread().name)
        if len(group_sizes) == 1:
            first_write_started.set()
            release_first_write.wait(10)
        return insert(documents)

    store.group.insert = observed
    # Twenty events, four of them sent twice: sixteen distinct event ids.
    events = [event("group", str(i), f"group-{i % 16}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=20, thread_name_prefix="caller") as pool:
        first = pool.submit(store.insert, events[0], "http")
        assert first_write_started.wait(10)
        rest = [pool.submit(store.insert, e, "http") for e in events[1:]]
        eventually(lambda: store.group.waiting, lambda n: n == 19)
        release_first_write.set()
        results = [first.result(), *(future.result() for future in rest)]

    assert group_sizes == [1, 19]
    assert writers[0].startswith("caller") and writers[1] == "group-commit"
    assert sum(result.created for result in results) == 16
    by_event = {}
    for result in results:
        by_event.setdefault(result.event_id, set()).add(result.id)
    assert all(len(ids) == 1 for ids in by_event.values()), "a repeat answers with the stored entry's id"
    stored = {d["event_id"]: str(d["_id"]) for d in store.collection.find({"name": "group"})}
    assert stored == {event_id: ids.pop() for event_id, ids in by_event.items()}
