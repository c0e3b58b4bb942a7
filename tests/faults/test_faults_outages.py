"""Faults injected into the running lab: services killed or frozen, backing servers stopped or killed.

Each test checks what the lab's users see while the fault lasts (a quick 503, or a 504 at the deadline,
never a hang) and after it: everything recovers by itself, and every event that got a 202 is stored
exactly once.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pika
import requests
from faultlab import (
    FaultLab,
    PrivateServers,
    Reply,
    assert_stored_once,
    auth_body,
    burst,
    mail_body,
    post,
    send_log,
    send_many,
)
from pymongo.collection import Collection

from labkit import amqp
from labtest import eventually
from listener.config import PREFETCH

SYNC_TRANSPORTS = ("rpc", "grpc", "http")
# "Quickly": the services' connect timeouts are ~2 s and their deadlines 5 s; a hang would be 30 s.
QUICK = 6.0
# The broker gives every call to the logger a 5 s deadline (xmlrpc, gRPC, the HTTP read timeout).
PAST_DEADLINE = 8.0
PAUSE = 1.0
BURST = 200


def unique(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}"


def assert_quick_failure(reply: Reply, statuses: tuple[int, ...], what: str) -> None:
    assert reply.status in statuses, f"{what}: {reply}"
    assert reply.seconds < QUICK, f"{what} took {reply.seconds:.1f}s to fail"


def ready_queued(amqp_url: str, queue: str) -> int:
    """Messages waiting in a queue (not those delivered to a consumer and not yet acked)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_logger_killed_mid_burst_loses_nothing_and_sync_paths_fail_fast(
    fault_lab: FaultLab, logs: Collection
) -> None:
    while_down: dict[str, Reply] = {}

    def kill_logger() -> None:
        fault_lab.kill("logger")
        for transport in SYNC_TRANSPORTS:
            while_down[transport] = send_log(fault_lab, transport, unique("logger-down"))
        fault_lab.start("logger")

    events = burst(fault_lab, "logger-killed", BURST, kill_logger)

    for transport, reply in while_down.items():
        assert_quick_failure(reply, (503, 504), f"log via {transport} while the logger is down")
    assert [event.status for event in events] == [202] * BURST, "the RabbitMQ path does not need the logger"
    assert_stored_once(logs, events, transport="rabbitmq")


def test_logger_frozen_sync_paths_hit_their_deadline_and_rabbitmq_events_wait(
    fault_lab: FaultLab, logs: Collection
) -> None:
    with fault_lab.frozen("logger"), ThreadPoolExecutor(len(SYNC_TRANSPORTS)) as pool:
        calls = {t: pool.submit(send_log, fault_lab, t, unique("logger-frozen")) for t in SYNC_TRANSPORTS}
        held = send_many(fault_lab, "logger-frozen", 40)
        replies = {transport: call.result() for transport, call in calls.items()}

    for transport, reply in replies.items():
        assert reply.status == 504, f"log via {transport} while the logger is frozen: {reply}"
        assert reply.message == "logger service timed out"
        assert reply.seconds < PAST_DEADLINE, f"{transport} took {reply.seconds:.1f}s to time out"
    assert {event.status for event in held} == {202}
    # The listener's call may have timed out and been retried: what the logger gets twice it stores once.
    assert_stored_once(logs, held, transport="rabbitmq")


def test_logger_paused_for_a_second_delays_sync_calls_and_fails_none(
    fault_lab: FaultLab, logs: Collection
) -> None:
    # A restart drops every client's connection to the logger, so the calls below connect anew while it
    # is paused (as in a long GC pause, or starved of CPU): each must wait for it, within its deadline.
    assert fault_lab.stop("logger") == 0
    fault_lab.start("logger")
    datas = {transport: unique("logger-paused") for transport in SYNC_TRANSPORTS}
    with ThreadPoolExecutor(len(SYNC_TRANSPORTS)) as pool:
        with fault_lab.frozen("logger"):
            calls = {t: pool.submit(send_log, fault_lab, t, data) for t, data in datas.items()}
            time.sleep(PAUSE)
        replies = {transport: call.result() for transport, call in calls.items()}

    for transport, reply in replies.items():
        assert reply.status == 202, f"log via {transport} while the logger paused: {reply}"
        assert logs.count_documents({"data": datas[transport]}) == 1


def test_listener_killed_mid_burst_loses_nothing(fault_lab: FaultLab, logs: Collection) -> None:
    def kill_listener() -> None:
        fault_lab.kill("listener")
        fault_lab.start("listener")

    events = burst(fault_lab, "listener-killed", BURST, kill_listener)

    assert [event.status for event in events] == [202] * BURST
    assert_stored_once(logs, events, transport="rabbitmq")


