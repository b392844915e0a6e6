package model

import (
	"context"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/qscope/qscope/discover"
	"github.com/qscope/qscope/model/console"
	"github.com/qscope/qscope/qmp"
	"github.com/qscope/qscope/ui"
)

// consolePane embeds the QMP console (package console) as a ConsolePane.
type consolePane struct{ m console.Model }

func (c *consolePane) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	c.m, cmd = c.m.Update(msg)
	return cmd
}
func (c *consolePane) View() string              { return c.m.View() }
func (c *consolePane) SetSize(w, h int)          { c.m.SetSize(w, h) }
func (c *consolePane) ShortHelp() []key.Binding  { return c.m.ShortHelp() }
func (c *consolePane) FullHelp() [][]key.Binding { return c.m.FullHelp() }
func (c *consolePane) WantsEsc() bool            { return c.m.WantsEsc() }
func (c *consolePane) Value() string             { return c.m.Value() }
func (c *consolePane) SetTheme(t *ui.Theme)      { c.m.SetTheme(t) }

// defaultConsole builds the console on the session's monitor (the same
// connection details and events use).
func (m *Model) defaultConsole(ctx context.Context, mon qmp.Monitor, g discover.Guest) (ConsolePane, tea.Cmd) {
	cfg := console.Config{
		Context:  ctx,
		Monitor:  mon,
		Guest:    g,
		Theme:    m.theme,
		ReadOnly: m.cfg.ReadOnly,
	}
	if f := m.cfg.Force; f != nil && g.Owner == discover.OwnerLibvirt {
		cfg.Force = func(ctx context.Context) (qmp.Monitor, error) { return f(ctx, g) }
	}
	c := &consolePane{m: console.New(cfg)}
	return c, c.m.Init()
}
