"""A Flask app with no instrumentation code at all, for the launcher's tests."""

import os

from flask import Flask, jsonify

app = Flask("plain")


@app.get("/orders/<int:order_id>")
def get_order(order_id):
    return jsonify(id=order_id)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["PORT"]))
