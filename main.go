// Command qscope shows every QEMU virtual machine on the host in one live
// terminal UI, and opens any of them: its details, its events and a QMP
// console. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/qscope/qscope/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
