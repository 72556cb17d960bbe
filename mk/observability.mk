# Observability (issue 12, item 6): the metrics endpoint follows Prometheus conventions, checked by
# promtool on a real scrape; the shipped alert rules and dashboard are checked against it.
# promtool comes from Debian's `prometheus` package, installed when missing.

SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PROMTOOL ?= promtool
ALERT_RULES := deploy/prometheus/stateward-alerts.yml
ALERT_TESTS := deploy/prometheus/stateward-alerts.test.yml

TEST_EXTRA += test-metrics-lint test-alert-rules

.PHONY: promtool test-metrics-lint test-alert-rules

promtool: ## Install promtool (Debian's prometheus package) if missing
	@command -v $(PROMTOOL) >/dev/null || { \
	  echo "installing promtool (Debian package prometheus)"; \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends prometheus; }

test-metrics-lint: build promtool ## promtool check metrics on a scrape of the built server after some traffic
	@out=$$(mktemp) && trap 'rm -f "$$out"' EXIT; \
	  npx tsx server/tools/scrape-metrics.ts > "$$out" || { echo "test-metrics-lint: scraping the server failed"; exit 1; }; \
	  report=$$($(PROMTOOL) check metrics < "$$out" 2>&1); status=$$?; \
	  if [ $$status -ne 0 ] || [ -n "$$report" ]; then echo "promtool check metrics (exit $$status):"; echo "$$report"; exit 1; fi; \
	  echo "promtool check metrics: $$(grep -c '^# TYPE' "$$out") metric families, no complaints"

test-alert-rules: promtool ## promtool check rules and promtool test rules on the shipped alert rules
	$(PROMTOOL) check rules $(ALERT_RULES)
	$(PROMTOOL) test rules $(ALERT_TESTS)
