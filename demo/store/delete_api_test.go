package store_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
	"github.com/vocafuse/recorder/demo/auth"
	"github.com/vocafuse/recorder/demo/internal/testaudio"
	"github.com/vocafuse/recorder/demo/store"
)

// Issue 24, point 10: a DELETE on a full disk is 503 / 5002, as an upload's is (it
// passes), not 500 / 5001. Here, beside the store, because the store's rename is what
// the disk refuses.
func TestDeleteOnAFullDiskOverHTTP(t *testing.T) {
	st, _, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	creds := auth.Credentials{APIKey: "sk_test_key", APISecret: "test-secret-16byte", TokenSecret: "test-signing-key"}
	srv := httptest.NewServer(api.NewHandler(api.Config{Store: st, Credentials: creds}))
	defer srv.Close()
	token, _, err := auth.NewIssuer([]byte(creds.TokenSecret), time.Now).Mint("user_42", time.Hour, auth.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	const id = "0190a0c0-1111-7000-8000-000000000001"
	call := func(method string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+"/v1/voicenotes/"+id, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "audio/wav")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := call("PUT", testaudio.WAV(8000, 1, 440)); status != 201 {
		t.Fatalf("PUT: %d %s", status, body)
	}
	restore := store.FailRenames(func(from, to string) error {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: syscall.ENOSPC}
	})
	status, body := call("DELETE", nil)
	restore()
	if want := `{"error":{"code":5002,"message":"Service temporarily unavailable"}}` + "\n"; status != 503 || body != want {
		t.Errorf("DELETE on a full disk: %d %s", status, body)
	}
	if status, _ := call("GET", nil); status != 200 {
		t.Errorf("the voice note after the failed DELETE: %d", status)
	}
	if status, body := call("DELETE", nil); status != 204 {
		t.Errorf("DELETE with room again: %d %s", status, body)
	}
}
