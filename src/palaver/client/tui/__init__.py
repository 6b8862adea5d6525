"""``palaver chat`` as a full-screen Textual app (``palaver chat --plain``: the line mode).

:mod:`~palaver.client.tui.model` is the pure view model (conversations, unread counts, members,
the connection status); :mod:`~palaver.client.tui.app` is the Textual view over it and a
:class:`~palaver.client.resilient.ResilientClient`. Importing this package loads no Textual.
"""
