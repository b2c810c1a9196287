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
	"github.com/vocafuse/recorder/demo/webhooks"
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
	webhookFirstRetry := flag.Duration("webhook-first-retry", webhooks.DefaultFirstRetry,
		"wait before a failed webhook delivery's second attempt; each next wait is 5 times longer")
	webhookAttempts := flag.Int("webhook-attempts", webhooks.DefaultMaxAttempts, "attempts before a webhook delivery is given up")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	creds, printKey, err := auth.LoadCredentials(*dataDir, os.Getenv)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	voicenotes, repair, err := store.Open(*dataDir)
	if err != nil {
		return err
	}
	defer voicenotes.Close()
	if !repair.Empty() {
		log.Warn("repaired the data directory after an unclean stop",
			"temp_files", repair.TempFiles, "stray_files", repair.StrayFiles, "lost_records", repair.LostRecords)
	}
	deliveries := webhooks.New(voicenotes, webhooks.Config{Log: log, FirstRetry: *webhookFirstRetry, MaxAttempts: *webhookAttempts})
	deliveries.Start()
	defer deliveries.Stop(context.Background())
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Config{
		Log:            log,
		Pages:          web.Pages(*sdkDir, *testPages),
		Store:          voicenotes,
		Credentials:    creds,
		Deliveries:     deliveries,
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
