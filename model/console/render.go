package console

import (
	"bytes"
	"encoding/json"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/qscope/qscope/ui"
)

// jsonStyles colour pretty JSON.
type jsonStyles struct {
	Key, String, Number, Literal, Punct lipgloss.Style
}

// prettyJSON indents raw and colours keys, strings, numbers and literals.
// Text that is not JSON comes back as it is, sanitised. The guest's
// controls (C1 and bidi controls, which JSON strings may hold raw) are
// shown as \u escapes.
func prettyJSON(raw []byte, st jsonStyles) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return ui.SanitizeLines(string(raw))
	}
	src := string(ui.SanitizeJSON(buf.Bytes()))
	var out strings.Builder
	out.Grow(len(src) * 2)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j++
			if j > len(src) {
				j = len(src)
			}
			tok := src[i:j]
			k := j
			for k < len(src) && src[k] == ' ' {
				k++
			}
			if k < len(src) && src[k] == ':' {
				out.WriteString(st.Key.Render(tok))
			} else {
				out.WriteString(st.String.Render(tok))
			}
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && strings.IndexByte("0123456789.eE+-", src[j]) >= 0 {
				j++
			}
			out.WriteString(st.Number.Render(src[i:j]))
			i = j
		case c == 't' || c == 'f' || c == 'n':
			j := i
			for j < len(src) && src[j] >= 'a' && src[j] <= 'z' {
				j++
			}
			out.WriteString(st.Literal.Render(src[i:j]))
			i = j
		case strings.IndexByte("{}[]:,", c) >= 0:
			out.WriteString(st.Punct.Render(string(c)))
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String()
}
