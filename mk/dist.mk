# Release artifacts (issue 12): `make dist` builds into dist/ (git-ignored) what the client READMEs
# install until the packages are on their registries:
#   dist/stateward-client-<v>.tgz   npm pack, with @stateward/protocol <v> (not on npm either) bundled
#       inside it, so that it installs alone; dist/stateward-protocol-<v>.tgz, the protocol alone
#   dist/stateward_client-<v>-py3-none-any.whl, dist/stateward_client-<v>.tar.gz   python -m build
#   dist/goproxy/   the Go module and its dependencies as a GOPROXY directory (GOPROXY=file://…/dist/goproxy)
# One version for all: the root package.json's (tools/release/check-versions.ts checks the copies).
# `make test-dist` installs each into fresh projects outside the repository and runs the READMEs'
# code blocks against a real server (tools/doc-test). Included by the root Makefile.

DIST_DIR := dist
DIST_ABS := $(abspath $(DIST_DIR))
# mk/polyglot.mk's venv, spelled out: prerequisites are expanded as this file is read, before it.
DIST_PY_STAMP := client/python/.venv/.install-stamp
DIST_PY := client/python/.venv/bin/python

TEST_EXTRA += test-dist

.PHONY: dist dist-versions dist-npm dist-python dist-go test-dist clean-dist

dist: dist-npm dist-python dist-go ## Build the release artifacts into dist/: npm tarballs, Python wheel and sdist, Go module proxy
	@ls -1 $(DIST_DIR) && echo "Go module: $$(sed -n 's/^module //p' client/go/go.mod)@v$$(cat $(DIST_DIR)/.version) in $(DIST_DIR)/goproxy"

# The version every artifact carries, written for the recipes below.
dist-versions: install
	@mkdir -p $(DIST_DIR)
	@npx tsx tools/release/check-versions.ts > $(DIST_DIR)/.version

dist-npm: build dist-versions
	rm -f $(DIST_DIR)/stateward-*.tgz
	npm pack --silent -w protocol -w client/ts --pack-destination $(DIST_ABS) > /dev/null
	tools/release/bundle-client.sh $(DIST_DIR) $$(cat $(DIST_ABS)/.version)

dist-python: $(DIST_PY_STAMP) dist-versions
	rm -rf $(DIST_DIR)/stateward_client-* client/python/build
	$(DIST_PY) -m build -q --no-isolation --outdir $(DIST_DIR) client/python

# golang.org/x/mod/zip through a small Go program (tools/go-module-proxy); the root LICENSE goes
# into the module as the go command would put it into a subdirectory module's zip. Then its
# dependencies and their checksum records, so that the directory alone is enough as GOPROXY.
GO_MODULE := $(shell sed -n 's/^module //p' client/go/go.mod)
dist-go: dist-versions | check-go
	rm -rf $(DIST_DIR)/goproxy
	cd tools/go-module-proxy && go run . -dir ../../client/go -version v$$(cat $(DIST_ABS)/.version) \
	  -out $(DIST_ABS)/goproxy -license ../../LICENSE
	tools/go-module-proxy/add-dependencies.sh $(DIST_ABS)/goproxy $(GO_MODULE) $(GO_MODULE)/stateward v$$(cat $(DIST_ABS)/.version)

test-dist: dist build | check-go check-python ## Install dist/ into fresh projects outside the repository and run every README code block against a server
	@cd tools/go-module-proxy && out=$$(gofmt -l .) && { [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }; }
	cd tools/go-module-proxy && go vet ./... && go test -count=1 ./...
	npx mocha --no-config --require tsx/cjs --extension ts --timeout 600000 tools/doc-test/readme-blocks.e2e.ts
	@# The issue's form: the module path (not a package) with dist/goproxy as the only proxy.
	@tmp=$$(mktemp -d) && trap 'chmod -R u+w "$$tmp"; rm -rf "$$tmp"' EXIT && mkdir "$$tmp/app" && cd "$$tmp/app" && \
	  go mod init example.com/app >/dev/null 2>&1 && \
	  GOPATH="$$tmp/gopath" GOFLAGS=-modcacherw GOPROXY=file://$(DIST_ABS)/goproxy GONOSUMDB=$(GO_MODULE) \
	    go get $(GO_MODULE)@v$$(cat $(DIST_ABS)/.version) && \
	  echo "go get $(GO_MODULE)@v$$(cat $(DIST_ABS)/.version) with GOPROXY=file://dist/goproxy alone: ok"

clean: clean-dist
clean-dist:
	rm -rf $(DIST_DIR)
