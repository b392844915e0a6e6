package keymap

import (
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNoClashesInAContext(t *testing.T) {
	for _, ro := range []bool{false, true} {
		for name, bindings := range New(ro).Contexts() {
			seen := map[string]string{}
			for _, bnd := range bindings {
				if !bnd.Enabled() {
					continue
				}
				for _, k := range bnd.Keys() {
					if prev, ok := seen[k]; ok && prev != bnd.Help().Desc {
						t.Errorf("readonly=%v context %s: key %q bound to %q and %q", ro, name, k, prev, bnd.Help().Desc)
					}
					seen[k] = bnd.Help().Desc
				}
			}
			if len(seen) == 0 {
				t.Errorf("context %s binds nothing", name)
			}
		}
	}
}

func TestForbiddenKeysUnused(t *testing.T) {
	for name, bindings := range New(false).Contexts() {
		for _, bnd := range bindings {
			for _, k := range bnd.Keys() {
				if slices.Contains(Forbidden, k) {
					t.Errorf("context %s binds forbidden key %q (%s)", name, k, bnd.Help().Desc)
				}
			}
		}
	}
}

func TestEveryContextCanQuit(t *testing.T) {
	for name, bindings := range New(false).Contexts() {
		ok := false
		for _, bnd := range bindings {
			if slices.Contains(bnd.Keys(), "ctrl+c") && bnd.Enabled() {
				ok = true
			}
		}
		if !ok {
			t.Errorf("context %s has no ctrl+c", name)
		}
	}
}

func TestReadOnlyDisablesActions(t *testing.T) {
	km := New(true)
	for _, a := range km.List.Actions.list() {
		if a.Enabled() {
			t.Errorf("read-only key map leaves %q enabled", a.Help().Desc)
		}
	}
	for _, a := range New(false).Details.Actions.list() {
		if !a.Enabled() {
			t.Errorf("action %q disabled without read-only", a.Help().Desc)
		}
	}
}

func TestHelpTextEverywhere(t *testing.T) {
	for name, bindings := range New(false).Contexts() {
		for _, bnd := range bindings {
			if bnd.Help().Key == "" || bnd.Help().Desc == "" {
				t.Errorf("context %s: binding %v has no help text", name, bnd.Keys())
			}
		}
	}
}
