"""The peer `bosun-bench labels` measures bosun against: a webhook receiver as a Python App is
commonly written, aiohttp for HTTP and gidgethub to check each delivery (its HMAC-SHA256
signature, its event and delivery headers, its JSON body). It stores nothing and queues
nothing: it answers 202 once the delivery is checked, which is less than bosun does before its
202 (write the delivery to SQLite and fsync it).

Usage: receiver.py PORT, with the webhook secret in PEER_WEBHOOK_SECRET. One process, one
event loop, access log off.
"""

import os
import sys

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio

SECRET = os.environ["PEER_WEBHOOK_SECRET"]


async def webhook(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        sansio.Event.from_http(request.headers, body, secret=SECRET)
    except ValidationFailure as e:
        return web.Response(status=401, text=str(e))
    except BadRequest as e:
        return web.Response(status=400, text=str(e))
    return web.Response(status=202)


def main() -> None:
    app = web.Application(client_max_size=25 * 1024 * 1024)
    app.router.add_post("/webhook", webhook)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
