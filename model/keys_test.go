package model

import (
	"slices"
	"testing"

	"github.com/qscope/qscope/keymap"
	"github.com/qscope/qscope/model/console"
)

// While the console has the focus the keys matched are the root's console
// keys and the console's own: together they must not clash (esc is shared
// on purpose: the console takes it while a pop-up or prompt is open, the
// root otherwise) and must not use a multiplexer's prefix or ctrl+d.
func TestConsoleContextKeys(t *testing.T) {
	for _, ro := range []bool{false, true} {
		root := keymap.New(ro).Console
		seen := map[string]string{}
		for _, g := range root.FullHelp() {
			for _, b := range g {
				for _, k := range b.Keys() {
					seen[k] = "root " + b.Help().Desc
				}
			}
		}
		if len(seen) < 3 {
			t.Fatalf("root console keys: %v", seen)
		}
		for _, g := range console.DefaultKeyMap().FullHelp() {
			for _, b := range g {
				for _, k := range b.Keys() {
					if slices.Contains(keymap.Forbidden, k) {
						t.Errorf("console binds forbidden key %q (%s)", k, b.Help().Desc)
					}
					if prev, ok := seen[k]; ok && k != "esc" {
						t.Errorf("readonly=%v: key %q is both %s and console %s", ro, k, prev, b.Help().Desc)
					}
					seen[k] = "console " + b.Help().Desc
				}
			}
		}
	}
}
