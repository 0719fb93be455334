package alerts

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
