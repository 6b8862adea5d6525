# palaver: the two commands of the quick start, and a few more.
#   make serve   set up (first time) and run the server on its embedded defaults
#   make test    set up (first time) and run the whole test suite: lint, types, tests
#   make bench   set up and run the benchmarks
#   make irctest run the IRC conformance suite (irctest) against the IRC door (docs/irc.md);
#                fetches irctest the first time, so it is not part of make test

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium
# tests/integration/test_irc_real_clients.py drives these commands (Debian packages in IRC_PACKAGES).
IRC_CLIENTS  := irssi weechat tmux
IRC_PACKAGES := irssi weechat-curses tmux
# The PostgreSQL store's tests start their own server from Debian's postgresql (tests/pg_server.py);
# the Redis bus's will use redis-server.
SERVER_PACKAGES := postgresql redis-server

.PHONY: serve test bench irctest lint typecheck schema clean browser irc-clients servers

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"palaver needs Python 3.11 or newer; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/palaver serve $(ARGS)

test: $(STAMP) browser irc-clients servers lint typecheck
	$(BIN)/python -m pytest -q

# The web client's tests drive Debian's chromium (Playwright never downloads a browser here).
browser:
	@if [ ! -x $(CHROMIUM) ] && command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "warning: $(CHROMIUM) is missing and we cannot install it (not root, no sudo);" \
			"the browser tests will be skipped"; exit 0; fi; \
		echo "installing chromium for the browser tests"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
			{ $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } || \
			echo "warning: could not install chromium; the browser tests will be skipped"; \
	fi

# The IRC door's real-client tests drive Debian's irssi and WeeChat inside tmux.
irc-clients:
	@missing=; for c in $(IRC_CLIENTS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "warning:$$missing missing and we cannot install them (not root, no sudo);" \
			"the real IRC client tests will be skipped"; exit 0; fi; \
		echo "installing $(IRC_PACKAGES) for the real IRC client tests ($$missing missing)"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(IRC_PACKAGES) || \
			{ $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(IRC_PACKAGES); } || \
			echo "warning: could not install $(IRC_PACKAGES); the real IRC client tests will be skipped"; \
	fi

# PostgreSQL and Redis for the store and bus tests (skipped, saying why, when missing).
servers:
	@missing=; [ -n "$$(ls /usr/lib/postgresql/*/bin/postgres 2>/dev/null)" ] || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
		else echo "warning:$$missing missing and we cannot install them (not root, no sudo);" \
			"the PostgreSQL and Redis tests will be skipped"; exit 0; fi; \
		echo "installing$$missing for the PostgreSQL and Redis tests"; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || \
			{ $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; } || \
			echo "warning: could not install$$missing; the PostgreSQL and Redis tests will be skipped"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# The benchmarks' extra (matplotlib, for the sweep's chart) on top of the test setup.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks $(ARGS)

irctest: $(STAMP)
	tools/irctest/run $(ARGS)

schema: $(STAMP)
	$(BIN)/python -m palaver.protocol.schema --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
