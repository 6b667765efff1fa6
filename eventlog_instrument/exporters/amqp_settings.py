"""The settings of the ``amqp`` exporter."""

from __future__ import annotations

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.setting_row import FILE, Setting


class AmqpSettings:
    """The settings of the ``amqp`` exporter."""

    amqp_uri = Setting(
        parse=p.amqp_uri,
        accepted="an amqp:// or amqps:// URI with a host, or several separated by ;",
        default="amqp://guest:guest@localhost:5672//",
        help="RabbitMQ URI of the amqp exporter.",
        secret=True,
    )
    amqp_timeout = Setting(
        parse=p.positive_seconds,
        accepted="a positive number of seconds, at most 3600",
        default="5",
        help="Connect, read and write timeout of the amqp exporter, in seconds.",
    )
    amqp_ssl_ca = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="CA certificates (PEM) to verify RabbitMQ with; TLS is on for amqps:// or any "
        "EVENTLOG_AMQP_SSL_* setting.",
    )
    amqp_ssl_cert = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="Client certificate (PEM) for RabbitMQ.",
    )
    amqp_ssl_key = Setting(
        parse=p.existing_file,
        accepted=FILE,
        default="",
        help="Client private key (PEM) for RabbitMQ.",
    )
