# Stateward: the two commands are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM_STAMP := node_modules/.install-stamp
PROTO_FILES := $(shell find proto -name '*.proto')
# The generated TypeScript lives in the protocol package, shared by the SDK, the server and the tools.
GEN_DIR := protocol/src/gen
# Each area (benchmarks, polyglot clients) adds its targets in mk/<area>.mk and appends to these.
TEST_EXTRA :=
PROTO_EXTRA :=
PROTO_CHECK_EXTRA :=
-include $(wildcard mk/*.mk)

.PHONY: help install build run test test-ts test-ts-types test-ts-consumer lint typecheck proto proto-ts proto-check proto-check-ts proto-lint proto-breaking proto-baseline clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

$(NPM_STAMP): package.json package-lock.json protocol/package.json client/ts/package.json server/package.json
	npm ci --no-audit --no-fund
	@touch $@

install: $(NPM_STAMP) ## Install npm dependencies (npm ci) when the lock file changed

build: install ## Compile every workspace (npm run build: tsc -b, and the CLI made executable)
	npm run --silent build

run: build ## Serve on 127.0.0.1:42424 with the in-memory store (flags: make run ARGS="--port 50051")
	server/bin/stateward serve $(ARGS)

proto: proto-ts $(PROTO_EXTRA) ## Regenerate every committed stub from proto/

proto-ts: install ## Regenerate the committed TypeScript stubs
	rm -rf $(GEN_DIR)
	npx buf generate proto --template buf.gen.yaml

proto-check: proto-check-ts $(PROTO_CHECK_EXTRA) ## Fail if regenerating any stubs would change the committed ones

proto-check-ts: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  npx buf generate proto --template buf.gen.yaml -o "$$tmp" && \
	  diff -r "$$tmp/$(GEN_DIR)" $(GEN_DIR) && echo "generated code is up to date"

proto-lint: install ## buf lint
	npx buf lint proto

proto-breaking: install ## buf breaking against the committed contract baseline
	npx buf breaking proto --against proto/breaking-baseline.binpb

proto-baseline: install ## Record the current contract as the breaking-change baseline (deliberate step)
	npx buf build proto -o proto/breaking-baseline.binpb

lint: install proto-lint proto-breaking ## ESLint (warnings fail) and buf checks
	npx eslint --max-warnings 0 .

typecheck: build ## tsc for sources and tests, no emit for tests
	npx tsc -p tsconfig.test.json --noEmit

test: toolchain-check install lint typecheck proto-check test-ts test-ts-types test-ts-consumer $(TEST_EXTRA) ## Everything CI runs: lint, types, generated code, all tests

test-ts: build ## The TypeScript test suites (mocha; the fault suite runs the built server as a process)
	npx mocha

test-ts-types: install ## Type tests of the TypeScript SDK's public API (tstyche)
	npm run --silent -w client/ts test:types

test-ts-consumer: build ## npm pack the SDK, install it into a fresh project, type-check and run a program against a real server
	npm run --silent -w client/ts test:consumer

clean: ## Remove build output
	rm -rf server/dist client/ts/dist protocol/dist
