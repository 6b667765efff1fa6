"""``eventlog check`` asks each exporter to check itself, with its whole configuration."""

from __future__ import annotations

from tests.support.entry_points import install_exporter
from tests.test_tools import run_tool


def test_amqp_check_connects_with_the_tls_settings(rabbitmq, tmp_path):
    not_a_ca = tmp_path / "ca.pem"
    not_a_ca.write_text("not a certificate\n")
    result = run_tool("check", EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_SSL_CA=str(not_a_ca),
                      EVENTLOG_AMQP_TIMEOUT="2")
    assert result.returncode == 3, result.stdout + result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("amqp     FAILED broker unreachable (amqp://guest:***@")


def test_kafka_check_connects_with_the_sasl_settings(tansu):
    plain = run_tool("check", EVENTLOG_EXPORTERS="kafka", EVENTLOG_KAFKA_BOOTSTRAP_SERVERS=tansu)
    assert plain.stdout.splitlines() == [f"kafka    ok {tansu}"]
    sasl = run_tool(
        "check", EVENTLOG_EXPORTERS="kafka", EVENTLOG_KAFKA_BOOTSTRAP_SERVERS=tansu,
        EVENTLOG_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", EVENTLOG_KAFKA_SASL_MECHANISM="PLAIN",
        EVENTLOG_KAFKA_SASL_USERNAME="bob", EVENTLOG_KAFKA_SASL_PASSWORD="Zq9xKsasl",
        EVENTLOG_AMQP_TIMEOUT="2",
    )
    assert sasl.returncode == 3
    [line] = sasl.stdout.splitlines()
    assert line.startswith(f"kafka    FAILED broker unreachable ({tansu}): ")
    assert "Zq9xKsasl" not in sasl.stdout + sasl.stderr


def test_an_exporter_without_a_check_reports_no_check(tmp_path):
    install_exporter(tmp_path, "pigeon", """
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        class PigeonExporter(SpanExporter):
            def export(self, spans):
                return SpanExportResult.SUCCESS
    """)
    result = run_tool("check", EVENTLOG_EXPORTERS="pigeon,console,none", PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["pigeon   no check", "console  no broker"]


def test_kafka_check_uses_the_producers_security_configuration(monkeypatch, tmp_path):
    import kafka

    from eventlog_instrument.exporters.kafka import KafkaEventExporter
    from eventlog_instrument.settings import load_settings

    given = {}

    class RecordingConsumer:
        DEFAULT_CONFIG = kafka.KafkaConsumer.DEFAULT_CONFIG

        def __init__(self, **config):
            given.update(config)

        def topics(self):
            return set()

        def close(self):
            return None

    monkeypatch.setattr(kafka, "KafkaConsumer", RecordingConsumer)
    ca = tmp_path / "ca.pem"
    ca.write_text("ca\n")
    exporter = KafkaEventExporter(load_settings(
        {}, kafka_bootstrap_servers="broker:9093", kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="bob",
        kafka_sasl_password="Zq9xKsasl", kafka_ssl_cafile=str(ca),
    ))
    assert exporter.check(2.0) == "ok broker:9093"
    security = {key: value for key, value in exporter.producer_config().items()
                if key.startswith(("security", "sasl", "ssl", "bootstrap_servers"))}
    assert security and all(given[key] == value for key, value in security.items())
