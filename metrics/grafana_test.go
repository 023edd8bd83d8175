package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/metrics"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		Expr       string      `json:"expr"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(metrics.GrafanaDashboard()))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("GrafanaDashboard: %v", err)
	}
	return d
}

// allPanels returns the panels of d, those in rows included.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}`)
	matcherRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	identRE    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// selectors returns the metric names a PromQL expression reads, each with
// the labels its matchers name, and the labels it groups or matches by.
func selectors(expr string) (out map[string][]string, grouping []string) {
	out = map[string][]string{}
	expr = stringRE.ReplaceAllString(expr, `""`)
	expr = selectorRE.ReplaceAllStringFunc(expr, func(sel string) string {
		m := selectorRE.FindStringSubmatch(sel)
		for _, l := range matcherRE.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], l[1])
		}
		if _, ok := out[m[1]]; !ok {
			out[m[1]] = nil
		}
		return " " + m[1] + " "
	})
	for _, g := range groupingRE.FindAllString(expr, -1) {
		inner := g[strings.Index(g, "(")+1 : len(g)-1]
		for l := range strings.SplitSeq(inner, ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouping = append(grouping, l)
			}
		}
	}
	expr = groupingRE.ReplaceAllString(expr, " ")
	expr = rangeRE.ReplaceAllString(expr, " ")
	for _, m := range identRE.FindAllStringSubmatch(expr, -1) {
		if m[1] != "" || slices.Contains([]string{"and", "or", "unless", "bool", "offset", "inf", "nan"}, m[0]) {
			continue // a function, or a keyword
		}
		if _, ok := out[m[0]]; !ok {
			out[m[0]] = nil
		}
	}
	delete(out, "")
	return out, grouping
}

func TestSelectors(t *testing.T) {
	t.Parallel()
	got, grouping := selectors(`histogram_quantile(0.95, sum by (le, jetq_task_name) (rate(x_bucket{a=~"$q", b!="}"}[$__rate_interval]))) / on (c) y + max(z)`)
	want := map[string][]string{"x_bucket": {"a", "b"}, "y": nil, "z": nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("metrics: got %v, want %v", got, want)
	}
	if want := []string{"le", "jetq_task_name", "c"}; !slices.Equal(grouping, want) {
		t.Errorf("grouping: got %v, want %v", grouping, want)
	}
}

// family returns the family a sample name belongs to: itself, or the
// histogram or summary whose _bucket, _count or _sum it is.
func (s scrape) family(name string) (*dto.MetricFamily, []string) {
	if mf := s[name]; mf != nil {
		return mf, nil
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		base, ok := strings.CutSuffix(name, suffix)
		mf := s[base]
		if !ok || mf == nil {
			continue
		}
		switch t := mf.GetType(); {
		case t == dto.MetricType_HISTOGRAM:
			return mf, []string{"le"}
		case t == dto.MetricType_SUMMARY && suffix != "_bucket":
			return mf, nil
		}
	}
	return nil, nil
}

// TestGrafanaDashboardMatchesScrape checks that every metric, and every
// label a matcher names, in every panel and variable query of the shipped
// dashboard appears in a real scrape of the handler after a workload.
func TestGrafanaDashboardMatchesScrape(t *testing.T) {
	t.Parallel()
	b := setup(t)
	runWorkload(t, b)
	s := runLimitedWorkload(t, b)
	d := loadDashboard(t)

	check := func(where, expr string) {
		t.Helper()
		sel, grouping := selectors(expr)
		if len(sel) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		anyHas := map[string]bool{} // labels of any metric of expr
		for name, labels := range sel {
			mf, implicit := s.family(name)
			if mf == nil {
				t.Errorf("%s: metric %s is not in the scrape (%q)", where, name, expr)
				continue
			}
			have := map[string]bool{}
			for _, l := range implicit {
				have[l] = true
			}
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					have[lp.GetName()] = true
				}
			}
			for _, l := range labels {
				if !have[l] {
					t.Errorf("%s: metric %s has no label %s (%q)", where, name, l, expr)
				}
			}
			for l := range have {
				anyHas[l] = true
			}
		}
		for _, l := range grouping {
			if !anyHas[l] {
				t.Errorf("%s: no metric has the label %s it groups by (%q)", where, l, expr)
			}
		}
	}
	exprs := 0
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			exprs++
			check(fmt.Sprintf("panel %q", p.Title), tg.Expr)
		}
	}
	if exprs < 10 {
		t.Errorf("got %d queries in the dashboard, want the panels the package documents", exprs)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query %s: %v", v.Name, v.Query, err)
			continue
		}
		inner, ok := strings.CutPrefix(q, "label_values(")
		name, label, ok2 := strings.Cut(strings.TrimSuffix(inner, ")"), ", ")
		if !ok || !ok2 {
			t.Errorf("variable %s: got %q, want label_values(metric, label)", v.Name, q)
			continue
		}
		check("variable "+v.Name, name)
		check("variable "+v.Name, fmt.Sprintf(`%s{%s=""}`, strings.SplitN(name, "{", 2)[0], label))
	}
}

