"""The settings of the ``kafka`` exporter."""

from __future__ import annotations

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.setting_row import FILE, MILLIS, Setting

KAFKA_PARTITION_KEYS = ("outermost_call_id", "call_id", "service_name", "none")
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


class KafkaSettings:
    """The settings of the ``kafka`` exporter."""

    kafka_bootstrap_servers = Setting(
        parse=p.host_ports,
        accepted="a non-empty comma list of host:port",
        default="localhost:9092",
        help="Kafka bootstrap servers of the kafka exporter.",
        secret=True,
    )
    kafka_topic = Setting(
        parse=p.topic_template,
        accepted="a topic template using {service_name} and {event_type}",
        default="{service_name}.events",
        help="Topic template of the kafka exporter; {event_type} is the envelope's event type.",
    )
    kafka_topic_prefix = Setting(
        parse=p.topic_affix,
        accepted="text under 249 characters",
        default="",
        help="Text put before every Kafka topic name.",
    )
    kafka_topic_suffix = Setting(
        parse=p.topic_affix,
        accepted="text under 249 characters",
        default="",
        help="Text put after every Kafka topic name.",
    )
    kafka_partition_key = Setting(
        parse=p.choice(*KAFKA_PARTITION_KEYS),
        accepted=", ".join(KAFKA_PARTITION_KEYS),
        default="outermost_call_id",
        help="Kafka message key: the outermost call id keeps one call chain in one partition.",
    )
    kafka_max_block_ms = Setting(
        parse=p.positive_millis,
        accepted=MILLIS,
        default="5000",
        help="Longest time a Kafka send may block the export thread.",
    )
    kafka_security_protocol = Setting(
        parse=p.choice(*KAFKA_SECURITY_PROTOCOLS),
        accepted=", ".join(KAFKA_SECURITY_PROTOCOLS),
        default="PLAINTEXT",
        help="Kafka security protocol.",
    )
    kafka_ssl_cafile = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="CA certificates (PEM) for Kafka.",
    )
    kafka_ssl_certfile = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="Client certificate (PEM) for Kafka.",
    )
    kafka_ssl_keyfile = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="Client private key (PEM) for Kafka.",
    )
    kafka_sasl_mechanism = Setting(
        parse=p.optional_choice(*p.KAFKA_SASL_MECHANISMS),
        accepted=", ".join(p.KAFKA_SASL_MECHANISMS) + " or empty",
        default="",
        help="Kafka SASL mechanism (with SASL_PLAINTEXT or SASL_SSL).",
    )
    kafka_sasl_username = Setting(
        parse=p.text,
        accepted="a user name",
        default="",
        help="Kafka SASL user name.",
    )
    kafka_sasl_password = Setting(
        parse=p.text,
        accepted="a password",
        default="",
        help="Kafka SASL password.",
        password=True,
    )
