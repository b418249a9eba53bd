// Package serve puts a trained checkpoint behind HTTP, with KServe's
// "open inference protocol" (v2) routes:
//
//	GET  /v2/health/live             200 while the process runs
//	GET  /v2/health/ready            200 once a model is loaded, else 503
//	GET  /v2                         server metadata
//	GET  /v2/models/{name}           model metadata (inputs, outputs, version = step)
//	GET  /v2/models/{name}/ready     as health/ready, for the model
//	POST /v2/models/{name}/infer     inference
//	GET  /metrics                    Prometheus metrics
//	GET  /                           a page to draw a digit on and see the answer
//
// An inference request is a v2 JSON body (an FP32 tensor of prepared
// inputs [N, C, H, W], or a BYTES tensor of base64-encoded image files),
// an image file as the raw body (Content-Type image/* or
// application/octet-stream), or images in a multipart form; answers carry
// the model's step as its version. Concurrent requests are joined into
// one forward pass (dynamic batching) up to a maximum batch size and a
// maximum wait. With Watch, a newer checkpoint is loaded in the
// background and swapped in between batches: no request fails for it.
package serve
