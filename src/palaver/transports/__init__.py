"""Thin asyncio transports, one per front door: bytes in and out, timeouts, flow control."""
