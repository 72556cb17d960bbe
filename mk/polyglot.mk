# Polyglot clients (issue 6): the Python package client/python (stateward-client), the Go module
# client/go, the shared partitioning vectors and the three-language interop scenario.
# Everything installs itself: pip packages into client/python/.venv, the Go protoc plugins into
# client/go/.bin (go install), Go modules through the module proxy; protoc is grpcio-tools' own for
# Python and buf (from node_modules) for Go. Included by the root Makefile.

PYTHON ?= python3
PY_DIR := client/python
PY_VENV := $(PY_DIR)/.venv
PY := $(PY_VENV)/bin/python
PY_STAMP := $(PY_VENV)/.install-stamp
# A fresh environment per run, where only the built wheel (and pytest) is installed.
PY_TEST_VENV := $(PY_DIR)/.venv-wheel
PYTEST_VERSION := 9.2.0
GO_DIR := client/go
GO_BIN := $(abspath $(GO_DIR)/.bin)
# protoc-gen-go must match google.golang.org/protobuf in client/go/go.mod.
PROTOC_GEN_GO_VERSION := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GO_TOOLS_STAMP := $(GO_DIR)/.bin/.stamp-$(PROTOC_GEN_GO_VERSION)-$(PROTOC_GEN_GO_GRPC_VERSION)

TEST_EXTRA += test-polyglot
PROTO_EXTRA += proto-python proto-go
PROTO_CHECK_EXTRA += proto-check-python proto-check-go

.PHONY: polyglot-tools proto-python proto-go proto-check-python proto-check-go test-polyglot \
	test-python test-go test-interop wheel-python partitioning-vectors

$(PY_STAMP): $(PY_DIR)/requirements-dev.txt | check-python
	$(PYTHON) -m venv $(PY_VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r $(PY_DIR)/requirements-dev.txt
	@touch $@

$(GO_TOOLS_STAMP): | check-go
	@rm -f $(GO_DIR)/.bin/.stamp-*
	GOBIN=$(GO_BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GO_BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@

polyglot-tools: $(PY_STAMP) $(GO_TOOLS_STAMP) ## Install the Python venv and the Go protoc plugins

proto-python: $(PY_STAMP) ## Regenerate the committed Python stubs (grpcio-tools, with .pyi)
	$(PY) $(PY_DIR)/tools/generate.py $(PY_DIR)/src

proto-go: install $(GO_TOOLS_STAMP) ## Regenerate the committed Go stubs (buf + protoc-gen-go/-go-grpc)
	rm -rf $(GO_DIR)/statewardv1
	npx buf generate --template buf.gen.go.yaml

proto-check-python: $(PY_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(PY) $(PY_DIR)/tools/generate.py "$$tmp" && \
	  diff -r -x __pycache__ "$$tmp/stateward_client/_gen" $(PY_DIR)/src/stateward_client/_gen && \
	  echo "generated Python code is up to date"

proto-check-go: install $(GO_TOOLS_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  npx buf generate --template buf.gen.go.yaml -o "$$tmp" && \
	  diff -r "$$tmp/$(GO_DIR)/statewardv1" $(GO_DIR)/statewardv1 && \
	  echo "generated Go code is up to date"

partitioning-vectors: $(PY_STAMP) ## Rewrite proto/partitioning-vectors.json (changes the routing spec!)
	PYTHONPATH=$(PY_DIR)/src $(PY) $(PY_DIR)/tools/gen_partitioning_vectors.py proto/partitioning-vectors.json

wheel-python: $(PY_STAMP) ## Build the stateward-client wheel into client/python/dist
	rm -rf $(PY_DIR)/dist $(PY_DIR)/build
	$(PY) -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps -w $(PY_DIR)/dist $(PY_DIR)

# The wheel goes into a fresh venv; the tests import it from there, never from src/.
test-python: build wheel-python | check-python ## Python: build the wheel, install it in a fresh venv, pytest against a real server
	rm -rf $(PY_TEST_VENV)
	$(PYTHON) -m venv $(PY_TEST_VENV)
	$(PY_TEST_VENV)/bin/python -m pip install -q --disable-pip-version-check $(PY_DIR)/dist/*.whl pytest==$(PYTEST_VERSION)
	cd $(PY_DIR) && STATEWARD_REQUIRE_INSTALLED=1 .venv-wheel/bin/python -m pytest -q -p no:cacheprovider tests

test-go: build | check-go ## Go: gofmt, go vet, go test against a real server; vet and unit tests of the load tester's Go driver
	@cd $(GO_DIR) && out=$$(gofmt -l .) && { [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }; }
	cd $(GO_DIR) && go vet ./... && go test -count=1 ./...
	cd interop/go && go vet ./...
	@cd loadtest/go && out=$$(gofmt -l .) && { [ -z "$$out" ] || { echo "gofmt needed in loadtest/go: $$out"; exit 1; }; }
	cd loadtest/go && go vet ./... && go test -count=1 ./...

test-interop: build test-python ## One scenario from Python, Go and TypeScript against one server
	npx tsc -p interop/ts/tsconfig.json
	$(PY_TEST_VENV)/bin/python interop/run_interop.py

test-polyglot: test-python test-go test-interop ## Python, Go and interop suites
