package metrics

import (
	_ "embed"
	"slices"
)

//go:embed grafana/jetq.json
var grafanaDashboard []byte

// GrafanaDashboard returns a Grafana dashboard (JSON, schema version 39)
// built on the metrics [Metrics.Handler] serves: queue depth, oldest pending
// age, in flight, redelivered, dead-letter records, rate limits and places
// per key in use, processing rates and duration percentiles, filtered by
// queue and task. Import it in Grafana or
// provision it from a file; its datasource variable picks the Prometheus
// data source. The file is metrics/grafana/jetq.json in the repository. Each
// call returns a new copy.
func GrafanaDashboard() []byte { return slices.Clone(grafanaDashboard) }
