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
BENCH_ONLY ?=

bench: build bench-tools ## Run the standard benchmark set (about 12 min) and write BENCHMARKS.md (BENCH_ONLY=tls: some groups)
ifeq ($(strip $(BENCH_ONLY)),)
	node loadtest/bin/stateward-loadtest.mjs suite $(BENCH_ARGS) --out $(BENCH_OUT) --progress \
	  --markdown BENCHMARKS.md --findings loadtest/bench-findings.md
	npx tsx server/tools/measure-tracing-overhead.ts --seconds 8 --warmup 3 --rounds 2 --markdown BENCHMARKS.md
else
	node loadtest/bin/stateward-loadtest.mjs suite $(BENCH_ARGS) --only $(BENCH_ONLY) --out $(BENCH_OUT) --progress \
	  --markdown $(BENCH_OUT)/BENCHMARKS.md
endif
