package catalog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const referencePath = "../../docs/vocafuse-api-errors.txt"

// sharedReference is the project's shared copy of the reference, outside this module's tree.
const sharedReference = "../../../shared/reference/vocafuse-api-errors.txt"

// refCode is one "NAME (NNNN)" section of the reference.
type refCode struct {
	Name     string
	APICode  int
	Example  []byte // the JSON example, as written
	Message  string
	Details  []string // keys of the example's details, in order
	Solution string
}

// parseReference reads every error-code section of the reference: its heading, the
// JSON example below it and the "Solution:" line after that.
func parseReference(t testing.TB) []refCode {
	t.Helper()
	src, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`^([A-Z][A-Z_]+) \((\d{4})\)$`)
	var codes []refCode
	var cur *refCode
	var example *bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		switch m := heading.FindStringSubmatch(line); {
		case m != nil:
			n, _ := strconv.Atoi(m[2])
			codes = append(codes, refCode{Name: m[1], APICode: n})
			cur, example = &codes[len(codes)-1], nil
		case cur == nil:
		case example != nil:
			example.WriteString(line + "\n")
			if line == "}" { // the example's closing brace is the only one in column 0
				cur.Example, example = example.Bytes(), nil
			}
		case line == "{" && cur.Example == nil:
			example = bytes.NewBufferString(line + "\n")
		case strings.HasPrefix(line, "Solution: ") && cur.Solution == "":
			cur.Solution = strings.TrimPrefix(line, "Solution: ")
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range codes {
		c := &codes[i]
		if c.Example == nil || c.Solution == "" {
			t.Fatalf("reference section %s (%d): no example or no solution found", c.Name, c.APICode)
		}
		var env struct {
			Error struct {
				Code    int             `json:"code"`
				Message string          `json:"message"`
				Details json.RawMessage `json:"details"`
			} `json:"error"`
		}
		if err := json.Unmarshal(c.Example, &env); err != nil {
			t.Fatalf("reference example of %s: %v", c.Name, err)
		}
		if env.Error.Code != c.APICode {
			t.Fatalf("reference example of %s has code %d, heading says %d", c.Name, env.Error.Code, c.APICode)
		}
		c.Message = env.Error.Message
		c.Details = objectKeys(t, env.Error.Details)
	}
	if len(codes) < 10 {
		t.Fatalf("parsed only %d codes from the reference; is the parser broken?", len(codes))
	}
	return codes
}

