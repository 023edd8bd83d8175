package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSDKDisabledExportsNothing runs the example with OpenTelemetry
// disabled and an endpoint set: it must not claim an export nor print the
// all-zero IDs of spans that were never recorded.
func TestSDKDisabledExportsNothing(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	if strings.Contains(got, "exported to") || strings.Contains(got, "00000000000000000000000000000000") {
		t.Errorf("with OTEL_SDK_DISABLED=true the example printed an export or zero trace IDs:\n%s", got)
	}
	if !strings.Contains(got, "OTEL_SDK_DISABLED=true") || strings.Count(got, "finished ") != 3 {
		t.Errorf("want the three tasks finished and a word that tracing is off; got:\n%s", got)
	}
}

// TestInMemoryTraces runs the example without configuration: it prints each
// trace as a tree.
func TestInMemoryTraces(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if got := out.String(); strings.Count(got, "\ntrace ") != 2 || !strings.Contains(got, "POST /signup") {
		t.Errorf("want two traces printed as trees; got:\n%s", got)
	}
}
