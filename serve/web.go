package serve

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
)

// The drawing page: one HTML file with its style and script inline,
// embedded in the binary (nothing is fetched at run time).
//
//go:embed web/index.html
var pageSource string

var page = template.Must(template.New("page").Parse(pageSource))

func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	var b bytes.Buffer
	if err := page.Execute(&b, map[string]string{"Name": s.cfg.Name}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:")
	_, err := w.Write(b.Bytes())
	return err
}
