// Package skills serves a skill exposes block: a read-only HTTP catalogue of
// the agent skills a capability describes, in the reference engine's shape.
//
//	GET /skills                          {count, skills: [{name, description, license, tools}]}
//	GET /skills/{name}                   the skill, its tools as invocation references or instructions
//	GET /skills/{name}/download          the skill's folder as a ZIP archive
//	GET /skills/{name}/contents          the folder's files: path, size, media type
//	GET /skills/{name}/contents/{file...} one file
//
// Files are read through an os.Root opened on the skill's folder, so no
// name (`..`, an absolute path, a symbolic link) reaches outside it; hidden
// files and folders (.git, .env) are never served.
package skills

import (
	"archive/zip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/naftiko/naftiko/engine"
	"github.com/naftiko/naftiko/engine/fault"
)

// maxFiles and maxBytes bound what one download or listing walks: a
// skill's folder is documentation, not a file share.
const (
	maxFiles = 1000
	maxBytes = 64 << 20
)

// Handler serves one skill block.
type Handler struct {
	s      *engine.SkillSurface
	byName map[string]*engine.Skill
	logger *slog.Logger
	mux    *http.ServeMux
}

// New builds the handler of a compiled skill block.
func New(s *engine.SkillSurface, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{s: s, byName: map[string]*engine.Skill{}, logger: logger, mux: http.NewServeMux()}
	for _, sk := range s.Skills {
		h.byName[sk.Name] = sk
	}
	h.mux.HandleFunc("GET /skills", h.list)
	h.mux.HandleFunc("GET /skills/{name}", h.skill(h.detail))
	h.mux.HandleFunc("GET /skills/{name}/download", h.skill(h.download))
	h.mux.HandleFunc("GET /skills/{name}/contents", h.skill(h.contents))
	h.mux.HandleFunc("GET /skills/{name}/contents/{file...}", h.skill(h.file))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, fault.New(fault.MethodNotAllowed, "%s is not served: a skill catalogue is read with GET", r.Method))
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.fail(w, r, fault.New(fault.NotFound, "no such path %s: this block serves /skills", r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r)
}

type summary struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	License     string   `json:"license,omitempty"`
	Tools       []string `json:"tools"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Count  int       `json:"count"`
		Skills []summary `json:"skills"`
	}{Count: len(h.s.Skills), Skills: []summary{}}
	for _, sk := range h.s.Skills {
		s := summary{Name: sk.Name, Description: sk.Description, License: sk.License, Tools: []string{}}
		for _, t := range sk.Tools {
			s.Tools = append(s.Tools, t.Name)
		}
		out.Skills = append(out.Skills, s)
	}
	h.json(w, out)
}

type invocation struct {
	TargetNamespace string `json:"targetNamespace"`
	Action          string `json:"action"`
	Mode            string `json:"mode"`
}

type tool struct {
	Name          string      `json:"name"`
	Description   string      `json:"description"`
	Type          string      `json:"type"`
	InvocationRef *invocation `json:"invocationRef,omitempty"`
	Instruction   string      `json:"instruction,omitempty"`
}

type detail struct {
	Name                   string            `json:"name"`
	Description            string            `json:"description"`
	License                string            `json:"license,omitempty"`
	Compatibility          string            `json:"compatibility,omitempty"`
	ArgumentHint           string            `json:"argument-hint,omitempty"`
	AllowedTools           string            `json:"allowed-tools,omitempty"`
	UserInvocable          *bool             `json:"user-invocable,omitempty"`
	DisableModelInvocation *bool             `json:"disable-model-invocation,omitempty"`
	Metadata               map[string]string `json:"metadata,omitempty"`
	Tools                  []tool            `json:"tools"`
}

func (h *Handler) detail(w http.ResponseWriter, r *http.Request, sk *engine.Skill) {
	d := detail{Name: sk.Name, Description: sk.Description, License: sk.License, Compatibility: sk.Compatibility,
		ArgumentHint: sk.ArgumentHint, AllowedTools: sk.AllowedTools, UserInvocable: sk.UserInvocable,
		DisableModelInvocation: sk.DisableModelInvocation, Metadata: sk.Metadata, Tools: []tool{}}
	for _, t := range sk.Tools {
		if t.Instruction != "" {
			d.Tools = append(d.Tools, tool{Name: t.Name, Description: t.Description, Type: "instruction", Instruction: t.Instruction})
			continue
		}
		d.Tools = append(d.Tools, tool{Name: t.Name, Description: t.Description, Type: "derived",
			InvocationRef: &invocation{TargetNamespace: t.Target, Action: t.Action, Mode: t.Mode}})
	}
	h.json(w, d)
}

// entry is one file of a skill's folder.
type entry struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

func (h *Handler) contents(w http.ResponseWriter, r *http.Request, sk *engine.Skill) {
	root, files, ok := h.files(w, r, sk)
	if !ok {
		return
	}
	root.Close()
	h.json(w, struct {
		Name  string  `json:"name"`
		Files []entry `json:"files"`
	}{sk.Name, files})
}

func (h *Handler) file(w http.ResponseWriter, r *http.Request, sk *engine.Skill) {
	root, ok := h.open(w, r, sk)
	if !ok {
		return
	}
	defer root.Close()
	name := r.PathValue("file")
	if hidden(name) {
		h.fail(w, r, fault.New(fault.NotFound, "skill %q has no file %q", sk.Name, name))
		return
	}
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		h.fail(w, r, fault.New(fault.NotFound, "skill %q has no file %q", sk.Name, name))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		h.fail(w, r, fault.New(fault.NotFound, "skill %q has no file %q", sk.Name, name))
		return
	}
	w.Header().Set("Content-Type", mediaType(name))
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.Copy(w, f)
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request, sk *engine.Skill) {
	root, files, ok := h.files(w, r, sk)
	if !ok {
		return
	}
	defer root.Close()
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+sk.Name+`.zip"`)
	zw := zip.NewWriter(w)
	for _, e := range files {
		f, err := root.Open(filepath.FromSlash(e.Path))
		if err != nil {
			h.logger.Warn("skill file vanished during download", "skill", sk.Name, "file", e.Path)
			continue
		}
		part, err := zw.Create(path.Join(sk.Name, e.Path))
		if err == nil {
			_, err = io.Copy(part, io.LimitReader(f, e.Size))
		}
		f.Close()
		if err != nil {
			h.logger.Warn("skill download cut short", "skill", sk.Name, "err", err)
			return
		}
	}
	zw.Close()
}

