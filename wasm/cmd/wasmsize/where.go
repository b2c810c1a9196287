package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
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

// The linker writes a function's name with every byte other than a letter, a digit, '.'
// or '_' turned into '_': github.com/hack-pad/safejs.(*Value).Get becomes
// github.com_hack_pad_safejs.__Value_.Get. A path's '/' and '-' cannot be told apart
// there, so module paths are matched whole, from the module list the build embeds.
func mangle(path string) string {
	b := []byte(path)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// thisModule is shortened in the report to ./wasm/browser, ./internal/audio: the "./" keeps
// this module's internal/ apart from the standard library's.
const thisModule = "github.com/vocafuse/recorder"

// packageOf maps a wasm function name to its package path, given the module paths the
// program was built from.
func packageOf(name string, modules []string) string {
	if strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "type") {
		return "(types and itabs)"
	}
	pkg := ""
	for _, m := range modules {
		mm := mangle(m)
		if !strings.HasPrefix(name, mm) || len(name) == len(mm) || (name[len(mm)] != '.' && name[len(mm)] != '_') {
			continue
		}
		rest := name[len(mm):]
		if dot := strings.Index(rest, "."); dot >= 0 {
			rest = rest[:dot]
		}
		if p := m + strings.ReplaceAll(rest, "_", "/"); len(p) > len(pkg) {
			pkg = p
		}
	}
	if pkg == "" {
		// The standard library: its paths hold no '-' and no '_' of their own.
		// A domain's dot (golang.org_x_…, vendored in the standard library) is not the package's end.
		skip := 0
		for _, domain := range []string{"github.com_", "golang.org_", "vendor_golang.org_"} {
			if strings.HasPrefix(name, domain) {
				skip = len(domain)
			}
		}
		dot := strings.Index(name[skip:], ".")
		if dot < 0 {
			return "(other)"
		}
		pkg = strings.ReplaceAll(name[:skip+dot], "_", "/")
	}
	if pkg == "" {
		return "(types and itabs)"
	}
	if pkg == thisModule || strings.HasPrefix(pkg, thisModule+"/") {
		return "." + strings.TrimPrefix(pkg, thisModule)
	}
	return pkg
}

// buildModules reads the module paths a Go program embeds (what `go version -m` prints,
// which does not read wasm): the main module's and each dependency's. The text sits in
// the data between the go command's two 16-byte sentinels.
func buildModules(data []byte) []string {
	const begin, end = "0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6", "\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
	i := bytes.Index(data, []byte(begin))
	if i < 0 {
		return nil
	}
	text := data[i+len(begin):]
	j := bytes.Index(text, []byte(end))
	if j < 0 {
		return nil
	}
	info, err := debug.ParseBuildInfo(string(text[:j]))
	if err != nil {
		return nil
	}
	modules := []string{info.Main.Path}
	for _, d := range info.Deps {
		modules = append(modules, d.Path)
	}
	return modules
}

func packageSizes(path string) (map[string]int, int, error) {
	funcs, err := functionSizes(path)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	modules := buildModules(data)
	if modules == nil {
		return nil, 0, fmt.Errorf("%s carries no module list: build it with the go command", path)
	}
	pkgs := map[string]int{}
	total := 0
	for name, size := range funcs {
		pkgs[packageOf(name, modules)] += size
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
