package caddymodule

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func metricValue(t *testing.T, metrics, series string) float64 {
	t.Helper()
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsCountOutcomesWithBoundedLabels(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", "")
	before := scrape(t, handlerAdminPort)
	okSeries := `caddy_applink_requests_total{consumer="bamboo:93f2",mode="2lo-impersonation",outcome="ok"}`
	unknownSeries := `caddy_applink_requests_total{consumer="unknown",mode="refused",outcome="consumer_key_unknown"}`

	for i := 0; i < 3; i++ {
		resp, _ := do(t, tester, signSpec{Target: "/rest/a?xoauth_requestor_id=user" + strconv.Itoa(i)}.build(t))
		if resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
	for i := 0; i < 2; i++ {
		// Attacker-chosen consumer keys must not become label values.
		do(t, tester, signSpec{Consumer: "attacker-" + strconv.Itoa(i), Target: "/rest/a"}.build(t))
	}
	after := scrape(t, handlerAdminPort)
	if d := metricValue(t, after, okSeries) - metricValue(t, before, okSeries); d != 3 {
		t.Errorf("%s grew by %v, want 3", okSeries, d)
	}
	if d := metricValue(t, after, unknownSeries) - metricValue(t, before, unknownSeries); d != 2 {
		t.Errorf("%s grew by %v, want 2", unknownSeries, d)
	}
	for _, leak := range []string{"attacker-", "user0", "user1"} {
		if strings.Contains(after, leak) {
			t.Errorf("metrics contain %q: labels must stay bounded and never name users", leak)
		}
	}
	if !strings.Contains(after, "caddy_applink_verify_duration_seconds_bucket") || !strings.Contains(after, "caddy_applink_stored_tokens") {
		t.Error("latency histogram or stored-tokens gauge missing")
	}

	resp, body := readAdmin(t, handlerAdminPort, "/applink/ready")
	if resp.StatusCode != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("readiness: %d %s", resp.StatusCode, body)
	}
}

// TestMetricsClockSkew: the skew histogram files each signed request, by
// its bounded consumer label, accepted or refused for its timestamp.
func TestMetricsClockSkew(t *testing.T) {
	rec := newRecorder(t)
	tester := startProxy(t, rec, "", "")
	series := func(consumer, le string) string {
		return `caddy_applink_clock_skew_seconds_bucket{consumer="` + consumer + `",le="` + le + `"}`
	}
	before := scrape(t, handlerAdminPort)
	behind := strconv.FormatInt(time.Now().Add(-90*time.Second).Unix(), 10)
	if resp, _ := do(t, tester, signSpec{Target: "/rest/a", Timestamp: behind}.build(t)); resp.StatusCode != 200 {
		t.Fatalf("90 s behind: %d", resp.StatusCode)
	}
	ahead := strconv.FormatInt(time.Now().Add(20*time.Minute).Unix(), 10)
	if resp, _ := do(t, tester, signSpec{Target: "/rest/a", Timestamp: ahead}.build(t)); resp.StatusCode != 400 {
		t.Fatalf("20 min ahead: %d, want 400", resp.StatusCode)
	}
	do(t, tester, signSpec{Consumer: "attacker", Target: "/rest/a", Timestamp: behind}.build(t))
	after := scrape(t, handlerAdminPort)
	grew := func(s string) float64 { return metricValue(t, after, s) - metricValue(t, before, s) }
	const c = "bamboo:93f2"
	for _, tc := range []struct {
		le   string
		want float64
	}{{"-120", 0}, {"-60", 1}, {"900", 1}, {"3600", 2}, {"+Inf", 2}} {
		if d := grew(series(c, tc.le)); d != tc.want {
			t.Errorf("%s grew by %v, want %v", series(c, tc.le), d, tc.want)
		}
	}
	if d := grew(series("unknown", "-60")); d != 1 {
		t.Errorf("an unknown consumer's skew: %v, want 1 under \"unknown\"", d)
	}
	if strings.Contains(after, "attacker") {
		t.Error("a consumer key from the request became a label")
	}
}