// TestGrafanaDashboardShape checks what Grafana needs to import the
// dashboard: a schema version, a Prometheus data source variable every
// query uses, the queue and task variables, and panels that do not overlap.
func TestGrafanaDashboardShape(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.SchemaVersion < 36 || d.UID == "" {
		t.Errorf("schemaVersion %d, uid %q: want 36 or newer and a uid", d.SchemaVersion, d.UID)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if want := map[string]string{"datasource": "datasource", "queue": "query", "task": "query"}; fmt.Sprint(vars) != fmt.Sprint(want) {
		t.Errorf("variables: got %v, want %v", vars, want)
	}
	want := datasource{Type: "prometheus", UID: "${datasource}"}
	ids := map[int]bool{}
	var cells [][2]int
	for _, p := range allPanels(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || *p.Datasource != want {
			t.Errorf("panel %q: datasource %v, want %v", p.Title, p.Datasource, want)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || *tg.Datasource != want {
				t.Errorf("panel %q: query datasource %v, want %v", p.Title, tg.Datasource, want)
			}
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if slices.Contains(cells, [2]int{x, y}) {
					t.Errorf("panel %q overlaps another at %d,%d", p.Title, x, y)
				}
				cells = append(cells, [2]int{x, y})
			}
		}
	}
	// Each call gets its own copy.
	a := metrics.GrafanaDashboard()
	a[0] = 'x'
	if metrics.GrafanaDashboard()[0] == 'x' {
		t.Error("GrafanaDashboard returned shared bytes")
	}
}

// runLimitedWorkload runs a worker with a type limited to 5 starts an hour
// and 1 a key, and one limited to one running task per key, each with a
// task of key k: it returns the first scrape with every limit gauge.
func runLimitedWorkload(t *testing.T, b *bundle) scrape {
	t.Helper()
	keyed := tasks.Define[int]("job.keyed", tasks.WithRateLimit(5, time.Hour), tasks.WithKeyRateLimit(1, time.Hour))
	placed := tasks.Define[int]("job.placed", tasks.WithKeyConcurrency(1))
	release := make(chan struct{})
	reg := tasks.NewRegistry()
	tasks.MustHandle(reg, keyed, func(context.Context, *tasks.Task[int]) error { return nil })
	tasks.MustHandle(reg, placed, blockUntil(release))
	b.startWorker(t, reg, consumer.WithShutdownTimeout(time.Second))
	t.Cleanup(func() { close(release) }) // before the worker stops
	for _, def := range []*tasks.Definition[int]{keyed, placed} {
		if _, err := producer.Enqueue(context.Background(), b.p, def, 1, producer.WithKey("k")); err != nil {
			t.Fatal(err)
		}
	}
	return b.waitScrape(t, func(s scrape) error {
		for _, name := range []string{"jetq_rate_limit_top_key_starts", "jetq_key_running_top_key_places"} {
			if _, ok := s.value(name, map[string]string{"key": "k"}); !ok {
				return fmt.Errorf("%s{key=k} not in the scrape yet", name)
			}
		}
		return nil
	})
}
