# Deployment recipes (issue 12): the systemd unit and the container image in deploy/.
#
# `systemd-analyze verify` needs ExecStart to name an existing executable, so it checks a copy of the
# unit whose ExecStart points at this checkout's server/bin/stateward instead of /opt/stateward (the
# only line that differs); any output at all fails, since verify reports unknown or misspelt
# directives as warnings with exit status 0. `systemd-analyze security --offline=yes` then fails if
# the sandbox's exposure rises above 2.0 (it is 1.2). Without systemd-analyze both are skipped, loudly.
# Docker is not needed: the Containerfile is checked statically by the mocha suite
# (server/test/deploy-files.test.ts), and its runtime stage is rehearsed on this machine by
# test-deploy-container: the same files copied into a temporary root, the server started from
# ENTRYPOINT and CMD, and the HEALTHCHECK command run against it.

SYSTEMD_ANALYZE ?= $(shell command -v systemd-analyze)
UNIT_EXPOSURE_MAX := 20

TEST_EXTRA += test-deploy

.PHONY: test-deploy test-deploy-unit test-deploy-container

test-deploy: test-deploy-unit test-deploy-container ## Check deploy/: the systemd unit (systemd-analyze) and the container recipe's runtime stage

test-deploy-unit:
	@if [ -z "$(SYSTEMD_ANALYZE)" ]; then echo "systemd-analyze not found: skipping the check of deploy/stateward.service"; exit 0; fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	sed 's#^ExecStart=/opt/stateward/#ExecStart=$(CURDIR)/#' deploy/stateward.service > "$$tmp/stateward.service" && \
	grep -q '^ExecStart=$(CURDIR)/server/bin/stateward ' "$$tmp/stateward.service" && \
	out=$$($(SYSTEMD_ANALYZE) verify --man=no "$$tmp/stateward.service" 2>&1) && [ -z "$$out" ] || \
	  { echo "systemd-analyze verify deploy/stateward.service failed:"; echo "$$out"; exit 1; }; \
	sec=$$($(SYSTEMD_ANALYZE) security --offline=yes --threshold=$(UNIT_EXPOSURE_MAX) --no-pager "$$tmp/stateward.service" 2>&1); \
	status=$$?; echo "$$sec" | tail -1; \
	[ $$status -eq 0 ] || { echo "deploy/stateward.service: sandbox exposure above the limit ($(UNIT_EXPOSURE_MAX) = 2.0):"; echo "$$sec" | grep '✗'; exit 1; }; \
	echo "deploy/stateward.service: systemd-analyze verify and security pass"

test-deploy-container: build
	npx mocha --no-config --require tsx/cjs --extension ts --timeout 180000 server/test/deploy/container-rehearsal.ts
