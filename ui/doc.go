// Package ui holds qscope's views: pure functions from data, a Theme and a
// size to a rendered string. The guest table, a guest's details and its
// events, the tab bar, the status and help lines, pop-ups drawn over the
// screen. Nothing here keeps state or does I/O, so every view can be
// golden-tested at a fixed size and colour profile.
//
// Theme (theme.go) holds every style in one struct, built for a dark or
// light background and rebuilt when the terminal reports its background;
// with NO_COLOR set to any non-empty value it uses no colour at all, only
// bold, faint and reverse video. A state is always written out in words
// as well as coloured.
//
// Views return lines of exactly the width they are given, so the root
// model can place panes side by side without measuring them again; the
// hot paths (one line per guest or event) use Paint, a style reduced to
// its two escape sequences.
package ui
