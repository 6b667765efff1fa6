"""``eventlog check``: connect to every configured exporter's broker, publish nothing."""

from __future__ import annotations

import argparse

from eventlog_instrument.masking import mask_secret, mask_uri
from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import amqp_connection
from eventlog_instrument.tools.command import Command, ToolError


def _add_check(parser: argparse.ArgumentParser) -> None:
    del parser


def _run_check(arguments: argparse.Namespace, settings: Settings) -> int:
    failures = 0
    for name in settings.exporters:
        if name == "amqp":
            ok, detail = _check_amqp(settings)
        elif name == "kafka":
            ok, detail = _check_kafka(settings)
        else:
            ok, detail = True, "no broker"
        failures += not ok
        print(f"{name:<8} {detail}")
    return 0 if not failures else 3


def _check_amqp(settings: Settings) -> tuple[bool, str]:
    try:
        connection = amqp_connection(settings)
    except ToolError as error:
        return False, f"FAILED {error}"
    connection.release()
    return True, f"ok {mask_uri(settings.amqp_uri)}"


def _check_kafka(settings: Settings) -> tuple[bool, str]:
    where = mask_secret(settings.kafka_bootstrap_servers)
    try:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            bootstrap_servers=list(settings.kafka_bootstrap_servers),
            security_protocol=settings.kafka_security_protocol,
        )
        consumer.topics()
        consumer.close()
    except Exception as error:
        return False, f"FAILED broker unreachable ({where}): {type(error).__name__}"
    return True, f"ok {where}"



COMMAND = Command(
    "check",
    "Connect to every configured exporter's broker, publish nothing, report.",
    "EVENTLOG_EXPORTERS=amqp,kafka eventlog check",
    _add_check,
    _run_check,
)
