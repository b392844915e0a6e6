package ui_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/ui"
)

func ExampleGuestTable() {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	guests := []discover.Guest{
		{Name: "web", PID: 4242, State: discover.StateRunning, Owner: discover.OwnerProcess, Started: start, CPUPercent: 12.5, RSS: 300 << 20},
		{Name: "db", PID: 4343, State: discover.StateBusy, Reason: "monitor held by another client", Owner: discover.OwnerProcess, Started: start, RSS: 1 << 30},
	}
	theme := ui.NewTheme(true, true) // no colour: the output is plain text
	out := ui.GuestTable(theme, ui.Table{Guests: guests, Selected: -1, Now: start.Add(90 * time.Minute)}, 80, 3)
	for _, l := range strings.Split(out, "\n") {
		fmt.Println(strings.TrimRight(ansi.Strip(l), " "))
	}
	// Output:
	// NAME↓  OWNER       PID STATE         CPU%    MEM UPTIME REASON
	// web    process    4242 running       12.5   300M  1h30m
	// db     process    4343 busy           0.0   1.0G  1h30m monitor held by another…
}

func ExampleBytes() {
	fmt.Println(ui.Bytes(512), ui.Bytes(1536), ui.Bytes(64<<20), ui.Bytes(3<<30))
	fmt.Println(ui.Duration(42*time.Second), ui.Duration(5*time.Minute+3*time.Second), ui.Duration(50*time.Hour))
	// Output:
	// 512B 1.5K 64.0M 3.0G
	// 42s 5m03s 2d02h
}
