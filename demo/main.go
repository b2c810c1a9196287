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
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/store"
	"github.com/vocafuse/recorder/demo/transcribe"
	"github.com/vocafuse/recorder/demo/transcription"
	"github.com/vocafuse/recorder/demo/web"
	"github.com/vocafuse/recorder/demo/webhooks"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("vocafuse-demo stopped: " + err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	dataDir := flag.String("data-dir", "./.vocafuse-data", "where voice notes and keys are kept")
	faults := flag.Bool("fault-injection", false, "serve /_faults, for tests only")
	presignVia := flag.String("presign-via", "", "tests only, with --fault-injection: presigned upload URLs point at this base URL "+
		"(a stand-in for object storage that forwards them here)")
	var origins originList
	flag.Var(&origins, "allow-origin", "an origin whose pages may call the API (repeat, or separate with commas; * for any)")
	sdkDir := flag.String("sdk-dir", defaultSDKDir(), "the built SDK served under /sdk/")
	testPages := flag.String("test-pages", "", "for the browser tests: a directory served under /test/")
	publicURL := flag.String("public-url", "", "the server's URL as browsers reach it, for audio_url and the same-origin checks (default: http://<addr>)")
	trustProxy := flag.Bool("trust-proxy", false, "believe X-Forwarded-Proto from a proxy in front (for the cookie's Secure attribute)")
	secureCookie := flag.Bool("secure-cookie", false, "always mark the visitor cookie Secure (implied by an https --public-url)")
	drainTimeout := flag.Duration("drain-timeout", 30*time.Second, "on SIGTERM, how long uploads under way may take before they are cut")
	maxConns := flag.Int("max-conns", api.DefaultMaxConns, "connections open at once; more are answered 503 and closed "+
		"(lowered to what the open-file limit allows)")
	maxConnsPerClient := flag.Int("max-conns-per-client", 0, "connections open at once from one client address "+
		"(0: a quarter of --max-conns)")
	maxUploads := flag.Int("max-uploads", api.DefaultMaxUploads, "uploads under way at once; more are answered 503 / 5002")
	maxUploadsPerIdentity := flag.Int("max-uploads-per-identity", api.DefaultMaxUploadsPerIdentity, "uploads under way at once for one identity")
	maxUploadsPerClient := flag.Int("max-uploads-per-client", 0, "uploads under way at once from one client address (0: --max-uploads)")
	quotaPerIdentity := flag.Int64("quota-per-identity", api.DefaultQuotaPerIdentity, "bytes of audio one identity may keep stored (524288000: 500 MB)")
	uploadMinRate := flag.Int("upload-min-rate", api.DefaultUploadMinRate, "bytes a second an upload's body must keep up after the first 10 s")
	uploadTimeout := flag.Duration("upload-timeout", api.DefaultUploadTimeout, "the longest an upload's body may take")
	newVisitors := flag.Int("new-visitors-per-minute", api.DefaultNewVisitorLimit, "visitor identities POST /api/token makes a minute for one client address")
	webhookFirstRetry := flag.Duration("webhook-first-retry", webhooks.DefaultFirstRetry,
		"wait before a failed webhook delivery's second attempt; each next wait is 5 times longer")
	webhookAttempts := flag.Int("webhook-attempts", webhooks.DefaultMaxAttempts, "attempts before a webhook delivery is given up")
	webhookWorkers := flag.Int("webhook-workers", webhooks.DefaultWorkers,
		"webhook deliveries under way at once, each to a different webhook")
	webhookMaxPending := flag.Int("webhook-max-pending", store.DefaultDeliveryLimits.PendingPerWebhook,
		"pending deliveries kept for one webhook; past it, its oldest is given up")
	webhookMaxPendingTotal := flag.Int("webhook-max-pending-total", store.DefaultDeliveryLimits.PendingTotal,
		"pending deliveries kept for all webhooks; past it, the oldest of the webhook with the most is given up")
	webhookAllowPrivate := flag.Bool("webhook-allow-private", false,
		"let webhooks target private and loopback addresses (default: on when --addr is a loopback address, off otherwise)")
	transcribers := flag.Int("transcribe-workers", defaultTranscribers(), "voice notes transcribed at once")
	transcribeTimeout := flag.Duration("transcribe-timeout", transcription.DefaultTimeout, "the longest one voice note's transcription may take")
	flag.Parse()
	if !flagGiven("webhook-allow-private") {
		*webhookAllowPrivate = loopbackOnly(*addr)
	}
	if *presignVia != "" && !*faults {
		return fmt.Errorf("--presign-via is for tests only and needs --fault-injection")
	}

	// An upload's file is open beside its connection: up to --max-uploads and its reserve
	// of a quarter (api's uploadSlots).
	*maxConns = fitConnsToFileLimit(log, *maxConns, *maxUploads+*maxUploads/4, fileReserve(*transcribers, *webhookWorkers))

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
			"temp_files", repair.TempFiles, "stray_files", repair.StrayFiles, "lost_records", repair.LostRecords, "dangling_keys", repair.DanglingKeys, "missing_keys", repair.MissingKeys)
	}
	if !*webhookAllowPrivate {
		log.Info("webhooks may not target private or loopback addresses (--webhook-allow-private allows them)", "addr", *addr)
	}
	deliveries := webhooks.New(voicenotes, webhooks.Config{Log: log, FirstRetry: *webhookFirstRetry, MaxAttempts: *webhookAttempts,
		Workers:     *webhookWorkers,
		Limits:      store.DeliveryLimits{PendingPerWebhook: *webhookMaxPending, PendingTotal: *webhookMaxPendingTotal},
		DialContext: webhooks.DialContext(*webhookAllowPrivate)})
	deliveries.Start()
	defer deliveries.Stop(context.Background())
	engine := transcribe.NewPocketSphinx(transcribe.Config{})
	if err := engine.Check(); err != nil {
		// Said once here; each voice note then fails with this reason (3003).
		log.Warn("transcription is unavailable: every voice note will fail with 3003 until it is installed", "reason", err.Error())
	}
	transcripts := transcription.New(transcription.Config{Store: voicenotes, Engine: engine, Workers: *transcribers,
		Timeout: *transcribeTimeout, Ended: deliveries.Wake, Log: log})
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *publicURL == "" {
		*publicURL = "http://" + defaultPublicHost(listener.Addr())
	}
	handler := api.NewHandler(api.Config{
		Log:                   log,
		Pages:                 web.Pages(*sdkDir, *testPages),
		Store:                 voicenotes,
		Credentials:           creds,
		Deliveries:            deliveries,
		Transcripts:           transcripts,
		AllowOrigins:          origins,
		FaultInjection:        *faults,
		WebhookAllowPrivate:   *webhookAllowPrivate,
		PresignVia:            *presignVia,
		PublicURL:             *publicURL,
		TrustProxy:            *trustProxy,
		SecureCookie:          *secureCookie,
		MaxConns:              *maxConns,
		MaxConnsPerClient:     *maxConnsPerClient,
		MaxUploads:            *maxUploads,
		MaxUploadsPerIdentity: *maxUploadsPerIdentity,
		MaxUploadsPerClient:   *maxUploadsPerClient,
		QuotaPerIdentity:      *quotaPerIdentity,
		UploadMinRate:         *uploadMinRate,
		UploadTimeout:         *uploadTimeout,
		NewVisitorLimit:       *newVisitors,
	})
	transcripts.Render = handler.TranscriptEvent
	transcripts.Start()
	defer transcripts.Stop()
	// Every phase of a connection is bounded (api.ConfigureHTTPServer); an upload's body
	// has its own minimum rate and deadline, a playback its own write deadline.
	server := handler.HTTPServer()
	if printKey {
		// The only way the person running the server learns them; never the signing key.
		fmt.Printf("API key: %s\nAPI secret: %s\n", creds.APIKey, creds.APISecret)
	}
	// The line tests and people wait for: where the demo is.
	fmt.Printf("VocaFuse demo: http://%s/\n", listener.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- server.Serve(handler.Listener(listener)) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal stops the process at once
	log.Info("draining: new requests get 503 until the uploads under way finish", "drain_timeout", drainTimeout.String())
	drain, cancel := context.WithTimeout(context.Background(), *drainTimeout)
	defer cancel()
	if err := handler.Drain(drain); err != nil {
		log.Warn("drain incomplete: requests still under way are closed", "error", err.Error())
	}
	closing, cancelClose := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelClose()
	if err := server.Shutdown(closing); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = server.Close() // what is left (a slow reader of an answer) is cut
	}
	log.Info("stopped")
	return nil
}

// defaultTranscribers leaves a core to the server: recognition takes a whole core.
func defaultTranscribers() int { return max(1, runtime.NumCPU()-1) }

// defaultPublicHost is the listening address as a browser would reach it: an
// unspecified address (0.0.0.0, ::) is reached as 127.0.0.1 from the same machine.
func defaultPublicHost(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
	}
	return tcp.String()
}

// loopbackOnly tells whether a listening address (--addr) is reachable from this
// machine only: its host is a loopback address or localhost.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// flagGiven tells whether the command line set the flag.
func flagGiven(name string) bool {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
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