// files is the skill's folder and its files, or an answer saying why not;
// the caller closes the root.
func (h *Handler) files(w http.ResponseWriter, r *http.Request, sk *engine.Skill) (*os.Root, []entry, bool) {
	root, ok := h.open(w, r, sk)
	if !ok {
		return nil, nil, false
	}
	files, err := walk(root)
	if err != nil {
		root.Close()
		h.fail(w, r, err)
		return nil, nil, false
	}
	return root, files, true
}

// open is the skill's folder, or an answer saying why there is none.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, sk *engine.Skill) (*os.Root, bool) {
	if sk.Folder == "" {
		h.fail(w, r, fault.New(fault.NotFound, "skill %q has no location folder", sk.Name))
		return nil, false
	}
	root, err := os.OpenRoot(sk.Folder)
	if err != nil {
		h.logger.Warn("skill folder unreadable", "skill", sk.Name, "err", err)
		h.fail(w, r, fault.New(fault.NotFound, "the folder of skill %q cannot be read", sk.Name))
		return nil, false
	}
	return root, true
}

// walk lists a folder's regular files, sorted, within the bounds.
func walk(root *os.Root) ([]entry, error) {
	var out []entry
	var total int64
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			// Hidden files and folders (.git, .env) are a checkout's,
			// not the skill's: never listed, zipped or served.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil // directories are walked; links and devices are not served
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if len(out) == maxFiles || total+fi.Size() > maxBytes {
			return errTooLarge
		}
		total += fi.Size()
		out = append(out, entry{Path: p, Size: fi.Size(), Type: mediaType(p)})
		return nil
	})
	if errors.Is(err, errTooLarge) {
		return nil, fault.New(fault.TooLarge, "the skill's folder holds more than %d files or %d MiB", maxFiles, maxBytes>>20)
	}
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "the skill's folder cannot be read")
	}
	slices.SortFunc(out, func(a, b entry) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out, nil
}

var errTooLarge = errors.New("too large")

// hidden says whether a path names a hidden file or lies in a hidden folder.
func hidden(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

func mediaType(name string) string {
	switch path.Ext(name) {
	case ".md":
		return "text/markdown; charset=utf-8"
	case ".yaml", ".yml":
		return "application/yaml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// skill adapts a handler of one named skill, answering 404 for others.
func (h *Handler) skill(f func(http.ResponseWriter, *http.Request, *engine.Skill)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sk := h.byName[r.PathValue("name")]
		if sk == nil {
			h.fail(w, r, fault.New(fault.NotFound, "no skill %q", r.PathValue("name")))
			return
		}
		f(w, r, sk)
	}
}

func (h *Handler) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		h.logger.Debug("skill answer not written", "err", err)
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	fault.Write(w, r, fault.Classify(err), h.s.Capability.Vars.Redact)
}
