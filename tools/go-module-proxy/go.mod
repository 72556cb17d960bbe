module github.com/stateward/stateward/tools/go-module-proxy

go 1.24.0

require golang.org/x/mod v0.30.0
