package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/internal/testaudio"
	"github.com/vocafuse/recorder/internal/demoproc"
)

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, "[::]:8080": false, ":8080": false, "192.168.1.20:8080": false, "[fe80::1]:80": false,
		"example.com:80": false, "127.0.0.1": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("loopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}

// createWebhook registers url for voicenote.created and answers the status.
func createWebhook(t *testing.T, s *server, url string) int {
	t.Helper()
	body := `{"url":"` + url + `","events":["voicenote.created"],"secret":"whsec_targets_0123456789"}`
	req, _ := http.NewRequest("POST", s.url+"/v1/webhooks", strings.NewReader(body))
	req.Header.Set("X-VocaFuse-API-Key", demoproc.APIKey)
	req.Header.Set("X-VocaFuse-API-Secret", demoproc.APISecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// On loopback the server delivers to loopback receivers by default. With
// --webhook-allow-private=false it says so at start, refuses a loopback URL at creation,
// and a webhook stored before (pointing at loopback) is refused when dialled: its
// receiver gets nothing.
func TestWebhookAllowPrivateFlag(t *testing.T) {
	posts := make(chan string, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts <- r.Header.Get("X-VocaFuse-Delivery-ID")
	}))
	defer receiver.Close()
	const offLine = "webhooks may not target private or loopback addresses"
	dir := t.TempDir()
	token := mint(t, "user_42")
	audio := testaudio.WAV(16000, 0.5, 440)

	s := startServer(t, dir)
	if status := createWebhook(t, s, receiver.URL+"/hook"); status != 201 {
		t.Fatalf("a loopback receiver on a loopback server: %d", status)
	}
	s.put("0190a0c0-2424-7000-8000-000000000001", token, audio)
	select {
	case <-posts:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery to the loopback receiver\n%s", s.log)
	}
	if strings.Contains(s.Log(), offLine) {
		t.Errorf("said off on loopback:\n%s", s.log)
	}
	s.terminate()

	s = startServer(t, dir, "--webhook-allow-private=false", "--webhook-attempts=1")
	if !strings.Contains(s.Log(), offLine) {
		t.Errorf("not said at start:\n%s", s.log)
	}
	if status := createWebhook(t, s, "http://127.0.0.2:9/hook"); status != 400 {
		t.Errorf("a loopback receiver with the flag off: %d", status)
	}
	s.put("0190a0c0-2424-7000-8000-000000000002", token, audio)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.Log(), "webhook target is a private, loopback or link-local address") {
		if time.Now().After(deadline) {
			t.Fatalf("the stored loopback webhook was not refused when dialled\n%s", s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(posts) != 0 {
		t.Errorf("the receiver got %d deliveries with the flag off", len(posts))
	}
}
