// Command vocafuse-demo is the local VocaFuse API server and the demo page (api.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/web"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vocafuse-demo:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	dataDir := flag.String("data-dir", "./.vocafuse-data", "where voice notes and keys are kept")
	sdkDir := flag.String("sdk-dir", defaultSDKDir(), "the built SDK served under /sdk/")
	testPages := flag.String("test-pages", "", "for the browser tests: a directory served under /test/")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	server := &http.Server{
		Handler:           api.NewHandler(api.Config{Log: log, Pages: web.Pages(*sdkDir, *testPages)}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// The line tests and people wait for: where the demo is.
	fmt.Printf("VocaFuse demo: http://%s/\n", listener.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultSDKDir is build/sdk beside the binary (build/vocafuse-demo), so the server finds
// the SDK wherever it is started from.
func defaultSDKDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "build/sdk"
	}
	return filepath.Join(filepath.Dir(exe), "sdk")
}
