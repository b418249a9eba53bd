package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/resgo/resgo/predict"
)

// inferRequest is the v2 protocol's JSON inference request.
type inferRequest struct {
	ID     string       `json:"id,omitempty"`
	Inputs []inferInput `json:"inputs"`
}

type inferInput struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

// inferResponse is the v2 protocol's JSON answer.
type inferResponse struct {
	ModelName    string        `json:"model_name"`
	ModelVersion string        `json:"model_version"`
	ID           string        `json:"id,omitempty"`
	Outputs      []inferOutput `json:"outputs"`
}

type inferOutput struct {
	Name     string  `json:"name"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype"`
	Data     any     `json:"data"`
}

// imageAnswer is the answer to images posted as files (raw or multipart):
// each image's most likely classes.
type imageAnswer struct {
	ModelName    string                 `json:"model_name"`
	ModelVersion string                 `json:"model_version"`
	Files        []string               `json:"files,omitempty"`
	Predictions  [][]predict.Prediction `json:"predictions"`
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) error {
	m := s.current()
	if m == nil {
		return errNotReady
	}
	a := s.batcher.arrive()
	defer a.leave()
	unsupported := func(t string) error {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q: want application/json, an image type or multipart/form-data", t)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return unsupported(r.Header.Get("Content-Type"))
	}
	topK := s.cfg.TopK
	if q := r.URL.Query().Get("top_k"); q != "" {
		if topK, err = strconv.Atoi(q); err != nil || topK < 1 {
			return errorf(http.StatusBadRequest, "top_k %q: want a positive integer", q)
		}
	}
	switch {
	case mediaType == "application/json":
		return s.inferJSON(w, r, m, a)
	case mediaType == "multipart/form-data":
		files, names, err := s.readMultipart(w, r, params["boundary"])
		if err != nil {
			return err
		}
		return s.inferImages(w, r, m, a, files, names, topK)
	case strings.HasPrefix(mediaType, "image/"), mediaType == "application/octet-stream":
		body, err := s.readBody(w, r)
		if err != nil {
			return err
		}
		return s.inferImages(w, r, m, a, [][]byte{body}, nil, topK)
	}
	return unsupported(mediaType)
}

// prepare decodes image files and prepares them for the model, on the
// request's goroutine: requests prepare theirs in parallel, as many at
// once as there are cores.
func (s *Server) prepare(ctx context.Context, m *loaded, files [][]byte, names []string) ([]float32, error) {
	select {
	case s.preparing <- struct{}{}:
		defer func() { <-s.preparing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var inputs []float32
	for i, f := range files {
		name := fmt.Sprintf("image %d", i)
		if names != nil && names[i] != "" {
			name = names[i]
		}
		img, err := predict.Decode(f, name)
		if err == nil {
			var x []float32
			if x, err = m.c.Prepare(img); err == nil {
				inputs = append(inputs, x...)
				continue
			}
			err = fmt.Errorf("%s: %w", name, err)
		}
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	return inputs, nil
}

func (s *Server) inferImages(w http.ResponseWriter, r *http.Request, m *loaded, a *arrival, files [][]byte, names []string, topK int) error {
	if len(files) == 0 {
		return errorf(http.StatusBadRequest, "no image in the request")
	}
	inputs, err := s.prepare(r.Context(), m, files, names)
	if err != nil {
		return err
	}
	preds, err := s.classify(r.Context(), m, a, inputs, len(files))
	if err != nil {
		return err
	}
	for i := range preds {
		preds[i] = preds[i][:min(topK, len(preds[i]))]
	}
	writeJSON(w, http.StatusOK, imageAnswer{ModelName: s.cfg.Name, ModelVersion: strconv.FormatInt(m.step, 10), Files: names, Predictions: preds})
	return nil
}

// readMultipart collects the file parts of a form (any field name).
func (s *Server) readMultipart(w http.ResponseWriter, r *http.Request, boundary string) ([][]byte, []string, error) {
	if boundary == "" {
		return nil, nil, errorf(http.StatusBadRequest, "multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), boundary)
	var files [][]byte
	var names []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, err
			}
			return nil, nil, errorf(http.StatusBadRequest, "reading the form: %v", err)
		}
		if p.FileName() == "" {
			p.Close()
			continue
		}
		b, err := io.ReadAll(p)
		p.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, nil, err
			}
			return nil, nil, errorf(http.StatusBadRequest, "reading %s: %v", p.FileName(), err)
		}
		files, names = append(files, b), append(names, p.FileName())
	}
	return files, names, nil
}

