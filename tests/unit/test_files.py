"""The pure pieces of file sharing: names, sniffing, download keys, the text line."""

from __future__ import annotations

import pytest

from palaver.hub import Hub
from palaver.hub.files import FilesConfig
from palaver.protocol.file_text import (
    MAX_FILE_NAME,
    clean_file_name,
    human_size,
    keyed_url,
    personal_link,
    text_with_file,
)
from palaver.protocol.messages import FileRef
from palaver.server.files import files_url, sniff


@pytest.mark.parametrize(("given", "kept"), [
    ("cat.png", "cat.png"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\cv.pdf", "cv.pdf"),
    ("a\u202eexe.txt", "aexe.txt"),  # a bidi override
    ("zero\u200bwidth", "zerowidth"),  # a format character
    ("tab\there\nnew", "tabherenew"),
    ("  .hidden  ", "hidden"),
    ("..", "file"),
    ("", "file"),
    ("na\u0301me", "náme"),  # NFC
    ("x" * 500, "x" * MAX_FILE_NAME),
    ("y" * 500 + ".tar.gz", "y" * (MAX_FILE_NAME - 3) + ".gz"),
])
def test_file_names_are_cleaned(given: str, kept: str) -> None:
    assert clean_file_name(given) == kept
    assert len(clean_file_name(given)) <= MAX_FILE_NAME


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x89PNG\r\n\x1a\nrest", "image/png"),
    (b"\xff\xd8\xff\xe0", "image/jpeg"),
    (b"GIF89a...", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"%PDF-1.7", "application/pdf"),
    (b"hello, world\n", "text/plain; charset=utf-8"),
    ("caf\u00e9".encode()[:-1], "text/plain; charset=utf-8"),  # a character cut at the end
    (b"<svg xmlns='http://www.w3.org/2000/svg'>", "text/plain; charset=utf-8"),  # never svg
    (b"<html><script>", "text/plain; charset=utf-8"),  # never html
    (b"PK\x03\x04zip", "application/octet-stream"),
    (b"\x1f\x8b\x08\x00", "application/octet-stream"),
    (b"\xff\xfe\x00\x00", "application/octet-stream"),
])
def test_types_are_sniffed_from_the_content(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def test_download_keys_are_signed_and_expire() -> None:
    hub = Hub()
    hub.configure_files(FilesConfig(secret=b"s" * 32))
    key = hub.file_key("~guest.1", 1_000)
    assert hub.file_reader(key, 999.0) == "~guest.1"
    assert hub.file_reader(key, 1_000.0) is None  # expired
    stamp, who, signature = key.split(".")
    assert hub.file_reader(f"{int(stamp) + 1}.{who}.{signature}", 0.0) is None  # altered
    assert hub.file_reader("nonsense", 0.0) is None
    other = Hub()
    other.configure_files(FilesConfig(secret=b"t" * 32))
    assert other.file_reader(key, 0.0) is None  # another server's (or before a restart)


def test_the_text_line() -> None:
    ref = FileRef(name="cat.png", size=48_213, type="image/png", sha256="0" * 64,
                  url="http://h/files/x/cat.png")
    assert text_with_file("cat.png", ref) == (
        "[file] cat.png (48.2 kB, image/png) http://h/files/x/cat.png")
    assert text_with_file("look", ref).split("\n") == [
        "look", "[file] cat.png (48.2 kB, image/png) http://h/files/x/cat.png"]
    assert text_with_file("plain", None) == "plain"
    assert text_with_file("look", ref, 41).split("\n")[1] == (  # what /download and FILE take
        "[file 41] cat.png (48.2 kB, image/png) http://h/files/x/cat.png")
    assert personal_link(ref, "17.YQ.ab", "2026-11-21T15:04:05.000Z") == (
        "cat.png (48.2 kB, image/png), a link for you alone until 2026-11-21 15:04 UTC: "
        "http://h/files/x/cat.png?key=17.YQ.ab")
    assert keyed_url("http://h/f?x=1", "a/b") == "http://h/f?x=1&key=a%2Fb"
    assert [human_size(n) for n in (0, 999, 1_000, 25 * 1_048_576, 3 * 10**12)] == [
        "0 B", "999 B", "1.0 kB", "26.2 MB", "3.0 TB"]


def test_the_files_url_from_the_web_door_s_address() -> None:
    assert files_url("127.0.0.1", 8080, tls=False) == "http://127.0.0.1:8080"
    assert files_url("0.0.0.0", 443, tls=True) == "https://localhost:443"
    assert files_url("::1", 8080, tls=False) == "http://[::1]:8080"
