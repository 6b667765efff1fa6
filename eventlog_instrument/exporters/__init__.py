"""Exporters: OpenTelemetry ``SpanExporter``s that publish events.

Built in: ``console``, ``memory``, ``amqp`` and ``kafka``; :mod:`.registry` finds them,
and third-party ones, by entry point. An exporter's own settings are declared beside it
(``amqp_settings.py``, ``kafka_settings.py``).
"""
