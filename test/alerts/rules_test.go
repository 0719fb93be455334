package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// rule is one alerting rule of config/prometheus/rules.yaml.
type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

type prometheusRule struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []rule `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// query is one PromQL expression of the dashboard, named by its panel.
type query struct {
	Panel string
	Expr  string
}

func configPath(name string) string {
	return filepath.Join(testenv.ModuleRoot(), "config", "prometheus", name)
}

// loadRules reads every alerting rule of config/prometheus/rules.yaml.
func loadRules() []rule {
	data, err := os.ReadFile(configPath("rules.yaml"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var pr prometheusRule
	ExpectWithOffset(1, yaml.UnmarshalStrict(data, &pr)).To(Succeed())
	ExpectWithOffset(1, pr.APIVersion).To(Equal("monitoring.coreos.com/v1"))
	ExpectWithOffset(1, pr.Kind).To(Equal("PrometheusRule"))
	var rules []rule
	for _, g := range pr.Spec.Groups {
		rules = append(rules, g.Rules...)
	}
	ExpectWithOffset(1, rules).NotTo(BeEmpty())
	return rules
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVariables are what Grafana substitutes in a query before it sends it
// to Prometheus; the test substitutes them the same way. Any other variable
// fails the test, since this dashboard defines none of its own but the data
// source.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "30s", "$__range", "6h")

// loadDashboardQueries reads every panel query of the Grafana dashboard, with
// Grafana's variables substituted.
func loadDashboardQueries() []query {
	data, err := os.ReadFile(configPath("grafana-dashboard.json"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var d dashboard
	ExpectWithOffset(1, json.Unmarshal(data, &d)).To(Succeed())
	var out []query
	for _, p := range d.Panels {
		ExpectWithOffset(1, p.Targets).NotTo(BeEmpty(), "panel %q has no query", p.Title)
		for _, t := range p.Targets {
			expr := grafanaVariables.Replace(t.Expr)
			ExpectWithOffset(1, expr).NotTo(ContainSubstring("$"), "panel %q uses a variable the test does not know", p.Title)
			out = append(out, query{Panel: p.Title, Expr: expr})
		}
	}
	ExpectWithOffset(1, out).NotTo(BeEmpty())
	return out
}

// docSections are the level-2 headings of docs/alerts.md.
func docSections() map[string]string {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "docs", "alerts.md"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	sections := map[string]string{}
	parts := regexp.MustCompile(`(?m)^## `).Split(string(data), -1)
	for _, part := range parts[1:] {
		title, body, _ := strings.Cut(part, "\n")
		sections[strings.TrimSpace(title)] = body
	}
	return sections
}

