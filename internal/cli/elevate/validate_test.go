package elevate

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRequestPlanRefusesBadFlagsNamingTheField(t *testing.T) {
	good := requestFlags{duration: "30m", reason: "INC-1: fix it", timeout: "5m"}
	cases := []struct {
		name   string
		target string
		edit   func(*requestFlags)
		want   string
	}{
		{"no slash", "prod-cluster", nil, "CONNECTION/ROLE: want the SaaSConnection's name and the role's name separated by one slash"},
		{"empty role", "prod-cluster/", nil, "CONNECTION/ROLE: want"},
		{"two slashes", "a/b/c", nil, "CONNECTION/ROLE: want"},
		{"bad connection name", "Prod_Cluster/admin", nil, `CONNECTION/ROLE: connection "Prod_Cluster" is not a valid object name`},
		{"missing --for", "c/r", func(f *requestFlags) { f.duration = "" }, `--for: must be a positive duration such as 30m or 1h30m, got ""`},
		{"zero --for", "c/r", func(f *requestFlags) { f.duration = "0s" }, `--for: must be a positive duration such as 30m or 1h30m, got "0s"`},
		{"negative --for", "c/r", func(f *requestFlags) { f.duration = "-5m" }, `--for: must be a positive duration`},
		{"words for --for", "c/r", func(f *requestFlags) { f.duration = "half an hour" }, `--for: must be a positive duration`},
		{"missing --reason", "c/r", func(f *requestFlags) { f.reason = "  " }, "--reason: required: say why you need the access"},
		{"long --reason", "c/r", func(f *requestFlags) { f.reason = strings.Repeat("x", 1025) }, "--reason: must be valid UTF-8 of at most 1024 bytes, got 1025 bytes"},
		{"long --ticket", "c/r", func(f *requestFlags) { f.ticket = strings.Repeat("T", 129) }, "--ticket: must be valid UTF-8 of at most 128 bytes"},
		{"padded --subject", "c/r", func(f *requestFlags) { f.subject = " alice" }, `--subject: must be a user name of at most 256 bytes with no leading or trailing spaces, got " alice"`},
		{"bad --name", "c/r", func(f *requestFlags) { f.name = "My Request" }, `--name: "My Request" is not a valid object name`},
		{"bad --timeout", "c/r", func(f *requestFlags) { f.timeout = "soon" }, `--timeout: must be a positive duration such as 5m, got "soon"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			if tc.edit != nil {
				tc.edit(&f)
			}
			_, err := f.plan([]string{tc.target})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("plan(%q) error = %v, want one containing %q", tc.target, err, tc.want)
			}
		})
	}
}

func TestRequestPlanBuildsTheSpecAsTyped(t *testing.T) {
	f := requestFlags{duration: "1h30m", reason: "INC-4711: roll back", ticket: "INC-4711", subject: "alice@example.com", timeout: "2m", wait: true}
	p, err := f.plan([]string{"prod-cluster/namespace-admin"})
	if err != nil {
		t.Fatal(err)
	}
	er := p.object("payments")
	if er.Namespace != "payments" || er.Name != "" || er.GenerateName != "namespace-admin-" {
		t.Errorf("metadata = %s/%q generateName %q, want payments, no name, generateName namespace-admin-", er.Namespace, er.Name, er.GenerateName)
	}
	s := er.Spec
	if s.Connection != "prod-cluster" || s.Role != "namespace-admin" || s.Duration != "1h30m" || s.Subject != "alice@example.com" ||
		s.Justification != "INC-4711: roll back" || s.Ticket != "INC-4711" {
		t.Errorf("spec = %+v", s)
	}
	if !p.wait || p.timeout != 2*time.Minute {
		t.Errorf("wait = %v timeout = %v, want true 2m", p.wait, p.timeout)
	}

	f.name = "inc-4711-alice"
	p, _ = f.plan([]string{"prod-cluster/namespace-admin"})
	if er := p.object("payments"); er.Name != "inc-4711-alice" || er.GenerateName != "" {
		t.Errorf("with --name: name %q generateName %q", er.Name, er.GenerateName)
	}
}

func TestParseWindowKeepsWhatTheSchemaTakes(t *testing.T) {
	for in, want := range map[string]string{"30m": "30m", "1h30m": "1h30m", "1.5h": "1.5h", "90s": "90s", "1h0.5m": "1h0.5m", ".5h": "30m0s"} {
		d, got, err := parseWindow("--for", in)
		if err != nil || got != want || d <= 0 {
			t.Errorf("parseWindow(%q) = %v %q %v, want %q", in, d, got, err, want)
		}
	}
}

func TestGenerateNameForRole(t *testing.T) {
	for role, want := range map[string]string{
		"namespace-admin":              "namespace-admin-",
		"DB_Admin":                     "db-admin-",
		"__":                           "elevation-",
		strings.Repeat("a", 63):        strings.Repeat("a", 40) + "-",
		strings.Repeat("a", 39) + "-b": strings.Repeat("a", 39) + "-",
	} {
		if got := generateNameFor(role); got != want {
			t.Errorf("generateNameFor(%q) = %q, want %q", role, got, want)
		}
	}
}

// The commands check their arguments before they read a kubeconfig: a
// mistake is named without any cluster.
func TestCommandsCheckArgumentsBeforeConnecting(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"request", "c/r", "--for", "0", "--reason", "x"}, "--for: must be a positive duration such as 30m"},
		{[]string{"request", "c/r", "--for", "30m"}, "--reason: required"},
		{[]string{"request", "--for", "30m", "--reason", "x"}, "request: want 1 to 16 CONNECTION/ROLE arguments, got 0"},
		{[]string{"deny", "req-1"}, "--reason: required: say why"},
		{[]string{"approve"}, "approve: want exactly one NAME argument, got 0"},
		{[]string{"approve", "a", "b"}, "approve: want exactly one NAME argument, got 2"},
		{[]string{"ls", "--mine", "--to-approve"}, "--mine and --to-approve: give one of them"},
		{[]string{"status", "req-1", "-o", "wide"}, `-o, --output: must be json or yaml, got "wide"`},
		{[]string{"extend", "req-1", "--for", "30m"}, "--reason: required"},
		{[]string{"extend", "req-1", "--reason", "x", "--for", "forever"}, `--for: must be a positive duration such as 30m or 1h30m, got "forever"`},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		cmd := NewCommand(&out, &errOut)
		cmd.SetArgs(append(tc.args, "--kubeconfig", "/nonexistent/kubeconfig"))
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want one containing %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote %q before failing", tc.args, out.String())
		}
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, name := range []string{"request", "approve", "deny", "revoke", "ls", "status", "extend"} {
		var out bytes.Buffer
		cmd := NewCommand(&out, &out)
		cmd.SetArgs([]string{name, "--help"})
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%s --help: %v", name, err)
		}
		if !strings.Contains(out.String(), "Usage:\n  kubectl elevate "+name) {
			t.Errorf("%s --help does not show its usage as a kubectl plugin:\n%s", name, out.String())
		}
	}
}
