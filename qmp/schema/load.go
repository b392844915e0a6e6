package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/qscope/qscope/qmp"
)

// Loader loads schemas, through an on-disk cache. The zero value uses the
// per-user cache directory ([DefaultCacheDir]).
type Loader struct {
	// Dir is the cache directory; empty means DefaultCacheDir().
	Dir string
	// NoCache makes Load always ask QEMU and never touch the disk.
	NoCache bool
	// Binary identifies the QEMU binary (BinaryID) and is part of the
	// cache key, so that a schema is reused only for the same binary.
	// Empty: the key is the version and package string QEMU reports,
	// which any process serving QMP can claim — set it, or NoCache, when
	// the monitor may not be a real QEMU.
	Binary string
}

// Load builds the schema of the QEMU behind m with the default Loader.
func Load(ctx context.Context, m qmp.Monitor) (*Schema, error) {
	var l Loader
	return l.Load(ctx, m)
}

// versionInfo is query-version's reply.
type versionInfo = qmp.Version

// Load asks QEMU for its version (query-version), returns the cached
// schema for that version and package string when there is a valid one,
// and otherwise reads query-qmp-schema, builds the model and caches the
// raw introspection. A cache file that is unreadable or corrupt is
// rebuilt. A QEMU without query-qmp-schema gets a names-only schema from
// query-commands (not cached).
func (l *Loader) Load(ctx context.Context, m qmp.Monitor) (*Schema, error) {
	var v versionInfo
	if err := m.Execute(ctx, "query-version", nil, &v); err != nil {
		return nil, fmt.Errorf("schema: asking QEMU its version: %w", err)
	}
	version, pkg := v.String(), v.Package
	var path string
	if !l.NoCache {
		dir := l.Dir
		if dir == "" {
			var err error
			if dir, err = DefaultCacheDir(); err != nil {
				dir = ""
			}
		}
		if dir != "" {
			key := pkg
			if l.Binary != "" {
				key += "\x00" + l.Binary
			}
			path = cachePath(dir, version, key)
			if s, err := readCache(path, version, pkg); err == nil {
				return s, nil
			}
		}
	}
	var raw json.RawMessage
	err := m.Execute(ctx, "query-qmp-schema", nil, &raw)
	var qe *qmp.Error
	if errors.As(err, &qe) && qe.Class == "CommandNotFound" {
		return loadCommandList(ctx, m, version, pkg)
	}
	if err != nil {
		return nil, fmt.Errorf("schema: reading query-qmp-schema: %w", err)
	}
	s, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	s.Version, s.Package, s.Source = version, pkg, FromLive
	if path != "" {
		// A cache that cannot be written only costs time next open.
		_ = writeCache(path, version, pkg, raw)
	}
	return s, nil
}

func loadCommandList(ctx context.Context, m qmp.Monitor, version, pkg string) (*Schema, error) {
	var list []struct {
		Name string `json:"name"`
	}
	if err := m.Execute(ctx, "query-commands", nil, &list); err != nil {
		return nil, fmt.Errorf("schema: reading query-commands: %w", err)
	}
	names := make([]string, 0, len(list))
	for _, c := range list {
		names = append(names, c.Name)
	}
	s, err := FromCommandNames(names)
	if err != nil {
		return nil, err
	}
	s.Version, s.Package = version, pkg
	return s, nil
}
