package debugpage

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"time"
)

// assets holds the page's template, script and style sheet.
//
//go:embed assets
var assets embed.FS

// parsePage parses the page's template.
func parsePage() (*template.Template, error) {
	t, err := template.New("page.html").Funcs(template.FuncMap{
		"rate": func(v float64) string { return fmt.Sprintf("%.1f/s", v) },
		"ms": func(v float64) string {
			return (time.Duration(v * float64(time.Millisecond))).Round(time.Millisecond).String()
		},
	}).ParseFS(assets, "assets/page.html")
	if err != nil {
		return nil, fmt.Errorf("debugpage: parse the page's template: %w", err)
	}
	return t, nil
}

// serveIndex renders the page with the current state; its script then
// follows the live updates.
func (h *Handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, h.state(h.read())); err != nil {
		http.Error(w, "debugpage: render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// setPageHeaders keeps the page's content to its own script and style, so
// that a payload shown on it cannot run as code, and out of frames.
func setPageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// serveAsset serves the page's script and style sheet.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	typ, ok := types[path.Ext(file)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := assets.ReadFile("assets/" + file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", typ)
	w.Write(data)
}
