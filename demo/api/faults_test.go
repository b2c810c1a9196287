package api_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vocafuse/recorder/demo/api"
)

func withFaults(c *api.Config) { c.FaultInjection = true }

func (h *harness) planFault(body string) {
	h.t.Helper()
	resp := h.do(request{method: "POST", path: "/_faults", body: strings.NewReader(body)})
	if resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("POST /_faults %s: %d %s", body, resp.StatusCode, b)
	}
}

func TestFaultsAbsentWithoutTheFlag(t *testing.T) {
	h := newHarness(t)
	for _, method := range []string{"GET", "POST", "DELETE"} {
		resp := h.do(request{method: method, path: "/_faults", body: strings.NewReader(`{"path_prefix":"/","code":5001}`)})
		expectError(t, resp, 404, 2001, noSuchRoute)
	}
}

func TestFaultErrorAnswers(t *testing.T) {
	h := newHarness(t, withFaults)
	token := h.token("user_42")
	wavBytes := makeWAV(8000, 1, 440)
	h.planFault(`{"path_prefix":"/v1/voicenotes","method":"PUT","status":503,"code":5002,"retry_after":1,"times":2}`)
	for range 2 {
		resp := h.put(noteID, token, wavBytes, "audio/wav")
		if resp.Header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		expectError(t, resp, 503, 5002, map[string]any{"retry_after": 1})
	}
	decode[voiceNote](t, h.put(noteID, token, wavBytes, "audio/wav"), 201) // the plan is used up

	h.planFault(`{"path_prefix":"/v1/voicenotes","code":4003,"retry_after":1}`)
	resp := h.get("/v1/voicenotes", token)
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("4003 Retry-After %q", resp.Header.Get("Retry-After"))
	}
	expectError(t, resp, 429, 4003, map[string]any{"limit": 100, "window": "1 minute", "retry_after": 1})

	h.planFault(`{"path_prefix":"/api/token","status":500,"code":5001}`)
	expectError(t, h.do(request{method: "POST", path: "/api/token"}), 500, 5001, nil)
	h.planFault(`{"path_prefix":"/v1/voicenotes","method":"PUT","code":2005}`)
	expectError(t, h.put(noteID, token, wavBytes, "audio/wav"), 400, 2005, nil)
	h.planFault(`{"path_prefix":"/v1/voicenotes","code":1002}`)
	expectError(t, h.get("/v1/voicenotes", token), 401, 1002, nil)

	t.Run("DELETE clears the plan", func(t *testing.T) {
		h.planFault(`{"path_prefix":"/v1/health","code":5001,"times":5}`)
		if resp := h.do(request{method: "DELETE", path: "/_faults"}); resp.StatusCode != 204 {
			t.Fatalf("DELETE /_faults: %d", resp.StatusCode)
		}
		decode[map[string]any](t, h.get("/v1/health", ""), 200)
	})
	t.Run("a plan that makes no sense", func(t *testing.T) {
		for body, want := range map[string]int{
			`{"code":5001}`:                                2002,
			`{"path_prefix":"/v1"}`:                        2002,
			`{"path_prefix":"/v1","code":1234}`:            2003,
			`{"path_prefix":"/v1","code":5001,`:            2001,
			`{"path_prefix":"/v1","cod":5001}`:             2001,
			`{"path_prefix":"/v1","status":503}`:           2002,
			`{"path_prefix":"/v1","delay_ms":-1}`:          2003,
			`{"path_prefix":"/v1","code":5001,"times":-2}`: 2003,
		} {
			resp := h.do(request{method: "POST", path: "/_faults", body: strings.NewReader(body)})
			env := decode[map[string]map[string]any](t, resp, 400)
			if env["error"]["code"] != float64(want) {
				t.Errorf("%s: %v, want %d", body, env["error"], want)
			}
		}
	})
}

func TestFaultDropCutsTheConnection(t *testing.T) {
	h := newHarness(t, withFaults)
	token := h.token("user_42")
	h.planFault(`{"path_prefix":"/v1/voicenotes","method":"PUT","drop":true}`)
	req, _ := http.NewRequest("PUT", h.url+"/v1/voicenotes/"+noteID, bytes.NewReader(makeWAV(16000, 20, 440)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got an answer (%d) instead of a cut connection", resp.StatusCode)
	}
	var netErr interface{ Timeout() bool }
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("timed out instead of being cut: %v", err)
	}
	// Nothing was stored, and the next request goes through.
	expectError(t, h.get("/v1/voicenotes/"+noteID, token), 404, 6001, map[string]any{"voicenote_id": noteID})
}

func TestFaultDelay(t *testing.T) {
	h := newHarness(t, withFaults)
	h.planFault(`{"path_prefix":"/v1/health","delay_ms":300}`)
	start := time.Now()
	decode[map[string]any](t, h.get("/v1/health", ""), 200)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answered after %v", took)
	}
	start = time.Now()
	decode[map[string]any](t, h.get("/v1/health", ""), 200)
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("the delay applied twice: %v", took)
	}
}
