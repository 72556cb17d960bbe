# Soak (not part of `make test`): `make soak` drives 30 minutes of mixed load through the TypeScript
# SDK against a server started from its CLI on 127.0.0.1, samples it every second, and fails if its
# RSS keeps growing, a session is left locked, or the server dies. Options: SOAK_ARGS, e.g.
# `make soak SOAK_ARGS="--duration 3m"`; every option: `node loadtest/bin/stateward-loadtest.mjs soak --help`.
SOAK_ARGS ?=
SOAK_OUT ?= .bench/soak

.PHONY: soak

soak: build ## Soak: 30 min of mixed load, fails on RSS growth, leftover locks or a dead server (SOAK_ARGS="--duration 3m")
	node loadtest/bin/stateward-loadtest.mjs soak --out $(SOAK_OUT) --progress --markdown BENCHMARKS.md $(SOAK_ARGS)
