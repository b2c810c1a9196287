package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Where the bytes go: the code section of an unstripped wasm, each function body's size
// summed per Go package, read from the module's own "name" section (what
// `wasm-objdump -x -j Code` lists, without needing wabt).

// functionSizes answers the size of every function body, by its name.
func functionSizes(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 8 || string(data[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%s is not a wasm module", path)
	}
	r := &reader{b: data[8:]}
	var imported int
	var bodies []int
	names := map[int]string{}
	for r.more() {
		id := r.byte()
		size := r.uleb()
		sec := &reader{b: r.take(size)}
		switch id {
		case 2: // imports: function imports come first in the function index space
			for n := sec.uleb(); n > 0; n-- {
				sec.take(sec.uleb()) // module
				sec.take(sec.uleb()) // field
				switch sec.byte() {
				case 0:
					sec.uleb()
					imported++
				case 1:
					sec.byte()
					sec.limits()
				case 2:
					sec.limits()
				case 3:
					sec.byte()
					sec.byte()
				}
			}
		case 10: // code
			for n := sec.uleb(); n > 0; n-- {
				size := sec.uleb()
				sec.take(size)
				bodies = append(bodies, size)
			}
		case 0: // custom: the "name" section's function names
			if string(sec.take(sec.uleb())) != "name" {
				continue
			}
			for sec.more() {
				sub := sec.byte()
				body := &reader{b: sec.take(sec.uleb())}
				if sub != 1 {
					continue
				}
				for n := body.uleb(); n > 0; n-- {
					idx := body.uleb()
					names[idx] = string(body.take(body.uleb()))
				}
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("%s: section %d: %w", path, id, sec.err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", path, r.err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s has no function names: build it without -ldflags=-s", path)
	}
	sizes := map[string]int{}
	for i, size := range bodies {
		name := names[imported+i]
		if name == "" {
			name = fmt.Sprintf("func[%d]", imported+i)
		}
		sizes[name] += size
	}
	return sizes, nil
}

// packageOf maps a wasm function name (github.com_vocafuse_recorder_wasm_browser.(*Control).Upload,
// mangled by the linker) to its package path, shortened for this module.
func packageOf(name string) string {
	rest := name
	prefix := ""
	// A domain's dot (github.com_, golang.org_) is part of the path, not the package's end.
	if i := strings.Index(rest, "_"); i > 0 {
		if d := strings.Index(rest[:i], "."); d > 0 && d < i-1 {
			prefix, rest = rest[:i+1], rest[i+1:]
		}
	}
	dot := strings.Index(rest, ".")
	if dot < 0 {
		return "(other)"
	}
	pkg := prefix + rest[:dot]
	switch {
	case strings.HasPrefix(pkg, "go:") || strings.HasPrefix(pkg, "type") || pkg == "":
		return "(types and itabs)"
	case strings.HasPrefix(pkg, "github.com_vocafuse_recorder_"):
		return strings.ReplaceAll(strings.TrimPrefix(pkg, "github.com_vocafuse_recorder_"), "_", "/")
	case strings.HasPrefix(pkg, "github.com_"):
		return "github.com/" + strings.ReplaceAll(strings.TrimPrefix(pkg, "github.com_"), "_", "/")
	}
	return strings.ReplaceAll(pkg, "_", "/")
}

func packageSizes(path string) (map[string]int, int, error) {
	funcs, err := functionSizes(path)
	if err != nil {
		return nil, 0, err
	}
	pkgs := map[string]int{}
	total := 0
	for name, size := range funcs {
		pkgs[packageOf(name)] += size
		total += size
	}
	return pkgs, total, nil
}

// printWhere writes the packages whose code the SDK has beyond the bare program, largest first.
func printWhere(w io.Writer, bare, sdk string) error {
	b, bTotal, err := packageSizes(bare)
	if err != nil {
		return err
	}
	s, sTotal, err := packageSizes(sdk)
	if err != nil {
		return err
	}
	type row struct {
		pkg        string
		bare, sdk  int
		difference int
	}
	var rows []row
	for pkg, size := range s {
		if d := size - b[pkg]; d != 0 {
			rows = append(rows, row{pkg, b[pkg], size, d})
		}
	}
	for pkg, size := range b {
		if _, ok := s[pkg]; !ok {
			rows = append(rows, row{pkg, size, 0, -size})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].difference != rows[j].difference {
			return rows[i].difference > rows[j].difference
		}
		return rows[i].pkg < rows[j].pkg
	})
	kb := func(n int) string { return fmt.Sprintf("%8.1f KB", float64(n)/1000) }
	fmt.Fprintf(w, "\ncode section by package (unstripped builds), beyond the bare program:\n")
	fmt.Fprintf(w, "%-40s %11s %11s %11s\n", "package", "bare", "vocafuse", "added")
	shown, rest := 0, 0
	for _, r := range rows {
		if shown < 25 && r.difference >= 500 {
			fmt.Fprintf(w, "%-40s %11s %11s %11s\n", r.pkg, kb(r.bare), kb(r.sdk), kb(r.difference))
			shown++
			continue
		}
		rest += r.difference
	}
	fmt.Fprintf(w, "%-40s %11s %11s %11s\n", "(the rest)", "", "", kb(rest))
	fmt.Fprintf(w, "%-40s %11s %11s %11s\n", "code in all", kb(bTotal), kb(sTotal), kb(sTotal-bTotal))
	return nil
}

// reader walks a wasm binary; the first malformed read sets err and ends the walk.
type reader struct {
	b   []byte
	err error
}

func (r *reader) more() bool { return r.err == nil && len(r.b) > 0 }

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated or malformed")
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uleb() int {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > uint64(len(r.b))+1<<32 {
				r.fail()
				return 0
			}
			return int(v)
		}
	}
	r.fail()
	return 0
}

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) limits() {
	if flags := r.byte(); flags&1 != 0 {
		r.uleb()
		r.uleb()
		return
	}
	r.uleb()
}
