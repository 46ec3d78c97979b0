"""What the request handlers share: settings, the upstream pool and the ledger (one per process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.accounting.ledger import Ledger
from gateway.config.settings import Settings
from gateway.upstream.client import UpstreamClient


@dataclass
class GatewayState:
    settings: Settings
    upstream: UpstreamClient = field(default_factory=UpstreamClient)
    ledger: Ledger = field(default_factory=Ledger)


STATE = web.AppKey("gateway_state", GatewayState)
REQUEST_ID = "gateway_request_id"
