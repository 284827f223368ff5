# Statehouse: `make run` serves on an embedded SQLite database, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
BUF := node_modules/.bin/buf
TSC := node_modules/.bin/tsc
# The released contract: buf breaking (FILE) compares protos/ with it in make lint.
CONTRACT := api/statehouse.v1.binpb
ADDRESS ?= 127.0.0.1:50051
# make run also serves HTTP here: Connect (JSON, binary) for curl and browsers, and the console.
HTTP_ADDRESS ?= 127.0.0.1:8080
# make test runs the tests in this many processes (pytest-xdist); 1: in this one.
TEST_WORKERS ?= 4
# A crashed worker (one the tests' watchdog ended) fails the run: pytest-xdist 3.8 would
# replace it and then, with --dist loadgroup, wait forever (its issues 1323 and 1327).
PYTEST := $(BIN)/pytest $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --max-worker-restart 0)

# Go in GOPATH mode with Debian's packages (no module proxy): .gopath links this checkout
# as github.com/statehouse/statehouse; GO_ENV is what a Go program of yours needs too.
GOPATH_DIR := .gopath
GO_ENV := GO111MODULE=off GOPATH=$(CURDIR)/$(GOPATH_DIR):/usr/share/gocode
GO_PACKAGES := github.com/statehouse/statehouse/gen/go/statehouse/v1 \
	github.com/statehouse/statehouse/client/go/statehouse \
	github.com/statehouse/statehouse/client/go/examples/hello

.PHONY: help venv node js-client go go-protos run test test-fast unit integration lint breaking format protos java-protos java generate docs contract-snapshot bench console screenshots clean

help:
	@echo "make run          create the environment and serve gRPC on $(ADDRESS), HTTP on $(HTTP_ADDRESS) (SQLite in ./data)"
	@echo "make test         create the environments, lint, type-check and run every test"
	@echo "make test-fast    the inner loop: no slow, PostgreSQL or browser tests, no lint (SQLite only)"
	@echo "make venv         create .venv and install the package with its dev tools"
	@echo "make node         install the repository's Node tools (buf, tsc) in node_modules"
	@echo "make js-client    compile the JavaScript client (client/ts/src, gen) into client/ts/lib, committed"
	@echo "make go           build and vet the Go client (client/go; Debian's golang-go, see client/go/README.md)"
	@echo "make go-protos    regenerate the Go package gen/go/statehouse/v1 from protos/"
	@echo "make unit         the unit tests only"
	@echo "make integration  the integration tests only (real servers, PostgreSQL, Node)"
	@echo "make lint         buf lint, buf format, buf breaking, ruff, mypy, tsc"
	@echo "make breaking     buf breaking against the contract snapshot (and main, on a branch)"
	@echo "make format       apply buf format and ruff's fixes and format"
	@echo "make protos       regenerate client/src/statehouse/v1 from protos/"
	@echo "make java-protos  regenerate client/java/gen from protos/ (Debian's protoc and grpc-java plugin)"
	@echo "make java         compile the Java client and its tests with javac into client/java/build"
	@echo "make generate     buf generate: the Python stubs and the TypeScript types (client/ts/gen), then make js-client"
	@echo "make docs         regenerate docs/api.md from the proto comments"
	@echo "make contract-snapshot  accept the current protos as the contract buf breaking checks against"
	@echo "make bench        measure the service against a plain echo server (BENCH_ARGS=...)"
	@echo "make console      generate console/src/rules.gen.ts and build the web console into server/src/statehouse/server/web/static"
	@echo "make screenshots  the console's screenshots in docs/ (headless Chromium, a real server)"
	@echo "make clean        remove the environments, caches and ./data"

# Both distributions, editable (client/ and server/), with the development group of
# ./pyproject.toml. (Before they were split, this checkout was one distribution,
# "statehouse": an environment made then drops it first.)
$(VENV)/.installed: pyproject.toml client/pyproject.toml server/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip uninstall --quiet --yes statehouse 2>/dev/null || true
	$(PY) -m pip install --quiet -e ./client -e './server[postgres]' --group dev
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.installed
node: node_modules/.installed

# The JavaScript client as Node runs it: lib/ is committed (a test compiles it
# again and compares), so nobody who uses the client has a build step. Its
# packages are the root's (make node), which it finds from client/ts.
js-client: node
	rm -rf client/ts/lib
	$(TSC) -p client/ts/tsconfig.build.json

go:
	$(PYTHON) tools/gen_go_protos.py --gopath $(GOPATH_DIR)
	$(GO_ENV) go build $(GO_PACKAGES)
	$(GO_ENV) go vet $(GO_PACKAGES)

go-protos:
	$(PYTHON) tools/gen_go_protos.py

run: venv
	$(BIN)/statehouse serve --address $(ADDRESS) --http-address $(HTTP_ADDRESS)

lint: venv node breaking
	$(BUF) lint
	$(BUF) format --diff --exit-code
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(TSC) -p client/ts
	$(TSC) -p console

# FILE-level compatibility with the committed contract; on a branch other than
# main, with main's protos as well.
breaking: node
	$(BUF) breaking --against $(CONTRACT)
	@if git rev-parse --verify --quiet refs/heads/main >/dev/null \
		&& [ "$$(git rev-parse HEAD)" != "$$(git rev-parse refs/heads/main)" ]; then \
		echo "$(BUF) breaking --against '.git#branch=main'"; \
		$(BUF) breaking --against '.git#branch=main'; \
	fi

format: venv node
	$(BUF) format -w
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(PYTEST)

# The inner loop: everything but the slow tests, PostgreSQL and the browser (SQLite only).
test-fast: venv node
	$(PYTEST) -m "not slow and not postgres and not browser"

unit: venv node
	$(PYTEST) tests/unit

integration: venv node
	$(PYTEST) tests/integration

protos: venv
	$(PY) tools/gen_protos.py

# The Java classes: Debian's protoc (the release of its protobuf-java jar) and grpc-java plugin.
java-protos: venv
	$(PY) tools/gen_java.py

# The Java client: javac against the jars Debian installs (client/java/README.md), no Maven.
java:
	bash client/java/build.sh

# Every SDK of buf.gen.yaml: the Python stubs (identical to make protos) and TypeScript.
generate: venv node
	rm -f client/src/statehouse/v1/*_pb2*
	rm -rf client/ts/gen
	$(BUF) generate
	$(MAKE) js-client

docs: venv
	$(PY) tools/gen_api_docs.py
	$(PY) tools/gen_serve_options.py

# Run deliberately, after review: a change that buf breaking rejects breaks clients.
contract-snapshot: node
	$(BUF) build --exclude-source-info -o $(CONTRACT)

bench: venv
	$(PY) bench/run.py $(BENCH_ARGS)

# The built console is committed (a test fails when it is stale): rebuild after editing console/.
# console/src/rules.gen.ts comes from the server's lifecycle rules (the buttons a state offers).
console: venv node
	$(PY) tools/gen_console_rules.py
	node console/build.mjs

# Committed artifacts, so not part of make test: docs/console-list.png and docs/console-execution.png.
screenshots: venv node
	STATEHOUSE_SCREENSHOTS=docs $(BIN)/pytest tests/browser/test_console.py -k screenshots

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache data $(GOPATH_DIR)
