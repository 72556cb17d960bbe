# Benchmarks (issue 3): `make bench` runs the load tester's standard set end to end and writes
# BENCHMARKS.md. The tool is the workspace package loadtest/ (`npx stateward-loadtest --help`).

# Short runs keep the whole set near 10 minutes on 2 cores; the numbers say so in BENCHMARKS.md.
BENCH_ARGS ?= --duration 10s --warmup 2s --in-flight 32 --channels 2
BENCH_OUT ?= .bench/latest
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: bench bench-tools

# The load tester's dependencies are part of the install too.
$(NPM_STAMP): loadtest/package.json

bench-tools: ## Install the benchmark peers from Debian if missing: redis-server, h2load (nghttp2-client)
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v h2load >/dev/null || missing="$$missing nghttp2-client"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

# BENCH_ONLY=tls (or tls,pipeline, ...): only those groups of the suite (stateward-loadtest suite
# --only); the summary then goes to $(BENCH_OUT)/BENCHMARKS.md, not over the whole run's BENCHMARKS.md.
# BENCH_ONLY=durability (issue 15) fills, restarts and snapshots 1 M sessions of 1 KiB in a temporary
# data directory (a few GiB of disk, removed afterwards); add --durability-sessions N to BENCH_ARGS
# for a smaller run.
BENCH_ONLY ?=

# The memory-regression group (issue 14: the memory backend within 5 % of the commit before the
# Redis work) runs this build's server against a reference build of BENCH_REF: its tree from
# `git archive` (no worktree to register or clean up), npm ci and build, cached per commit under
# .bench/reference/<sha> (git-ignored, and skipped by the repository walks as .bench/ is).
BENCH_REF ?= bdc8c93
BENCH_REF_SHA = $(shell git rev-parse --verify --quiet '$(BENCH_REF)^{commit}')
BENCH_REF_DIR = .bench/reference/$(BENCH_REF_SHA)
comma := ,
BENCH_NEEDS_REF := $(if $(strip $(BENCH_ONLY)),$(filter memory-regression,$(subst $(comma), ,$(BENCH_ONLY))),yes)
BENCH_REF_ARGS = $(if $(BENCH_NEEDS_REF),--reference-cli $(BENCH_REF_DIR)/server/dist/cli.js)

.PHONY: bench-reference bench-memory-regression bench-go-check

# The go-caller group (issue 16) builds the load tester's Go driver (loadtest/go) with the `go` on
# PATH: checked up front, so that a missing Go stops the bench at once with what to do, not after
# the other groups. In loadtest/go the go command may switch to the toolchain its go.mod names.
GO_DRIVER_MIN := $(shell sed -n 's/^go //p' loadtest/go/go.mod)
BENCH_NEEDS_GO := $(if $(strip $(BENCH_ONLY)),$(filter go-caller,$(subst $(comma), ,$(BENCH_ONLY))),yes)

bench-go-check:
	@have=$$(cd loadtest/go && go env GOVERSION 2>/dev/null | sed 's/^go//'); \
	if [ -z "$$have" ]; then echo "Go >= $(GO_DRIVER_MIN) is needed for the bench's go-caller group (it builds loadtest/go): go is not on PATH (https://go.dev/dl/ or your distribution's golang package), or leave the group out with BENCH_ONLY"; exit 1; fi; \
	$(call version_at_least,$$have,$(GO_DRIVER_MIN)) || { echo "Go >= $(GO_DRIVER_MIN) is needed for the bench's go-caller group (go-redis v9.23 asks for it): found go $$have at $$(command -v go)"; exit 1; }

bench-reference: ## Build the reference server of BENCH_REF (default bdc8c93) into .bench/reference/<sha>, once
	@sha='$(BENCH_REF_SHA)'; [ -n "$$sha" ] || { echo "BENCH_REF=$(BENCH_REF) is not a commit of this repository"; exit 1; }; \
	dir=.bench/reference/$$sha; \
	if [ -f "$$dir/.built" ]; then echo "reference build of $(BENCH_REF): $$dir (cached)"; exit 0; fi; \
	echo "building the reference server of $(BENCH_REF) ($$sha) in $$dir"; \
	rm -rf "$$dir" "$$dir.partial" && mkdir -p "$$dir.partial" && \
	git archive "$$sha" | tar -x -C "$$dir.partial" && \
	( cd "$$dir.partial" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build ) && \
	touch "$$dir.partial/.built" && mv "$$dir.partial" "$$dir"

bench: build bench-tools $(if $(BENCH_NEEDS_GO),bench-go-check) $(if $(BENCH_NEEDS_REF),bench-reference) ## Run the standard benchmark set (about 30 min: 5 of them the peers group, 2 the go-caller group) and write BENCHMARKS.md (BENCH_ONLY=tls: some groups)
ifeq ($(strip $(BENCH_ONLY)),)
	node loadtest/bin/stateward-loadtest.mjs suite $(BENCH_ARGS) --out $(BENCH_OUT) --progress $(BENCH_REF_ARGS) \
	  --markdown BENCHMARKS.md --findings loadtest/bench-findings.md
	npx tsx server/tools/measure-tracing-overhead.ts --seconds 8 --warmup 3 --rounds 2 --markdown BENCHMARKS.md
else
	node loadtest/bin/stateward-loadtest.mjs suite $(BENCH_ARGS) --only $(BENCH_ONLY) --out $(BENCH_OUT) --progress $(BENCH_REF_ARGS) \
	  --markdown $(BENCH_OUT)/BENCHMARKS.md
endif

bench-memory-regression: ## The memory backend of this build against BENCH_REF's alone (make bench BENCH_ONLY=memory-regression)
	$(MAKE) bench BENCH_ONLY=memory-regression
