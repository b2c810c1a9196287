// Package docs_test keeps the README and the manuals in docs/ true to the tree: the map of
// the code against `go list`, the paths and links they name, the fuzz targets, the
// benchmark's table.
package docs_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const root = ".."

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// between answers the text between two markers of a document, failing when they are missing.
func between(t *testing.T, doc, text, begin, end string) string {
	t.Helper()
	i := strings.Index(text, begin)
	if i < 0 {
		t.Fatalf("%s has no %q", doc, begin)
	}
	rest := text[i+len(begin):]
	j := strings.Index(rest, end)
	if j < 0 {
		t.Fatalf("%s has no %q after %q", doc, end, begin)
	}
	return rest[:j]
}

// goPackageDirs lists the module's package directories, relative to the root, for the native
// build and for js/wasm (wasm/cmd/bare and the like build only there), without what npm put
// under js/node_modules.
func goPackageDirs(t *testing.T) map[string]bool {
	t.Helper()
	dirs := map[string]bool{}
	for _, env := range [][]string{nil, {"GOOS=js", "GOARCH=wasm"}} {
		cmd := exec.Command("go", "list", "-e", "-f", "{{.Dir}}", "./...")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %v: %v", env, err)
		}
		abs, err := filepath.Abs(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range strings.Fields(string(out)) {
			rel, err := filepath.Rel(abs, dir)
			if err != nil {
				t.Fatal(err)
			}
			rel = filepath.ToSlash(rel)
			if strings.Contains(rel, "node_modules/") {
				continue
			}
			dirs[rel] = true
		}
	}
	return dirs
}

// The README's map names every Go package directory, and only directories that exist; a
// directory under one of the Go trees that it names holds a package or is the parent of one.
func TestReadmeMapMatchesGoList(t *testing.T) {
	block := between(t, "README.md", read(t, "README.md"), "<!-- map:", "<!-- end of map -->")
	named := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == ' ' || line[0] == '`' || strings.HasPrefix(line, "map:") {
			continue
		}
		entry := strings.Fields(line)[0]
		if !strings.HasSuffix(entry, "/") {
			continue
		}
		named[strings.TrimSuffix(entry, "/")] = true
	}
	if len(named) == 0 {
		t.Fatal("README.md's map names no directory")
	}
	pkgs := goPackageDirs(t)
	var missing, stray []string
	for dir := range pkgs {
		if dir == "." {
			continue // the module's root holds no package
		}
		if !named[dir] {
			missing = append(missing, dir+"/")
		}
	}
	for dir := range named {
		if info, err := os.Stat(filepath.Join(root, dir)); err != nil || !info.IsDir() {
			stray = append(stray, dir+"/ (no such directory)")
			continue
		}
		top, _, _ := strings.Cut(dir, "/")
		if top != "wasm" && top != "internal" && top != "demo" && top != "vocafuse" || pkgs[dir] {
			continue
		}
		parent := false
		for p := range pkgs {
			parent = parent || strings.HasPrefix(p, dir+"/")
		}
		if !parent {
			stray = append(stray, dir+"/ (no Go package in it)")
		}
	}
	sort.Strings(missing)
	sort.Strings(stray)
	if len(missing) > 0 {
		t.Errorf("README.md's map omits these Go package directories (go list ./...):\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stray) > 0 {
		t.Errorf("README.md's map names what is not a Go package directory:\n  %s", strings.Join(stray, "\n  "))
	}
}

// The documents to check: the README and every manual in docs/.
func documents(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"README.md"}
	for _, d := range docs {
		names = append(names, filepath.ToSlash(strings.TrimPrefix(d, root+string(filepath.Separator))))
	}
	return names
}

// A path of the tree named in backquotes (`wasm/delivery/policy.go`, `internal/audio`) exists.
var codePath = regexp.MustCompile("`((?:wasm|internal|demo|vocafuse|js)/[A-Za-z0-9_./-]*)`")

func TestNamedPathsExist(t *testing.T) {
	for _, doc := range documents(t) {
		for _, m := range codePath.FindAllStringSubmatch(read(t, doc), -1) {
			p := strings.TrimRight(m[1], "/.")
			if strings.ContainsAny(p, "*…") {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s names %s, which does not exist", doc, m[1])
			}
		}
	}
}

