"""``palaver chat``'s ``/cert`` (client/commands.py) and how CERTIFICATES reads
(client/render.py)."""

from __future__ import annotations

from datetime import UTC

from palaver.client.commands import LocalError, Send, parse_line
from palaver.client.render import View, render
from palaver.protocol.messages import CertificateList, ManageCertificates

FP = "ab" * 32
OTHER = "cd" * 32


def test_cert_lines_become_cert_requests() -> None:
    for line, message in (
        ("/cert", ManageCertificates(action="list")),
        ("/cert list", ManageCertificates(action="list")),
        ("/cert add", ManageCertificates(action="add")),
        (f"/cert add {FP}", ManageCertificates(action="add", fingerprint=FP)),
        (f"/cert remove {FP}", ManageCertificates(action="remove", fingerprint=FP)),
        (f"/cert DEL {FP}", ManageCertificates(action="remove", fingerprint=FP)),
    ):
        assert parse_line(line, "#lobby") == Send(message), line
    for line in ("/cert remove", "/cert frob", f"/cert add {FP} {FP}", "/cert list x"):
        action = parse_line(line, "#lobby")
        assert isinstance(action, LocalError) and "/cert" in action.message, line


def test_certificates_read_as_lines() -> None:
    view = View(me="ann", room="#lobby", tz=UTC)
    event = CertificateList(account="ann", fingerprints=(OTHER, FP), added=FP, current=FP)
    assert render(event, view) == [
        f"* certificate {FP} added: it logs in to ann",
        "* ann has 2 certificates:",
        f"*   {OTHER}",
        f"*   {FP} (this connection's)",
    ]
    assert render(CertificateList(account="ann", current=FP, removed=OTHER), view) == [
        f"* certificate {OTHER} removed",
        "* ann has 0 certificates",
        f"* this connection's certificate: {FP} (/cert add binds it)",
    ]
