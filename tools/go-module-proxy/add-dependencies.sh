#!/bin/sh
# Makes a GOPROXY directory self-contained for one package of a module it holds: adds every module
# that `go get <package>@<version>`, `go mod tidy` and `go build` need in a fresh module, and the
# checksum database's records and tiles for them, fetched once here through the public proxy. Then
#   GOPROXY=file://<dir> GONOSUMDB=<module> go get <package>@<version>
# works offline, with every dependency still verified against the checksum database's records
# (only the unpublished module itself is exempt: the database does not know it).
#
# usage: add-dependencies.sh <proxy dir> <module> <package> <version>
set -eu
proxy=$(cd "$1" && pwd) module=$2 package=$3 version=$4
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir "$work/app" "$work/gopath"
cd "$work/app"
export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOFLAGS=-modcacherw GOWORK=off \
  GONOSUMDB="$module" GOPROXY="file://$proxy,https://proxy.golang.org"
go mod init example.com/dependencies >/dev/null 2>&1
go get "$package@$version"
printf 'package main\n\nimport _ "%s"\n\nfunc main() {}\n' "$package" > main.go
go mod tidy
go build -o /dev/null .
# The module cache's download directory is in the proxy's layout, sumdb/ included.
cp -R "$GOMODCACHE/cache/download/." "$proxy/"
find "$proxy" -name '*.lock' -delete
# A proxy that serves the checksum database says so; without this file go asks sum.golang.org.
touch "$proxy/sumdb/sum.golang.org/supported"
