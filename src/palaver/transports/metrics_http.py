"""``GET /metrics`` on the web door: Prometheus text (or OpenMetrics, when asked for).

Only clients whose address is in one of the allowed networks get the metrics (by default
loopback only); others get 403. The address is the TCP peer's: behind a reverse proxy every
request comes from the proxy, so the proxy must not pass ``/metrics`` on (docs/operations.md).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from palaver.server.core import ServerCore
from palaver.server.metrics import make_registry

log = logging.getLogger("palaver.transports")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowed(remote: str | None, networks: Sequence[Network]) -> bool:
    """Is the peer address ``remote`` in one of ``networks`` (none at all: everyone is)?"""
    if not networks:
        return True
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote.partition("%")[0])  # drop an IPv6 zone
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def metrics_endpoint(
    core: ServerCore, metrics_from: Sequence[str]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The request handler for ``/metrics`` (``metrics_from``: the networks allowed to scrape)."""
    registry = make_registry(core)
    networks = [ipaddress.ip_network(network, strict=False) for network in metrics_from]

    async def handle(request: web.Request) -> web.Response:
        if not allowed(request.remote, networks):
            log.info("refused /metrics to %s (setting metrics_from)", request.remote)
            raise web.HTTPForbidden(text="metrics are not served to this address "
                                         "(setting metrics_from)\n")
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(registry), headers={
            "Content-Type": content_type, "Cache-Control": "no-store"})

    return handle
