"""Secrets are never exported: masked credentials, scrubbed headers, TLS passed through."""

from __future__ import annotations

from pathlib import Path

import flask

from eventlog_instrument import dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import display_value, load_settings
from tests.support.waiting import free_port, wait_until


def pem_files(folder: Path, *names: str) -> list[str]:
    """Files that exist (the settings check TLS paths at start-up); their content is not read."""
    for name in names:
        (folder / name).write_text("not read by these tests\n")
    return [str(folder / name) for name in names]


def test_amqps_uri_and_tls_files_reach_kombu_and_a_plain_port_fails_the_handshake(
    rabbitmq, service_name, pipeline, caplog, tmp_path
):
    exporter = AmqpEventExporter(load_settings({}, amqp_uri="amqps://guest:hunter2@127.0.0.1:5672//", amqp_timeout=1))
    assert exporter.ssl_options() is True
    ca, cert, key = pem_files(tmp_path, "ca.pem", "c.pem", "k.pem")
    with_files = AmqpEventExporter(load_settings({}, amqp_ssl_ca=ca, amqp_ssl_cert=cert, amqp_ssl_key=key))
    assert with_files.ssl_options() == {
        "ca_certs": ca, "certfile": cert, "keyfile": key, "cert_reqs": 2,
    }
    pipeline(extra_exporters=[exporter], service_name=service_name, shutdown_timeout=300)
    dispatch_event("tls")
    wait_until(lambda: "amqp exporter cannot publish" in caplog.text, 15, "the TLS failure")
    assert "SSL" in caplog.text, "a TLS handshake was attempted against the plain AMQP port"
    assert "hunter2" not in caplog.text and "guest:***@127.0.0.1" in caplog.text


def test_kafka_ssl_and_sasl_settings_pass_through_and_the_password_is_masked(tmp_path):
    [ca] = pem_files(tmp_path, "ca.pem")
    settings = load_settings(
        {}, kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", kafka_security_protocol="SASL_SSL",
        kafka_ssl_cafile=ca, kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="app", kafka_sasl_password="hunter2",
    )
    config = KafkaEventExporter(settings).producer_config()
    assert {k: config[k] for k in ("security_protocol", "ssl_cafile", "sasl_mechanism",
                                   "sasl_plain_username", "sasl_plain_password")} == {
        "security_protocol": "SASL_SSL", "ssl_cafile": ca, "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "app", "sasl_plain_password": "hunter2",
    }
    assert display_value("kafka_sasl_password", settings) == "***"
    assert "hunter2" not in repr(settings)


def test_captured_headers_are_scrubbed_by_the_default_and_an_extended_denylist(pipeline):
    memory = pipeline(
        capture_request_headers="User-Agent,Authorization,X-Api-Key,Cookie,X-Internal-Ref",
        scrub_denylist="authorization,api-key,cookie,internal",
        service_name="secure",
    )
    app = flask.Flask("secure")

    @app.get("/ping")
    def ping():
        return "pong"

    response = app.test_client().get("/ping", headers={
        "User-Agent": "tests", "Authorization": "Bearer s3cr3t", "X-Api-Key": "k3y",
        "X-Internal-Ref": "ref-1",
    })
    assert response.status_code == 200
    response.close()  # the WSGI server's close() ends the span
    [event] = memory.wait_for(1)
    assert event["data"]["request_headers"] == [
        "User-Agent: tests", "Authorization: ***", "X-Api-Key: ***", "X-Internal-Ref: ***",
    ]


def test_default_denylist_scrubs_the_usual_secrets():
    defaults = load_settings({}).scrub_denylist
    for name in ("authorization", "cookie", "token", "password", "secret", "api-key", "session"):
        assert any(fragment in name for fragment in defaults)
