//go:build !js

package wasm_test

import (
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBrowserCodeIsTagged fails when a file that touches JavaScript lacks the
// js && wasm constraint: such a file would break the native build and tests of the
// pure packages beside it.
func TestBrowserCodeIsTagged(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		usesJS := false
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "syscall/js" || strings.HasPrefix(p, "github.com/hack-pad/safejs") {
				usesJS = true
			}
		}
		if usesJS && !taggedJSWasm(string(src)) {
			t.Errorf("%s uses JavaScript but lacks //go:build js && wasm", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func taggedJSWasm(src string) bool {
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "package ") {
			return false
		}
		if !constraint.IsGoBuild(line) {
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			return false
		}
		// The file must be excluded from every native build: false without js or without wasm.
		needs := func(tag string) bool {
			return !expr.Eval(func(t string) bool { return t != tag })
		}
		return needs("js") && needs("wasm")
	}
	return false
}
