// Command vocafuse-demo is the local VocaFuse API server and the demo page (docs/api.md).
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
	"strings"
	"syscall"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/web"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vocafuse-demo:", err)
		os.Exit(1)
	}
}

// shutdownGrace is how long a SIGTERM waits for uploads under way before giving up.
const shutdownGrace = 30 * time.Second

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	dataDir := flag.String("data-dir", "./.vocafuse-data", "where voice notes and keys are kept")
	faults := flag.Bool("fault-injection", false, "serve /_faults, for tests only")
	var origins originList
	flag.Var(&origins, "allow-origin", "an origin whose pages may call the API (repeat, or separate with commas; * for any)")
	sdkDir := flag.String("sdk-dir", defaultSDKDir(), "the built SDK served under /sdk/")
	testPages := flag.String("test-pages", "", "for the browser tests: a directory served under /test/")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// The store claims the data directory first: a directory that is not the server's is
	// refused before anything (the credentials file included) is written into it.
	voicenotes, repair, err := store.Open(*dataDir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	defer voicenotes.Close()
	creds, printKey, err := auth.LoadCredentials(*dataDir, os.Getenv)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if repair.Claim != "" {
		log.Info("data directory "+string(repair.Claim), "data_dir", *dataDir, "marker", store.MarkerFile)
	}
	if len(repair.Foreign) > 0 {
		log.Warn("left alone: files in the data directory that the server did not write", "files", repair.Foreign)
	}
	if !repair.Empty() {
		log.Warn("repaired the data directory after an unclean stop",
			"temp_files", repair.TempFiles, "stray_files", repair.StrayFiles, "lost_records", repair.LostRecords)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Config{
		Log:            log,
		Pages:          web.Pages(*sdkDir, *testPages),
		Store:          voicenotes,
		Credentials:    creds,
		AllowOrigins:   origins,
		FaultInjection: *faults,
	})
	// No read or write timeout: a slow upload or a long playback is legitimate. Idle
	// keep-alive connections are closed, so they do not pile up.
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if printKey {
		// The only way the person running the server learns them; never the signing key.
		fmt.Printf("API key: %s\nAPI secret: %s\n", creds.APIKey, creds.APISecret)
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
	stop() // a second signal stops the process at once
	log.Info("draining: new requests get 503 until the uploads under way finish")
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := handler.Drain(shutdown); err != nil {
		log.Warn("drain timed out", "error", err)
	}
	if err := server.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// originList is the repeatable --allow-origin flag.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(v string) error {
	for _, origin := range strings.Split(v, ",") {
		if origin = strings.TrimRight(strings.TrimSpace(origin), "/"); origin != "" {
			*o = append(*o, origin)
		}
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
