package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, in a registry of its own
// (with Go's runtime and the process's own series).
type metrics struct {
	registry         *prometheus.Registry
	requests         *prometheus.CounterVec
	inferenceSeconds prometheus.Histogram
	queueSeconds     prometheus.Histogram
	batchSize        prometheus.Histogram
	queueDepth       prometheus.Gauge
	modelStep        prometheus.Gauge
	reloads          *prometheus.CounterVec
}

func newMetrics() *metrics {
	latency := prometheus.ExponentialBuckets(0.0005, 2, 16) // 0.5 ms to 16 s
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resgo_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		inferenceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "resgo_inference_duration_seconds", Help: "Time of one forward pass (one batch).", Buckets: latency,
		}),
		queueSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "resgo_queue_duration_seconds", Help: "Time a request's images waited for their forward pass.", Buckets: latency,
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "resgo_batch_size", Help: "Images per forward pass.", Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resgo_queue_depth", Help: "Images waiting for a forward pass.",
		}),
		modelStep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "resgo_model_step", Help: "Training step of the checkpoint being served.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "resgo_model_reloads_total", Help: "Checkpoint loads by result (ok or error).",
		}, []string{"result"}),
	}
	m.registry.MustRegister(m.requests, m.inferenceSeconds, m.queueSeconds, m.batchSize, m.queueDepth, m.modelStep, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
