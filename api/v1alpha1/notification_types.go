package v1alpha1

// NotificationSinkType is the wire format of a notification sink.
// +kubebuilder:validation:Enum=CloudEvents;Slack
type NotificationSinkType string

const (
	// SinkCloudEvents posts CloudEvents 1.0 in structured JSON mode over HTTP.
	SinkCloudEvents NotificationSinkType = "CloudEvents"
	// SinkSlack posts Slack-compatible incoming-webhook JSON ({"text": ...}),
	// which Slack, Mattermost and Rocket.Chat accept.
	SinkSlack NotificationSinkType = "Slack"
)

// MaxNotificationSinks bounds spec.notifications.
const MaxNotificationSinks = 8

// NotificationSink is one place the connection's request events are sent:
// to approvers (a request waits), to the subject (granted, expiring soon), and
// to the platform team (revoked, overdue, residual access).
type NotificationSink struct {
	// Name identifies the sink in status and metrics.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Type is the wire format: CloudEvents or Slack.
	// +required
	Type NotificationSinkType `json:"type"`

	// SecretRef names a Secret with the sink's URL under key "url" (a Slack
	// webhook URL is itself a credential) and, optionally, a bearer token
	// under key "token", and optionally CA certificates (PEM) to trust for it
	// under key "ca.crt". The Secret must carry the label
	// elevator.dev/credentials: "true". The URL must be https unless the
	// operator runs with --allow-insecure-notification-urls, and its host
	// must pass --allowed-endpoint-hosts.
	// +required
	SecretRef LocalSecretReference `json:"secretRef"`

	// ExpiringSoon is how long before expiresAt the reminder is sent, as a
	// Go duration. Defaults to 5m.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="spec.notifications[].expiringSoon must be a positive Go duration such as 5m"
	ExpiringSoon string `json:"expiringSoon,omitempty"`
}

// NotificationRecord is one notification delivered to one sink.
type NotificationRecord struct {
	// Sink is the name of the sink in the connection's spec.notifications.
	// +kubebuilder:validation:MaxLength=63
	Sink string `json:"sink"`
	// ID is the event's id (a CloudEvent's id): the request's uid and the
	// event type, so a receiver can de-duplicate a redelivery.
	// +kubebuilder:validation:MaxLength=128
	ID string `json:"id"`
}

// MaxNotificationRecords bounds status.notified.
const MaxNotificationRecords = 128
