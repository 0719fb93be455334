package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// SendTimeout bounds one delivery: a slow sink holds one notification worker
// for at most this long, and never a grant or a revocation.
const SendTimeout = 5 * time.Second

// Sender delivers events to one sink.
type Sender interface {
	Send(ctx context.Context, e Event) error
}

// SinkConfig is a sink with what its Secret holds.
type SinkConfig struct {
	Sink accessv1alpha1.NotificationSink
	// URL, Token and CABundle come from the sink's Secret (keys url, token,
	// ca.crt).
	URL      string
	Token    string
	CABundle []byte
	// AllowInsecure permits an http:// URL (--allow-insecure-notification-urls).
	AllowInsecure bool
}

// NewSender builds the sender of the sink's type. Errors never include the
// URL or the token: a Slack webhook URL is a credential.
func NewSender(cfg SinkConfig) (Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("sink %q: key url of its Secret is not an http(s) URL with a host", cfg.Sink.Name)
	}
	if u.Scheme == "http" && !cfg.AllowInsecure {
		return nil, fmt.Errorf("sink %q: its URL is http://, which sends every notification (and any token) unencrypted; use https, or run the operator with --allow-insecure-notification-urls", cfg.Sink.Name)
	}
	hc, err := httpClient(cfg)
	if err != nil {
		return nil, err
	}
	switch cfg.Sink.Type {
	case accessv1alpha1.SinkCloudEvents:
		return newCloudEventsSender(cfg, hc)
	case accessv1alpha1.SinkSlack:
		return slackSender{url: cfg.URL, token: cfg.Token, client: hc}, nil
	}
	return nil, fmt.Errorf("sink %q: unknown type %q", cfg.Sink.Name, cfg.Sink.Type)
}

func httpClient(cfg SinkConfig) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CABundle) {
			return nil, fmt.Errorf("sink %q: key ca.crt of its Secret holds no PEM certificate", cfg.Sink.Name)
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout:   SendTimeout,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment},
		// A redirect could carry the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

type cloudEventsSender struct {
	client cloudevents.Client
}

func newCloudEventsSender(cfg SinkConfig, hc *http.Client) (Sender, error) {
	opts := []cehttp.Option{cehttp.WithTarget(cfg.URL), cehttp.WithClient(*hc)}
	if cfg.Token != "" {
		opts = append(opts, cehttp.WithHeader("Authorization", "Bearer "+cfg.Token))
	}
	c, err := cloudevents.NewClientHTTP(opts...)
	if err != nil {
		return nil, fmt.Errorf("sink %q: build the CloudEvents client: %w", cfg.Sink.Name, err)
	}
	return cloudEventsSender{client: c}, nil
}

// Send posts the event in structured mode: one JSON envelope, the form every
// CloudEvents receiver accepts.
func (s cloudEventsSender) Send(ctx context.Context, e Event) error {
	ce := cloudevents.NewEvent()
	ce.SetID(e.ID)
	ce.SetType(CloudEventTypePrefix + string(e.Type))
	ce.SetSource(source(e.Request))
	ce.SetSubject(e.Request.Name)
	ce.SetTime(e.Time)
	if err := ce.SetData(cloudevents.ApplicationJSON, payloadOf(e)); err != nil {
		return fmt.Errorf("encode the event: %w", err)
	}
	res := s.client.Send(binding.WithForceStructured(ctx), ce)
	if cloudevents.IsACK(res) {
		return nil
	}
	var httpResult *cehttp.Result
	if errors.As(res, &httpResult) {
		return fmt.Errorf("the CloudEvents sink answered HTTP %d", httpResult.StatusCode)
	}
	return fmt.Errorf("the CloudEvents sink did not take the event: %w", redact(res))
}

// source is the request's API path, the CloudEvent source.
func source(er *accessv1alpha1.ElevationRequest) string {
	return fmt.Sprintf("/apis/%s/namespaces/%s/elevationrequests/%s", accessv1alpha1.GroupVersion.String(), er.Namespace, er.Name)
}

type slackSender struct {
	url, token string
	client     *http.Client
}

// slackMessage is incoming-webhook JSON: text with Slack's mrkdwn, which
// Mattermost and Rocket.Chat render too.
type slackMessage struct {
	Text string `json:"text"`
}

func (s slackSender) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(slackMessage{Text: slackText(e)})
	if err != nil {
		return fmt.Errorf("encode the message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("build the request to the Slack sink")
	}
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to the Slack sink: %w", redact(err))
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the Slack sink answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// redact strips the URL from a transport error: a Slack webhook URL is a
// credential, and net/http puts it in every error it returns.
func redact(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("%s: %w", uerr.Op, uerr.Err)
	}
	return err
}
