package main

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// A module in a subdirectory of a git repository, with what must stay out of its zip: a file git
// ignores, a nested module, and a vendor directory.
func newRepo(t *testing.T) (repo, moduleDir string) {
	t.Helper()
	repo = t.TempDir()
	moduleDir = filepath.Join(repo, "client", "go")
	files := map[string]string{
		"LICENSE":                        "MIT\n",
		"client/go/go.mod":               "module example.com/repo/client/go\n\ngo 1.24.0\n",
		"client/go/.gitignore":           ".bin/\n",
		"client/go/pkg/pkg.go":           "package pkg\n",
		"client/go/.bin/tool":            "binary",
		"client/go/nested/go.mod":        "module example.com/repo/client/go/nested\n",
		"client/go/nested/nested.go":     "package nested\n",
		"client/go/vendor/modules.txt":   "",
		"client/go/vendor/x/y/vendor.go": "package y\n",
	}
	for name, content := range files {
		path := filepath.Join(repo, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init", "--date", "2026-01-02T03:04:05Z"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return repo, moduleDir
}

func TestPublishWritesTheProxyLayout(t *testing.T) {
	repo, moduleDir := newRepo(t)
	out := t.TempDir()
	// A file added after the commit, not ignored: part of the module as the working tree has it.
	if err := os.WriteFile(filepath.Join(moduleDir, "pkg", "new.go"), []byte("package pkg\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v0.10.0", "v0.2.0"} {
		if err := publish(moduleDir, v, out, filepath.Join(repo, "LICENSE")); err != nil {
			t.Fatal(err)
		}
	}
	versions := filepath.Join(out, "example.com", "repo", "client", "go", "@v")

	list, err := os.ReadFile(filepath.Join(versions, "list"))
	if err != nil {
		t.Fatal(err)
	}
	if string(list) != "v0.2.0\nv0.10.0\n" {
		t.Errorf("list = %q, want both versions in semver order", list)
	}

	var info struct{ Version, Time string }
	raw, err := os.ReadFile(filepath.Join(versions, "v0.2.0.info"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "v0.2.0" || info.Time != "2026-01-02T03:04:05Z" {
		t.Errorf("info = %+v, want the version and the last commit's time", info)
	}

	mod, err := os.ReadFile(filepath.Join(versions, "v0.2.0.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if string(mod) != "module example.com/repo/client/go\n\ngo 1.24.0\n" {
		t.Errorf(".mod = %q, want the module's go.mod", mod)
	}

	archive, err := zip.OpenReader(filepath.Join(versions, "v0.2.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	var names []string
	for _, f := range archive.File {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	want := []string{
		"example.com/repo/client/go@v0.2.0/.gitignore",
		"example.com/repo/client/go@v0.2.0/LICENSE",
		"example.com/repo/client/go@v0.2.0/go.mod",
		"example.com/repo/client/go@v0.2.0/pkg/new.go",
		"example.com/repo/client/go@v0.2.0/pkg/pkg.go",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("zip holds %q,\nwant %q (no ignored files, nested module or vendor)", names, want)
	}
}

func TestPublishRefusesBadVersions(t *testing.T) {
	_, moduleDir := newRepo(t)
	for _, v := range []string{"0.1.0", "v0.1", "v2.0.0"} {
		if err := publish(moduleDir, v, t.TempDir(), ""); err == nil {
			t.Errorf("publish(%q) succeeded; want an error (not canonical, or a major version without /v2)", v)
		}
	}
}
