"""Three services in one app, A -> B -> C, each calling the next over real HTTP.

``NEXT_URL`` is where this one's outgoing requests go. A calls B with requests; B calls
C with httpx (sync, or async in an event loop run by the request's thread), urllib3 and
urllib.request. The answers hold nothing of the instrumentation, so an instrumented run
must answer exactly as an uninstrumented one.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import httpx
import requests
import urllib3
from flask import Flask, jsonify

app = Flask(__name__)
NEXT_URL = os.environ.get("NEXT_URL", "")
_pool = urllib3.PoolManager()


@app.get("/a")
def service_a():
    answer = requests.get(f"{NEXT_URL}/b", timeout=10)
    return jsonify(a="ok", b=answer.json())


@app.get("/a-async")
def service_a_async():
    answer = requests.get(f"{NEXT_URL}/b-async", timeout=10)
    return jsonify(a="ok", b=answer.json())


@app.get("/b")
def service_b():
    with httpx.Client(timeout=10) as client:
        by_httpx = client.get(f"{NEXT_URL}/c").json()
    # .data, not .json(): urllib3 1.26's responses have no json()
    by_urllib3 = json.loads(_pool.request("GET", f"{NEXT_URL}/c", timeout=10).data)
    with urllib.request.urlopen(f"{NEXT_URL}/c", timeout=10) as answer:
        by_urllib = answer.read().decode()
    return jsonify(httpx=by_httpx, urllib3=by_urllib3, urllib=by_urllib)


@app.get("/b-async")
def service_b_async():
    async def fetch():
        async with httpx.AsyncClient(timeout=10) as client:
            answers = await asyncio.gather(client.get(f"{NEXT_URL}/c"), client.get(f"{NEXT_URL}/c"))
        return [answer.json() for answer in answers]

    return jsonify(httpx_async=asyncio.run(fetch()))


@app.get("/c")
def service_c():
    return jsonify(c="ok")
