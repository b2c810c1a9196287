package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// The linker's names lose the difference between '/' and '-'; the report must not.
func TestPackageOf(t *testing.T) {
	modules := []string{"github.com/vocafuse/recorder", "github.com/google/uuid", "github.com/hack-pad/safejs"}
	for _, c := range []struct{ name, want string }{
		{"github.com_hack_pad_safejs.toJSFunc.func1", "github.com/hack-pad/safejs"},
		{"github.com_hack_pad_safejs_internal_catch.Try_go.shape.bool_", "github.com/hack-pad/safejs/internal/catch"},
		{"github.com_hack_pad_safejs_internal_stackerr.__stackError_.Format", "github.com/hack-pad/safejs/internal/stackerr"},
		{"github.com_google_uuid.makeV7", "github.com/google/uuid"},
		{"github.com_vocafuse_recorder_wasm_delivery.__Courier_.awaitLock", "./wasm/delivery"},
		{"github.com_vocafuse_recorder_internal_audio_wav.kernel", "./internal/audio/wav"},
		{"internal_abi.NoEscape", "internal/abi"},
		{"runtime.mallocgc", "runtime"},
		{"vendor_golang.org_x_net_dns_dnsmessage.Name.String", "vendor/golang.org/x/net/dns/dnsmessage"},
		{"type_.eq.github.com_vocafuse_recorder_wasm_delivery.Known", "(types and itabs)"},
		{"go:buildid", "(types and itabs)"},
	} {
		if got := packageOf(c.name, modules); got != c.want {
			t.Errorf("packageOf(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

// The module list comes from the build info a real wasm build embeds.
func TestBuildModulesOfAWasmBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm")
	}
	if runtime.GOOS == "js" {
		t.Skip("runs the go command, which a test under Node cannot")
	}
	out := filepath.Join(t.TempDir(), "bare.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "../bare")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range buildModules(data) {
		got[m] = true
	}
	for _, want := range []string{"github.com/vocafuse/recorder", "github.com/hack-pad/safejs", "github.com/google/uuid"} {
		if !got[want] {
			t.Errorf("buildModules lacks %s; has %v", want, got)
		}
	}
}