// objectKeys returns the top-level keys of a JSON object in document order (nil for none).
func objectKeys(t testing.TB, raw json.RawMessage) []string {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("details %s: not an object", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// apiStatus is docs/api.md's Envelope table (the main status where a row names two).
var apiStatus = map[int]int{
	1001: 401, 1002: 401,
	1003: 403,
	2001: 400, 2002: 400, 2003: 400, 2004: 400, 2005: 400, 2006: 400,
	3003: 422, 3004: 422,
	4003: 429,
	5001: 500,
	5002: 503,
	5005: 409,
	6001: 404, 6002: 404, 6003: 404,
}

func TestCatalogueMatchesReference(t *testing.T) {
	ref := parseReference(t)
	inRef := map[int]bool{}
	for _, r := range ref {
		inRef[r.APICode] = true
		e, ok := ByAPICode(r.APICode)
		if !ok {
			t.Errorf("%s (%d) is in the reference but not in the catalogue", r.Name, r.APICode)
			continue
		}
		if string(e.Code) != r.Name {
			t.Errorf("%d: code %s, reference %s", r.APICode, e.Code, r.Name)
		}
		if e.Message != r.Message {
			t.Errorf("%s: message %q, reference %q", r.Name, e.Message, r.Message)
		}
		if !slices.Equal(e.DetailKeys, r.Details) || (e.DetailKeys == nil) != (r.Details == nil) {
			t.Errorf("%s: detail keys %q, reference %q", r.Name, e.DetailKeys, r.Details)
		}
		if e.Solution != r.Solution {
			t.Errorf("%s: solution %q, reference %q", r.Name, e.Solution, r.Solution)
		}
		if byName, ok := Lookup(Code(r.Name)); !ok || byName.APICode != r.APICode {
			t.Errorf("Lookup(%s) = %d, %v", r.Name, byName.APICode, ok)
		}
	}
	for _, e := range Entries() {
		if e.APICode == 0 {
			continue
		}
		if !inRef[e.APICode] && e.APICode != 1003 { // 1003 is this project's addition
			t.Errorf("%s (%d) is in the catalogue but not in the reference", e.Code, e.APICode)
		}
		if want, ok := apiStatus[e.APICode]; !ok || e.HTTPStatus != want {
			t.Errorf("%s: HTTP status %d, docs/api.md says %d", e.Code, e.HTTPStatus, want)
		}
	}
	for apiCode := range apiStatus {
		if _, ok := ByAPICode(apiCode); !ok {
			t.Errorf("docs/api.md's code %d is not in the catalogue", apiCode)
		}
	}
	e, _ := ByAPICode(1003)
	if e.Code != InsufficientPermissions || e.Message != "Insufficient permissions" || e.HTTPStatus != 403 {
		t.Errorf("1003: %+v", e)
	}
}

func TestReferenceCopyIsCurrent(t *testing.T) {
	shared, err := os.ReadFile(sharedReference)
	if os.IsNotExist(err) {
		t.Skip("no shared reference beside the module")
	}
	if err != nil {
		t.Fatal(err)
	}
	local, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(shared, local) {
		t.Fatalf("%s differs from %s: copy the shared reference again", referencePath, sharedReference)
	}
}

func TestEveryEntryHasTexts(t *testing.T) {
	// docs/sdk.md's client codes, and the reference's frontend switch must name only known codes.
	for _, c := range []Code{PermissionDenied, NotSupported, DurationExceeded, NetworkError,
		AuthenticationFailed, DeviceNotFound, DeviceBusy, InvalidOption} {
		e, ok := Lookup(c)
		if !ok || e.UserMessage == "" || e.APICode != 0 || e.HTTPStatus != 0 || e.ClientCode != c {
			t.Errorf("client code %s: %+v, %v", c, e, ok)
		}
	}
	src, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`case '([A-Z_]+)':`).FindAllStringSubmatch(string(src), -1) {
		if _, ok := Lookup(Code(m[1])); !ok {
			t.Errorf("the reference's frontend code %s is not in the catalogue", m[1])
		}
	}

	seen := map[Code]bool{}
	for _, e := range Entries() {
		if e.Message == "" || e.UserMessage == "" {
			t.Errorf("%s: empty message or user message", e.Code)
		}
		if seen[e.Code] {
			t.Errorf("%s appears twice", e.Code)
		}
		seen[e.Code] = true
		if e.APICode == 0 && e.Solution != "" {
			t.Errorf("%s: a client code has a solution", e.Code)
		}
	}
}

func TestEntriesOrderAndCopy(t *testing.T) {
	all := Entries()
	lastAPI := 0
	for i, e := range all {
		if e.APICode == 0 && lastAPI != 0 {
			t.Errorf("client code %s after API codes", e.Code)
		}
		if e.APICode != 0 && e.APICode <= lastAPI {
			t.Errorf("API codes not ascending at %d (%s)", i, e.Code)
		}
		if e.APICode != 0 {
			lastAPI = e.APICode
		}
	}
	all[0].Code = "CHANGED"
	e, _ := Lookup(RecordingTooLong)
	e.DetailKeys[0] = "changed"
	if Entries()[0].Code == "CHANGED" {
		t.Error("Entries returned the table itself")
	}
	if e2, _ := Lookup(RecordingTooLong); e2.DetailKeys[0] != "max_duration" {
		t.Error("Lookup shares DetailKeys with the table")
	}
}

func TestClientCodes(t *testing.T) {
	tests := []struct {
		apiCode int
		want    Code
	}{
		{2006, DurationExceeded},
		{2005, UnsupportedAudioFormat},
		{1001, InvalidToken},
		{1003, InsufficientPermissions},
		{6001, RecordingNotFound},
		{9999, APIError},
		{0, APIError},
		{-1, APIError},
	}
	for _, tt := range tests {
		if got := ClientCodeFor(tt.apiCode); got != tt.want {
			t.Errorf("ClientCodeFor(%d) = %s, want %s", tt.apiCode, got, tt.want)
		}
	}
	for _, e := range Entries() {
		if e.ClientCode == "" {
			t.Errorf("%s: empty client code", e.Code)
		}
		if e.APICode != 0 && e.APICode != 2006 && e.ClientCode != e.Code {
			t.Errorf("%s surfaces as %s", e.Code, e.ClientCode)
		}
	}
	if _, ok := ByAPICode(0); ok {
		t.Error("ByAPICode(0) found a client entry")
	}
	if _, ok := Lookup("NO_SUCH_CODE"); ok {
		t.Error("Lookup of an unknown code succeeded")
	}
}

func TestRetryAdvice(t *testing.T) {
	want := map[Code]bool{
		InvalidToken: true, TokenExpired: true, RateLimitExceeded: true, InternalServerError: true,
		ServiceUnavailable: true, NetworkError: true, DeviceBusy: true,
		PermissionDenied: false, NotSupported: false, DurationExceeded: false, InvalidOption: false,
		InvalidRequestFormat: false, MissingRequiredField: false, InvalidFieldValue: false,
		FileSizeExceeded: false, UnsupportedAudioFormat: false, RecordingTooLong: false,
	}
	for code, retryable := range want {
		if e, _ := Lookup(code); e.Retryable != retryable {
			t.Errorf("%s: retryable %v, want %v", code, e.Retryable, retryable)
		}
	}
	for code, keys := range map[Code][]string{
		DurationExceeded: {"max_duration", "actual_duration"},
		InvalidOption:    {"option", "reason"},
		PermissionDenied: nil,
	} {
		if e, _ := Lookup(code); !slices.Equal(e.DetailKeys, keys) {
			t.Errorf("%s: detail keys %q, want %q", code, e.DetailKeys, keys)
		}
	}
}
