"""A file a MESSAGE carries, as text: for the doors that show only text (the text door, IRC,
``palaver chat``). Pure functions; the line is the same for every recipient."""

from __future__ import annotations

from palaver.protocol.messages import FileRef

_UNITS = ("kB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """``512 B``, ``48.2 kB``, ``25.0 MB`` (powers of 1,000)."""
    if size < 1_000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1_000
        if value < 1_000 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"


def file_line(file: FileRef) -> str:
    """``[file] cat.png (48.2 kB, image/png) http://host:8080/files/…/cat.png``"""
    kind = file.type.split(";", 1)[0]
    return f"[file] {file.name} ({human_size(file.size)}, {kind}) {file.url}"


def text_with_file(text: str, file: FileRef | None) -> str:
    """A message's text with its file's line after it (the line alone when the text is just the
    file's name, as it is without a caption)."""
    if file is None:
        return text
    line = file_line(file)
    return line if text == file.name or not text else f"{text}\n{line}"
