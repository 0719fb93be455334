package localcluster

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxAggregationPasses bounds the passes over chained aggregations (admin
// aggregates edit, which aggregates view).
const maxAggregationPasses = 5

// AggregateClusterRoles fills in the rules of aggregated ClusterRoles (the
// built-in admin, edit and view among them) once, as kube-controller-manager's
// clusterrole-aggregation controller does continuously in a real cluster. The
// local control plane runs no controller manager, so without this admin, edit
// and view have no rules at all and a binding to them grants nothing.
func AggregateClusterRoles(ctx context.Context, c client.Client) error {
	for range maxAggregationPasses {
		var roles rbacv1.ClusterRoleList
		if err := c.List(ctx, &roles); err != nil {
			return fmt.Errorf("list ClusterRoles: %w", err)
		}
		changed := false
		for i := range roles.Items {
			role := &roles.Items[i]
			if role.AggregationRule == nil {
				continue
			}
			rules, err := aggregatedRules(role.AggregationRule, roles.Items)
			if err != nil {
				return fmt.Errorf("aggregate ClusterRole %s: %w", role.Name, err)
			}
			if equality.Semantic.DeepEqual(rules, role.Rules) {
				continue
			}
			role.Rules = rules
			if err := c.Update(ctx, role); err != nil {
				return fmt.Errorf("update aggregated ClusterRole %s: %w", role.Name, err)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return fmt.Errorf("ClusterRole aggregation did not settle in %d passes", maxAggregationPasses)
}

// aggregatedRules is the union, without duplicates, of the rules of the roles
// any selector of the rule matches, in name order.
func aggregatedRules(rule *rbacv1.AggregationRule, roles []rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	var out []rbacv1.PolicyRule
	for _, sel := range rule.ClusterRoleSelectors {
		selector, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			return nil, fmt.Errorf("selector: %w", err)
		}
		for _, r := range roles {
			if !selector.Matches(labels.Set(r.Labels)) {
				continue
			}
			for _, pr := range r.Rules {
				if !containsRule(out, pr) {
					out = append(out, pr)
				}
			}
		}
	}
	return out, nil
}

func containsRule(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, have := range rules {
		if equality.Semantic.DeepEqual(have, r) {
			return true
		}
	}
	return false
}