// Relative links lead to files that exist.
var link = regexp.MustCompile(`\]\(([^)#:\s]+)(?:#[^)]*)?\)`)

func TestRelativeLinksResolve(t *testing.T) {
	for _, doc := range documents(t) {
		for _, m := range link.FindAllStringSubmatch(read(t, doc), -1) {
			target := filepath.Join(root, filepath.Dir(doc), m[1])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s, which does not exist", doc, m[1])
			}
		}
	}
}

// fuzzFunctions finds every Fuzz function of the tree.
func fuzzFunctions(t *testing.T) map[string]bool {
	t.Helper()
	fuzz := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	inTree := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "build" || strings.HasPrefix(d.Name(), ".") && path != root) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzz.FindAllStringSubmatch(string(b), -1) {
			inTree[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return inTree
}

// docs/testing.md's fuzz table names every Fuzz function of the tree, and no other.
func TestFuzzTargetsListed(t *testing.T) {
	inTree := fuzzFunctions(t)
	table := between(t, "docs/testing.md", read(t, "docs/testing.md"), "## Fuzzing", "\n## ")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("`(Fuzz\\w+)`").FindAllStringSubmatch(table, -1) {
		listed[m[1]] = true
	}
	sameNames(t, inTree, listed, "docs/testing.md's fuzz table lacks %s", "docs/testing.md's fuzz table names %s, which no test defines")
}

// sameNames reports each name of want missing from have, and each of have not in want.
func sameNames(t *testing.T, want, have map[string]bool, missing, extra string) {
	t.Helper()
	for name := range want {
		if !have[name] {
			t.Errorf(missing, name)
		}
	}
	for name := range have {
		if !want[name] {
			t.Errorf(extra, name)
		}
	}
}

// docs/testing.md names every browser-test file, and none that is gone.
func TestBrowserTestFilesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "js", "test", "*.test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	doc := read(t, "docs/testing.md")
	for _, f := range files {
		if name := filepath.Base(f); !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/testing.md does not say what %s checks", name)
		}
	}
	for _, m := range regexp.MustCompile("`(?:test/)?([a-z0-9-]+\\.test\\.mjs)`").FindAllStringSubmatch(doc, -1) {
		if _, err := os.Stat(filepath.Join(root, "js", "test", m[1])); err != nil {
			t.Errorf("docs/testing.md names %s, which is not in js/test", m[1])
		}
	}
}

// The packed file the documents tell a user to install is the one make pack makes.
func TestPackedFileNamed(t *testing.T) {
	version := regexp.MustCompile(`"version":\s*"([^"]+)"`).FindStringSubmatch(read(t, "js/package/package.json"))
	if version == nil {
		t.Fatal("js/package/package.json has no version")
	}
	want := "vocafuse-recorder-" + version[1] + ".tgz"
	seen := false
	for _, doc := range documents(t) {
		for _, name := range regexp.MustCompile(`vocafuse-recorder-[0-9][^\s/)]*\.tgz`).FindAllString(read(t, doc), -1) {
			seen = true
			if name != want {
				t.Errorf("%s names %s; make pack makes %s", doc, name, want)
			}
		}
	}
	if !seen {
		t.Error("README.md names no packed file to install")
	}
}

// make test-fuzz runs every Fuzz function of the tree, and names none that is gone.
func TestFuzzTargetsRunInMake(t *testing.T) {
	recipe := between(t, "Makefile", read(t, "Makefile"), "\ntest-fuzz fuzz:", "\n\n")
	inMake := map[string]bool{}
	for _, m := range regexp.MustCompile(`-fuzz '\^(Fuzz\w+)\$\$'`).FindAllStringSubmatch(recipe, -1) {
		inMake[m[1]] = true
	}
	sameNames(t, fuzzFunctions(t), inMake, "make test-fuzz does not run %s", "make test-fuzz names %s, which no test defines")
}

// make bench writes its table between these markers (js/bench/browser.mjs): they stay, with
// a table between them.
func TestPerformanceTableMarkers(t *testing.T) {
	table := between(t, "docs/performance.md", read(t, "docs/performance.md"), "<!-- bench:begin -->", "<!-- bench:end -->")
	if !strings.Contains(table, "| figure") || !strings.Contains(table, "| ready, first load") {
		t.Errorf("docs/performance.md has no benchmark table between its markers:\n%s", table)
	}
}
