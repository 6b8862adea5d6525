"""Sans-I/O protocol code: framing, wire messages, codecs. No sockets, no clocks."""
