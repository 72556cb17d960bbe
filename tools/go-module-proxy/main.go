// Command go-module-proxy publishes one version of a Go module into a directory laid out as a
// GOPROXY (https://go.dev/ref/mod#goproxy-protocol), so that
//
//	GOPROXY=file:///path/to/dir,https://proxy.golang.org go get <module>@<version>
//
// works before the module is published. It writes <dir>/<escaped module path>/@v/ with
// <version>.info, <version>.mod, <version>.zip and list (every version in that directory).
//
// The zip is built by golang.org/x/mod/zip, the code the go command itself uses, so it has the
// module@version/ prefix, no vendor directory or nested modules, and passes the go command's
// checks. Its files are those git does not ignore (tracked or new), with their working-tree
// content: build output and tool binaries in the module directory stay out, as they would from a
// tagged commit.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "the module's directory (holds go.mod)")
	version := flag.String("version", "", "the version to publish, e.g. v0.1.0")
	out := flag.String("out", "", "the GOPROXY directory to write into")
	license := flag.String("license", "", "a LICENSE file to include when the module directory has none "+
		"(the go command does the same for a module in a subdirectory of its repository)")
	flag.Parse()
	if *dir == "" || *version == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := publish(*dir, *version, *out, *license); err != nil {
		fmt.Fprintln(os.Stderr, "go-module-proxy:", err)
		os.Exit(1)
	}
}

func publish(dir, version, out, license string) error {
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	path := modfile.ModulePath(goMod)
	if path == "" {
		return fmt.Errorf("%s/go.mod has no module line", dir)
	}
	if semver.Canonical(version) != version {
		return fmt.Errorf("version %q is not a canonical semantic version (vMAJOR.MINOR.PATCH)", version)
	}
	m := module.Version{Path: path, Version: version}
	// Checks the path and that the major version matches its /vN suffix.
	if err := module.Check(m.Path, m.Version); err != nil {
		return err
	}
	files, err := moduleFiles(dir, license)
	if err != nil {
		return err
	}
	stamp, err := commitTime(dir)
	if err != nil {
		return err
	}

	escapedPath, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	escapedVersion, err := module.EscapeVersion(m.Version)
	if err != nil {
		return err
	}
	versions := filepath.Join(out, filepath.FromSlash(escapedPath), "@v")
	if err := os.MkdirAll(versions, 0o755); err != nil {
		return err
	}
	var archive bytes.Buffer
	if err := modzip.Create(&archive, m, files); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    string
	}{m.Version, stamp.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	base := filepath.Join(versions, escapedVersion)
	for name, content := range map[string][]byte{".zip": archive.Bytes(), ".mod": goMod, ".info": info} {
		if err := os.WriteFile(base+name, content, 0o644); err != nil {
			return err
		}
	}
	// The archive as the go command will read it: a failure here is one go get would report.
	if _, err := modzip.CheckZip(m, base+".zip"); err != nil {
		return err
	}
	return writeList(versions)
}

// writeList lists every version whose .info is in the directory, in semver order.
func writeList(versions string) error {
	entries, err := os.ReadDir(versions)
	if err != nil {
		return err
	}
	var list []string
	for _, e := range entries {
		if v, ok := strings.CutSuffix(e.Name(), ".info"); ok {
			list = append(list, v)
		}
	}
	sort.Slice(list, func(i, j int) bool { return semver.Compare(list[i], list[j]) < 0 })
	return os.WriteFile(filepath.Join(versions, "list"), []byte(strings.Join(list, "\n")+"\n"), 0o644)
}

// moduleFiles lists the files git would commit in dir (tracked, or new and not ignored).
func moduleFiles(dir, license string) ([]modzip.File, error) {
	listed, err := exec.Command("git", "-C", dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files in %s: %w", dir, err)
	}
	var files []modzip.File
	hasLicense := false
	for _, name := range strings.Split(string(listed), "\x00") {
		if name == "" {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(name))
		// A tracked file deleted in the working tree is not part of the module any more.
		if _, err := os.Lstat(full); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if name == "LICENSE" {
			hasLicense = true
		}
		files = append(files, diskFile{path: name, file: full})
	}
	if !hasLicense && license != "" {
		if _, err := os.Stat(license); err == nil {
			files = append(files, diskFile{path: "LICENSE", file: license})
		}
	}
	return files, nil
}

// commitTime is the time of the last commit that touched dir: the same archive gets the same
// .info on every build.
func commitTime(dir string) (time.Time, error) {
	out, err := exec.Command("git", "-C", dir, "log", "-1", "--format=%cI", "--", ".").Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("git log in %s: %w", dir, err)
	}
	stamp := strings.TrimSpace(string(out))
	if stamp == "" {
		return time.Now(), nil
	}
	return time.Parse(time.RFC3339, stamp)
}

// diskFile is a file of the module: path inside the module, file on disk.
type diskFile struct{ path, file string }

func (f diskFile) Path() string                 { return f.path }
func (f diskFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.file) }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.file) }
