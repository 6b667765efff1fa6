"""A hand-made kafka-python consumer loop, its calls made with the public transport API.

    eventlog-instrument python kafka_orders.py BOOTSTRAP TOPIC COUNT SERVICE

Reads COUNT records of TOPIC from the beginning (Tansu has no consumer groups) and
handles each one as a call continuing the headers it came with. A record whose value is
``boom`` fails its call; the loop catches the error and writes to stdout whether it
arrived as the very exception the handler raised.
"""

from __future__ import annotations

import sys

from kafka import KafkaConsumer, TopicPartition

from eventlog_instrument import continued_call, dispatch_event


class Boom(Exception):
    pass


def main(bootstrap: str, topic: str, count: int, service: str) -> None:
    consumer = KafkaConsumer(bootstrap_servers=[bootstrap], consumer_timeout_ms=500)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    handled = 0
    while handled < count:
        for message in consumer:
            raised = Boom("order rejected")
            try:
                with continued_call(message.headers, service=service,
                                    entrypoint_protocol="KafkaConsumer", entrypoint_name=topic):
                    if message.value == b"boom":
                        raise raised
                    dispatch_event("order_seen", {"order": message.value.decode()})
            except Boom as error:
                print("same exception" if error is raised else "another exception", flush=True)
            handled += 1
    consumer.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
