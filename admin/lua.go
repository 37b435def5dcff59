package admin

import (
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/slardar-go/slardar/internal/store"
	"github.com/slardar-go/slardar/luahooks"
)

// LuaEngine is what the /lua endpoints need from the Lua engine: a
// compile check before anything is stored, and the running versions.
type LuaEngine interface {
	Check(name string, src []byte) error
	Status() luahooks.Status
}

// luaStatus is GET /lua: Slardar's {global_version, commit_version,
// modules:[{name, version, time}]} plus the uploaded, inactive items.
type luaStatus struct {
	luahooks.Status
	Staged []string `json:"staged"`
}

// luaItem is GET /lua/<name>.
type luaItem struct {
	luahooks.ModuleStatus
	Active bool   `json:"active"`
	Staged bool   `json:"staged"`
	Source string `json:"source,omitempty"`
}

// postLua serves POST /lua/<name>: the body is Lua source, compiled at
// once (a syntax error answers 400 with the Lua message and line, and
// nothing is stored), then stored as uploaded, or as active with
// ?activate=1 (upload and activate in one step).
func (s *server) postLua(r *http.Request, name string) reply {
	src, err := io.ReadAll(r.Body)
	if err != nil {
		if tooBig, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errorReply(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", tooBig.Limit)
		}
		return errorReply(http.StatusBadRequest, "read body: %v", err)
	}
	if err := s.lua.Check(name, src); err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	key := store.LuaStagedKey(name)
	if activate(r) {
		key = store.LuaKey(name)
	}
	index, err := s.store.Put(r.Context(), key, src)
	if err != nil {
		return storeFailure(err)
	}
	if activate(r) {
		// An older upload of the same item is superseded.
		if _, err := s.store.Delete(r.Context(), store.LuaStagedKey(name)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return storeFailure(err)
		}
	}
	return s.waitApplied(r.Context(), index)
}

func activate(r *http.Request) bool {
	switch strings.ToLower(r.URL.Query().Get("activate")) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// putLua serves PUT /lua/<name>: activate the uploaded version.
func (s *server) putLua(r *http.Request, name string) reply {
	src, _, err := s.store.Get(r.Context(), store.LuaStagedKey(name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, _, err := s.store.Get(r.Context(), store.LuaKey(name)); err == nil {
			return reply{status: http.StatusOK, body: statusBody{Status: http.StatusOK, Msg: "already active"}}
		}
		return errorReply(http.StatusNotFound, "no uploaded code %q to activate (POST /lua/%s first)", name, name)
	case err != nil:
		return storeFailure(err)
	}
	index, err := s.activateStaged(r, name, src)
	if err != nil {
		return storeFailure(err)
	}
	return s.waitApplied(r.Context(), index)
}

// putLuaAll serves PUT /lua: activate every uploaded item, modules first
// so that scripts find the modules they require.
func (s *server) putLuaAll(r *http.Request, _ string) reply {
	snap, err := s.store.Snapshot(r.Context())
	if err != nil {
		return storeFailure(err)
	}
	names := stagedNames(snap)
	sort.SliceStable(names, func(i, j int) bool {
		return strings.HasPrefix(names[i], "modules.") && !strings.HasPrefix(names[j], "modules.")
	})
	var index uint64
	for _, name := range names {
		if index, err = s.activateStaged(r, name, snap.Entries[store.LuaStagedKey(name)]); err != nil {
			return storeFailure(err)
		}
	}
	if index == 0 {
		return reply{status: http.StatusOK, body: statusBody{Status: http.StatusOK, Msg: "nothing to activate"}}
	}
	return s.waitApplied(r.Context(), index)
}

func (s *server) activateStaged(r *http.Request, name string, src []byte) (uint64, error) {
	index, err := s.store.Put(r.Context(), store.LuaKey(name), src)
	if err != nil {
		return 0, err
	}
	if _, err := s.store.Delete(r.Context(), store.LuaStagedKey(name)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	return index, nil
}

// deleteLua serves DELETE /lua/<name>: unload the item (and drop an
// upload of it).
func (s *server) deleteLua(r *http.Request, name string) reply {
	_, stagedErr := s.store.Delete(r.Context(), store.LuaStagedKey(name))
	if stagedErr != nil && !errors.Is(stagedErr, store.ErrNotFound) {
		return storeFailure(stagedErr)
	}
	index, err := s.store.Delete(r.Context(), store.LuaKey(name))
	switch {
	case errors.Is(err, store.ErrNotFound) && stagedErr == nil:
		return okReply(0)
	case errors.Is(err, store.ErrNotFound):
		return errorReply(http.StatusNotFound, "no Lua code %q", name)
	case err != nil:
		return storeFailure(err)
	}
	return s.waitApplied(r.Context(), index)
}

// getLuaAll serves GET /lua.
func (s *server) getLuaAll(r *http.Request, _ string) reply {
	out := luaStatus{Status: s.lua.Status(), Staged: []string{}}
	if snap, err := s.store.Snapshot(r.Context()); err == nil {
		if names := stagedNames(snap); names != nil {
			out.Staged = names
		}
	}
	if out.Modules == nil {
		out.Modules = []luahooks.ModuleStatus{}
	}
	return dataReply(out)
}

// getLua serves GET /lua/<name>: its running version and load time, and
// its stored source with ?source=1.
func (s *server) getLua(r *http.Request, name string) reply {
	var item luaItem
	for _, m := range s.lua.Status().Modules {
		if m.Name == name {
			item.ModuleStatus, item.Active = m, true
		}
	}
	_, _, stagedErr := s.store.Get(r.Context(), store.LuaStagedKey(name))
	item.Staged = stagedErr == nil
	if !item.Active && !item.Staged {
		return errorReply(http.StatusNotFound, "no Lua code %q", name)
	}
	item.Name = name
	if r.URL.Query().Get("source") != "" {
		key := store.LuaKey(name)
		if !item.Active {
			key = store.LuaStagedKey(name)
		}
		if src, _, err := s.store.Get(r.Context(), key); err == nil {
			item.Source = string(src)
		}
	}
	return dataReply(item)
}

func stagedNames(snap *store.Snapshot) []string {
	var names []string
	for key := range snap.Entries {
		if name, ok := strings.CutPrefix(key, store.LuaStagedPrefix); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
