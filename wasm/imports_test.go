//go:build !js

package wasm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vocafuse/recorder"

// allowedStd is every standard package the SDK's own packages may import. Each costs the
// wasm little, or is what the SDK is about (syscall/js). fmt is allowed: the error
// catalogue (catalog.Newf) and the glue format messages with it; its reflection is in
// the wasm anyway through safejs and uuid. A package missing here is refused until it is
// added, with its reason.
var allowedStd = []string{
	"bytes", "cmp", "encoding/base64", "encoding/binary", "errors", "fmt", "io", "iter", "maps", "math",
	"math/bits", "math/rand/v2", "os", "runtime", "slices", "strconv", "strings", "sync", "sync/atomic",
	"syscall/js", "time", "unicode/utf16", "unicode/utf8",
}

// allowedModules are the third-party modules the SDK's packages may import.
var allowedModules = []string{"github.com/hack-pad/safejs", "github.com/google/uuid"}

// forbidden names the imports that cost the wasm most, with the way the SDK does without.
// Some are in the graph through uuid; the linker keeps only what is used, so it is our
// own import that costs.
var forbidden = map[string]string{
	"net/http":      "the shim's fetch makes the requests",
	"net":           "the shim's fetch makes the requests",
	"regexp":        "hand-written scanning",
	"text/template": "string concatenation",
	"html/template": "string concatenation",
	"encoding/json": "the shim's JSON.parse, or delivery's scanner",
	"encoding/xml":  "delivery.StorageError's string functions",
	"reflect":       "type assertions (see the stand-in for errors.As)",
	"hash/crc32":    "audio's crcIEEE",
	"unicode":       "ASCII case by hand: unicode's tables are large",
}

// pkg is what the test reads of `go list -json`.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Module     *struct{ Path string }
}

// TestSDKImports fails when one of the SDK's own packages (this module's, in the wasm's
// import graph) imports a standard package outside allowedStd or a module outside
// allowedModules, naming the chain of imports from the SDK's main package to it.
func TestSDKImports(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go") // the toolchain that built this test
	}
	cmd := exec.Command(goCmd, "list", "-deps", "-json", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs, err := readPackages(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 2 || pkgs[len(pkgs)-1].ImportPath != module+"/wasm" {
		t.Fatalf("go list gave %d packages, not ending with the SDK's main package", len(pkgs))
	}
	for _, problem := range importProblems(pkgs, module+"/wasm") {
		t.Error(problem)
	}
}

// TestImportProblemsNamesTheChain: a forbidden import two packages down is reported
// with the chain that brings it in, and an allowed graph with none.
func TestImportProblemsNamesTheChain(t *testing.T) {
	mod := &struct{ Path string }{module}
	graph := []pkg{
		{ImportPath: "encoding/json", Standard: true},
		{ImportPath: "strings", Standard: true},
		{ImportPath: "github.com/hack-pad/safejs", Imports: []string{"encoding/json"}, Module: &struct{ Path string }{"github.com/hack-pad/safejs"}},
		{ImportPath: module + "/wasm/delivery", Imports: []string{"strings"}, Module: mod},
		{ImportPath: module + "/wasm/browser", Imports: []string{module + "/wasm/delivery", "github.com/hack-pad/safejs"}, Module: mod},
		{ImportPath: module + "/wasm", Imports: []string{module + "/wasm/browser"}, Module: mod},
	}
	if got := importProblems(graph, module+"/wasm"); len(got) != 0 {
		t.Errorf("an allowed graph (json only through safejs): %q", got)
	}
	graph[3].Imports = append(graph[3].Imports, "encoding/json")
	got := importProblems(graph, module+"/wasm")
	want := "wasm → wasm/browser → wasm/delivery → encoding/json: forbidden (use the shim's JSON.parse, or delivery's scanner)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want [%q]", got, want)
	}
	graph[3].Imports = []string{"github.com/other/mod/pkg"}
	graph = append([]pkg{{ImportPath: "github.com/other/mod/pkg", Module: &struct{ Path string }{"github.com/other/mod"}}}, graph...)
	if got := importProblems(graph, module+"/wasm"); len(got) != 1 || !strings.Contains(got[0], "wasm/delivery → github.com/other/mod/pkg: not allowed") {
		t.Errorf("a module outside the list: %q", got)
	}
}

func readPackages(out []byte) ([]pkg, error) {
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// importProblems checks the imports of this module's packages among pkgs (go list's
// -deps order: dependencies first), reached from root.
func importProblems(pkgs []pkg, root string) []string {
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	ours := func(path string) bool {
		p, ok := byPath[path]
		return ok && p.Module != nil && p.Module.Path == module
	}
	// The shortest chain from root to each of our packages, following our imports only.
	parent := map[string]string{root: ""}
	for queue := []string{root}; len(queue) > 0; queue = queue[1:] {
		for _, imp := range byPath[queue[0]].Imports {
			if _, seen := parent[imp]; !seen && ours(imp) {
				parent[imp] = queue[0]
				queue = append(queue, imp)
			}
		}
	}
	chain := func(from, imp string) string {
		names := []string{imp}
		for p := from; p != ""; p = parent[p] {
			names = append(names, strings.TrimPrefix(p, module+"/"))
		}
		slices.Reverse(names)
		return strings.Join(names, " → ")
	}
	var problems []string
	for _, p := range pkgs {
		if _, reached := parent[p.ImportPath]; !reached || !ours(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			dep := byPath[imp]
			switch {
			case ours(imp):
				if !strings.HasPrefix(imp, module+"/wasm/") && !strings.HasPrefix(imp, module+"/internal/") {
					problems = append(problems, chain(p.ImportPath, imp)+": not allowed (the SDK imports only wasm/ and internal/)")
				}
			case forbidden[imp] != "":
				problems = append(problems, chain(p.ImportPath, imp)+": forbidden (use "+forbidden[imp]+")")
			case dep.Standard || !strings.Contains(strings.Split(imp, "/")[0], "."):
				if !slices.Contains(allowedStd, imp) {
					problems = append(problems, chain(p.ImportPath, imp)+": not allowed (a standard package outside allowedStd)")
				}
			case dep.Module == nil || !slices.Contains(allowedModules, dep.Module.Path):
				problems = append(problems, chain(p.ImportPath, imp)+": not allowed (a module outside allowedModules)")
			}
		}
	}
	return problems
}