var _ = Describe("config/prometheus", func() {
	It("gives every alert a severity, a summary, a description and a runbook section in docs/alerts.md", func() {
		sections := docSections()
		seen := map[string]bool{}
		for _, r := range loadRules() {
			Expect(r.Alert).To(MatchRegexp(`^Elevator[A-Z][A-Za-z]+$`))
			Expect(seen).NotTo(HaveKey(r.Alert), "alert %s is defined twice", r.Alert)
			seen[r.Alert] = true
			Expect(r.Labels["severity"]).To(BeElementOf("critical", "warning", "info"), r.Alert)
			Expect(r.Annotations["summary"]).NotTo(BeEmpty(), r.Alert)
			Expect(r.Annotations["description"]).NotTo(BeEmpty(), r.Alert)
			Expect(r.Annotations["runbook_url"]).To(HaveSuffix("docs/alerts.md#"+strings.ToLower(r.Alert)), r.Alert)
			body, ok := sections[r.Alert]
			Expect(ok).To(BeTrue(), "docs/alerts.md has no section ## %s", r.Alert)
			Expect(body).To(ContainSubstring("What it means"), r.Alert)
			Expect(body).To(ContainSubstring("What to do"), r.Alert)
		}
		for title := range sections {
			if strings.HasPrefix(title, "Elevator") {
				Expect(seen).To(HaveKey(title), "docs/alerts.md documents %s, which rules.yaml does not define", title)
			}
		}
	})

	It("passes Prometheus's own rule-file checks (promtool's): expressions, durations, label and annotation templates", func() {
		data, err := os.ReadFile(configPath("rules.yaml"))
		Expect(err).NotTo(HaveOccurred())
		var pr map[string]any
		Expect(yaml.Unmarshal(data, &pr)).To(Succeed())
		groups, err := yaml.Marshal(pr["spec"])
		Expect(err).NotTo(HaveOccurred())
		parsed, errs := rulefmt.Parse(groups, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
		Expect(errs).To(BeEmpty())
		n := 0
		for _, g := range parsed.Groups {
			n += len(g.Rules)
		}
		Expect(n).To(Equal(len(loadRules())))
	})

	It("has a dashboard whose every panel has a query", func() {
		queries := loadDashboardQueries()
		panels := map[string]bool{}
		for _, q := range queries {
			panels[q.Panel] = true
		}
		GinkgoWriter.Println(fmt.Sprintf("%d queries in %d panels", len(queries), len(panels)))
		Expect(len(panels)).To(BeNumerically(">=", 10))
	})
})

// kustomizeBinary is $KUSTOMIZE, else the bin/kustomize-<version> that
// `make kustomize` installs for the Makefile's KUSTOMIZE_VERSION.
func kustomizeBinary() string {
	if path := os.Getenv("KUSTOMIZE"); path != "" {
		return path
	}
	makefile, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "Makefile"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	m := regexp.MustCompile(`(?m)^KUSTOMIZE_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	ExpectWithOffset(1, m).NotTo(BeNil(), "the Makefile sets no KUSTOMIZE_VERSION")
	path := filepath.Join(testenv.ModuleRoot(), "bin", "kustomize-"+string(m[1]))
	_, err = os.Stat(path)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "run `make kustomize` to install kustomize")
	return path
}

var _ = Describe("config/prometheus in config/default", func() {
	It("builds when config/default includes it, and its Service selects the manager's pods", func() {
		By("copying config/ and uncommenting ../prometheus in the copy of config/default")
		dir := GinkgoT().TempDir()
		Expect(os.CopyFS(dir, os.DirFS(filepath.Join(testenv.ModuleRoot(), "config")))).To(Succeed())
		kpath := filepath.Join(dir, "default", "kustomization.yaml")
		k, err := os.ReadFile(kpath)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(k)).To(ContainSubstring("\n#- ../prometheus\n"))
		Expect(os.WriteFile(kpath, []byte(strings.Replace(string(k), "\n#- ../prometheus\n", "\n- ../prometheus\n", 1)), 0o600)).To(Succeed())

		out, err := exec.Command(kustomizeBinary(), "build", filepath.Join(dir, "default")).Output()
		Expect(err).NotTo(HaveOccurred(), "kustomize build: %s", exitStderr(err))
		objs := map[string]map[string]any{}
		for _, doc := range strings.Split(string(out), "\n---\n") {
			var obj map[string]any
			Expect(yaml.Unmarshal([]byte(doc), &obj)).To(Succeed())
			meta, _ := obj["metadata"].(map[string]any)
			objs[fmt.Sprintf("%s/%s", obj["kind"], meta["name"])] = obj
		}
		for _, name := range []string{"PrometheusRule/elevator-alerts", "ServiceMonitor/elevator-controller-manager-metrics-monitor",
			"Service/elevator-controller-manager-metrics-service", "Deployment/elevator-controller-manager"} {
			Expect(objs).To(HaveKey(name))
			Expect(objs[name]["metadata"]).To(HaveKeyWithValue("namespace", "elevator-system"), name)
		}
		deployment := objs["Deployment/elevator-controller-manager"]
		podLabels := nested(deployment, "spec", "template", "metadata", "labels")
		for key, value := range nested(objs["Service/elevator-controller-manager-metrics-service"], "spec", "selector") {
			Expect(podLabels).To(HaveKeyWithValue(key, value), "the metrics Service selects pods by %s", key)
		}
		serviceLabels := nested(objs["Service/elevator-controller-manager-metrics-service"], "metadata", "labels")
		for key, value := range nested(objs["ServiceMonitor/elevator-controller-manager-metrics-monitor"], "spec", "selector", "matchLabels") {
			Expect(serviceLabels).To(HaveKeyWithValue(key, value), "the ServiceMonitor selects the Service by %s", key)
		}
		Expect(fmt.Sprint(deployment)).To(ContainSubstring("--metrics-bind-address=:8080"), "the Service's port is the manager's metrics port")
	})
})

// nested reads a map at a path of keys of a decoded object.
func nested(obj map[string]any, keys ...string) map[string]any {
	cur := obj
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		ExpectWithOffset(1, ok).To(BeTrue(), "no %v in the object", keys)
		cur = next
	}
	return cur
}

func exitStderr(err error) string {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