def test_rabbitmq_killed_and_restarted_fails_fast_then_all_reconnect_and_nothing_is_lost(
    fault_lab: FaultLab, private_servers: PrivateServers, logs: Collection
) -> None:
    amqp_url = private_servers.backing.amqp_url
    rabbitmq = private_servers.rabbitmq
    # With the logger down the listener cannot store anything, so the events are still queued when
    # RabbitMQ dies: delivered to the listener and unacked (up to its prefetch), or waiting. RabbitMQ
    # confirmed each one (the broker's 202) once it was on disk, so a crash must not lose any, not even
    # those confirmed a moment before it.
    with fault_lab.down("logger"):
        queued = send_many(fault_lab, "before-rabbitmq-killed", PREFETCH + 40)
        assert {event.status for event in queued} == {202}
        eventually(lambda: ready_queued(amqp_url, amqp.QUEUE), lambda ready: ready > 0)
        try:
            during = burst(fault_lab, "rabbitmq-killed", BURST, rabbitmq.kill, clients=8)
            assert {event.status for event in during} <= {202, 503}, "accepted, or refused as unavailable"
            for _ in range(4):
                reply = send_log(fault_lab, "rabbitmq", unique("rabbitmq-down"))
                assert_quick_failure(reply, (503,), "log via rabbitmq while RabbitMQ is down")
                assert reply.message == "message broker is unavailable"
            assert fault_lab.readiness("broker") == 503
            eventually(lambda: fault_lab.readiness("listener"), lambda status: status == 503, timeout=QUICK)
        finally:
            rabbitmq.start()

    # Neither the broker nor the listener was restarted: each reconnects by itself. Every broker thread
    # still holds its connection from before the crash; it finds it dead, reconnects and publishes.
    after = send_many(fault_lab, "after-rabbitmq-killed", 80)
    assert {event.status for event in after} == {202}
    assert fault_lab.readiness("broker") == 200
    eventually(lambda: fault_lab.readiness("listener"), lambda status: status == 200, timeout=45)
    assert_stored_once(logs, queued + during + after, transport="rabbitmq")
    assert ready_queued(amqp_url, amqp.DEAD_LETTER_QUEUE) == 0


def test_postgres_down_auth_fails_fast_and_recovers(
    fault_lab: FaultLab, private_servers: PrivateServers
) -> None:
    handle = fault_lab.broker + "/handle"
    with private_servers.postgres.down():
        reply = post(handle, auth_body())
        assert_quick_failure(reply, (503,), "auth while PostgreSQL is down")
        assert reply.message == "user database is unavailable"
        assert fault_lab.readiness("authentication") == 503

    reply = eventually(lambda: post(handle, auth_body()), lambda answer: answer.status == 202, timeout=30)
    assert reply.message == "Authenticated!"
    assert reply.data["email"] == "admin@example.com"
    # Each gunicorn worker has its own pool, which reconnects on its own backoff (at most a few
    # seconds), so the worker that answers /readyz may come back a little after the one that logged in.
    eventually(lambda: fault_lab.readiness("authentication"), lambda status: status == 200, timeout=15)


def test_store_down_sync_paths_fail_fast_and_rabbitmq_path_holds_events(
    fault_lab: FaultLab, private_servers: PrivateServers, logs: Collection
) -> None:
    with private_servers.mongo.down():
        eventually(lambda: fault_lab.readiness("logger"), lambda status: status == 503, timeout=QUICK)
        for transport in SYNC_TRANSPORTS:
            reply = send_log(fault_lab, transport, unique("store-down"))
            assert_quick_failure(reply, (503,), f"log via {transport} while the store is down")
            # xmlrpc and HTTP relay the logger's "log store is unavailable"; over gRPC the broker cannot
            # tell the logger's UNAVAILABLE from the channel's, and says "logger service is unavailable".
            assert reply.message in ("log store is unavailable", "logger service is unavailable")
        held = send_many(fault_lab, "store-down", 40)
        assert {event.status for event in held} == {202}
        assert fault_lab.readiness("listener") == 200, "the listener keeps consuming, holding the events"

    assert_stored_once(logs, held, transport="rabbitmq")
    assert ready_queued(private_servers.backing.amqp_url, amqp.DEAD_LETTER_QUEUE) == 0
    eventually(lambda: fault_lab.readiness("logger"), lambda status: status == 200)
    for transport in SYNC_TRANSPORTS:
        data = unique("store-back")
        reply = send_log(fault_lab, transport, data)
        assert reply.status == 202, f"log via {transport} once the store is back: {reply}"
        assert logs.count_documents({"data": data}) == 1


def test_smtp_down_mail_fails_fast_and_recovers(fault_lab: FaultLab, private_servers: PrivateServers) -> None:
    handle = fault_lab.broker + "/handle"
    with private_servers.smtp.down():
        reply = post(handle, mail_body("while down"))
        assert_quick_failure(reply, (503,), "mail while the SMTP server is down")
        assert reply.message == "mail server is unavailable"

    subject = unique("after-smtp-restart")
    reply = eventually(lambda: post(handle, mail_body(subject)), lambda answer: answer.status == 202)
    assert reply.message == "Message sent to user@example.com"
    inbox = requests.get(private_servers.backing.mail_ui_url + "/api/v2/messages", timeout=5).json()
    assert [item["Content"]["Headers"]["Subject"] for item in inbox["items"]] == [[subject]]
