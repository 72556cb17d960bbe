# Observability (issue 12, item 6): the metrics endpoint follows Prometheus conventions, checked by
# promtool on a real scrape; the shipped alert rules and dashboard are checked against it.
# promtool comes from Debian's `prometheus` package, installed when missing.

SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# promtool is a static binary inside Debian's `prometheus` package. When it is not on PATH, the
# package is downloaded (not installed: installing would also enable and start a Prometheus server)
# and only promtool is unpacked into .tools/prometheus; `apt-get download` needs no root, only the
# package lists, which are refreshed (with root) if they do not know the package yet.
PROMTOOL_DIR := $(CURDIR)/.tools/prometheus
PROMTOOL ?= $(shell command -v promtool || echo $(PROMTOOL_DIR)/promtool)
ALERT_RULES := deploy/prometheus/stateward-alerts.yml
ALERT_TESTS := deploy/prometheus/stateward-alerts.test.yml

TEST_EXTRA += test-metrics-lint test-alert-rules

.PHONY: promtool test-metrics-lint test-alert-rules

promtool: ## Make promtool available: from PATH, or unpacked from Debian's prometheus package into .tools/prometheus
	@[ -x "$(PROMTOOL)" ] || { \
	  echo "fetching promtool (Debian package prometheus, unpacked into .tools/prometheus)"; \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	  { apt-get download prometheus 2>/dev/null || { $(SUDO) apt-get update -qq && apt-get download prometheus; }; } && \
	  dpkg-deb -x prometheus_*.deb unpacked && mkdir -p $(PROMTOOL_DIR) && \
	  install -m 0755 unpacked/usr/bin/promtool $(PROMTOOL_DIR)/promtool; }
	@"$(PROMTOOL)" --version 2>&1 | head -1

test-metrics-lint: build promtool ## promtool check metrics on a scrape of the built server after some traffic
	@out=$$(mktemp) && trap 'rm -f "$$out"' EXIT; \
	  npx tsx server/tools/scrape-metrics.ts > "$$out" || { echo "test-metrics-lint: scraping the server failed"; exit 1; }; \
	  report=$$($(PROMTOOL) check metrics < "$$out" 2>&1); status=$$?; \
	  if [ $$status -ne 0 ] || [ -n "$$report" ]; then echo "promtool check metrics (exit $$status):"; echo "$$report"; exit 1; fi; \
	  echo "promtool check metrics: $$(grep -c '^# TYPE' "$$out") metric families, no complaints"

test-alert-rules: promtool ## promtool check rules and promtool test rules on the shipped alert rules
	$(PROMTOOL) check rules $(ALERT_RULES)
	$(PROMTOOL) test rules $(ALERT_TESTS)
