package keymap_test

import (
	"fmt"

	"github.com/qscope/qscope/keymap"
)

func ExampleNew() {
	km := keymap.New(false)
	for _, b := range km.List.ShortHelp() {
		fmt.Printf("%s: %s\n", b.Help().Key, b.Help().Desc)
	}
	fmt.Println("read-only pause enabled:", keymap.New(true).Details.Pause.Enabled())
	// Output:
	// enter: open
	// /: filter
	// s: sort column
	// e: events
	// c/:: console
	// ?: help
	// q: quit
	// read-only pause enabled: false
}
