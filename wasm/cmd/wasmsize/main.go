// Command wasmsize compresses built files and reports their sizes.
//
//	wasmsize -write FILE...     writes FILE.gz and FILE.br beside each file (what the server sends)
//	wasmsize -base BARE FILE    prints raw, gzip and brotli sizes of FILE beside BARE, and the ratio;
//	                            fails when the brotli ratio is over -budget
//	  -where BARE_DEBUG,FILE_DEBUG   also prints the code section by package, from unstripped builds
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/andybalholm/brotli"
)

func main() {
	write := flag.Bool("write", false, "write .gz and .br twins of each file")
	base := flag.String("base", "", "the bare program to compare with")
	budget := flag.Float64("budget", 1.3, "the largest brotli size allowed, as a multiple of the bare program's")
	where := flag.String("where", "", "unstripped builds of the bare program and of FILE, comma-separated")
	flag.Parse()
	if *where != "" {
		bare, sdk, ok := strings.Cut(*where, ",")
		if !ok {
			fmt.Fprintln(os.Stderr, "wasmsize: -where takes BARE_DEBUG,FILE_DEBUG")
			os.Exit(2)
		}
		if err := printWhere(os.Stdout, bare, sdk); err != nil {
			fmt.Fprintln(os.Stderr, "wasmsize:", err)
			os.Exit(1)
		}
	}
	if err := run(*write, *base, *budget, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

type sizes struct{ raw, gz, br []byte }

func compress(path string) (sizes, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return sizes{}, err
	}
	var gz, br bytes.Buffer
	gw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	gw.Write(raw)
	gw.Close()
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	bw.Write(raw)
	bw.Close()
	return sizes{raw, gz.Bytes(), br.Bytes()}, nil
}

func run(write bool, base string, budget float64, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("no files")
	}
	if write {
		for _, f := range files {
			s, err := compress(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(f+".gz", s.gz, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(f+".br", s.br, 0o644); err != nil {
				return err
			}
		}
		return nil
	}
	if base == "" || len(files) != 1 {
		return fmt.Errorf("usage: wasmsize -base BARE FILE")
	}
	b, err := compress(base)
	if err != nil {
		return err
	}
	s, err := compress(files[0])
	if err != nil {
		return err
	}
	kb := func(n int) string { return fmt.Sprintf("%9.1f KB", float64(n)/1000) }
	fmt.Printf("%-34s %12s %12s %12s\n", "", "raw", "gzip -9", "brotli -11")
	fmt.Printf("%-34s %12s %12s %12s\n", "bare (safejs + uuid)", kb(len(b.raw)), kb(len(b.gz)), kb(len(b.br)))
	fmt.Printf("%-34s %12s %12s %12s\n", "vocafuse.wasm", kb(len(s.raw)), kb(len(s.gz)), kb(len(s.br)))
	ratio := func(x, y []byte) string { return fmt.Sprintf("%11.2fx", float64(len(x))/float64(len(y))) }
	fmt.Printf("%-34s %12s %12s %12s\n", "ratio", ratio(s.raw, b.raw), ratio(s.gz, b.gz), ratio(s.br, b.br))
	r := float64(len(s.br)) / float64(len(b.br))
	fmt.Printf("brotli ratio %.3f, budget %.2f\n", r, budget)
	if r > budget {
		return fmt.Errorf("brotli size is %.3f× the bare program's, over the budget of %.2f×", r, budget)
	}
	return nil
}