func (s *Server) inferJSON(w http.ResponseWriter, r *http.Request, m *loaded, a *arrival) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	req, inputs, files, err := parseInferJSON(body, m.c.Input)
	if err != nil {
		return err
	}
	n := len(inputs) / (m.c.Input[0] * m.c.Input[1] * m.c.Input[2])
	if files != nil {
		if inputs, err = s.prepare(r.Context(), m, files, nil); err != nil {
			return err
		}
		n = len(files)
	}
	preds, err := s.classify(r.Context(), m, a, inputs, n)
	if err != nil {
		return err
	}
	k := len(m.c.Labels)
	probs := make([]float32, n*k)
	labels := make([]string, n)
	for i, p := range preds {
		labels[i] = p[0].Label
		for _, q := range p {
			probs[i*k+q.Class] = float32(q.Probability)
		}
	}
	writeJSON(w, http.StatusOK, inferResponse{
		ModelName: s.cfg.Name, ModelVersion: strconv.FormatInt(m.step, 10), ID: req.ID,
		Outputs: []inferOutput{
			{Name: "probabilities", Shape: []int64{int64(n), int64(k)}, Datatype: "FP32", Data: probs},
			{Name: "label", Shape: []int64{int64(n)}, Datatype: "BYTES", Data: labels},
		},
	})
	return nil
}

// maxInputValue bounds a prepared input's values: far past any image's
// (in [0, 1], or normalised to a few standard deviations), and well below
// values that would overflow the model's output.
const maxInputValue = 1e4

// parseInferJSON reads a v2 JSON request for a model of the given input
// shape: prepared inputs (FP32), or image files (BYTES, base64) for the
// caller to prepare. Errors are 400s that say what is wrong.
func parseInferJSON(body []byte, input [3]int) (req inferRequest, inputs []float32, files [][]byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return req, nil, nil, errorf(http.StatusBadRequest, "not a v2 inference request: %v", err)
	}
	if len(req.Inputs) != 1 {
		return req, nil, nil, errorf(http.StatusBadRequest, "want exactly one input (an FP32 tensor \"input\" or a BYTES tensor \"image\"), got %d", len(req.Inputs))
	}
	in := req.Inputs[0]
	switch in.Datatype {
	case "FP32":
		per := input[0] * input[1] * input[2]
		want := []int64{int64(input[0]), int64(input[1]), int64(input[2])}
		if len(in.Shape) != 4 || in.Shape[0] < 1 || in.Shape[0] > int64(predict.MaxBatch) || !slices.Equal(in.Shape[1:], want) {
			return req, nil, nil, errorf(http.StatusBadRequest, "input %q: shape %v, want [N, %d, %d, %d] with N from 1 to %d", in.Name, in.Shape, want[0], want[1], want[2], predict.MaxBatch)
		}
		if inputs, err = flattenFloats(in.Data, int(in.Shape[0])*per); err != nil {
			return req, nil, nil, errorf(http.StatusBadRequest, "input %q: %v", in.Name, err)
		}
		return req, inputs, nil, nil
	case "BYTES":
		var encoded []string
		if err := json.Unmarshal(in.Data, &encoded); err != nil {
			return req, nil, nil, errorf(http.StatusBadRequest, "input %q: BYTES data must be base64 strings of image files: %v", in.Name, err)
		}
		if len(encoded) == 0 || len(encoded) > predict.MaxBatch {
			return req, nil, nil, errorf(http.StatusBadRequest, "input %q: %d images, want 1 to %d", in.Name, len(encoded), predict.MaxBatch)
		}
		files = make([][]byte, len(encoded))
		for i, e := range encoded {
			if files[i], err = base64.StdEncoding.DecodeString(e); err != nil {
				return req, nil, nil, errorf(http.StatusBadRequest, "input %q, image %d: not base64: %v", in.Name, i, err)
			}
		}
		return req, nil, files, nil
	}
	return req, nil, nil, errorf(http.StatusBadRequest, "input %q: datatype %q, want FP32 (prepared inputs) or BYTES (image files)", in.Name, in.Datatype)
}

// flattenFloats reads a JSON array of numbers, flat or nested as the
// tensor's shape (the v2 protocol allows both), which must hold want
// finite numbers.
func flattenFloats(raw json.RawMessage, want int) ([]float32, error) {
	// Each number takes two bytes of JSON at least: a short body cannot
	// make this allocate what its shape claims.
	out := make([]float32, 0, min(want, len(raw)/2+1))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	depth := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data: %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '[' {
				depth++
			} else if t == ']' {
				depth--
			} else {
				return nil, errors.New("data: want numbers in arrays")
			}
		case json.Number:
			if depth == 0 || len(out) == want {
				return nil, fmt.Errorf("data: more than the %d numbers the shape holds", want)
			}
			v, err := strconv.ParseFloat(string(t), 32)
			if err != nil {
				return nil, fmt.Errorf("data: %v", err)
			}
			if math.Abs(v) > maxInputValue {
				return nil, fmt.Errorf("data: %v is out of range (prepared inputs are within ±%g)", v, float64(maxInputValue))
			}
			out = append(out, float32(v))
		default:
			return nil, fmt.Errorf("data: %v is not a number", tok)
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("data: %d numbers, the shape holds %d", len(out), want)
	}
	return out, nil
}
