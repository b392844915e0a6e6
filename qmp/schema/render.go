package schema

import "strings"

// String renders the type for a reader: builtins by name (str, int,
// number, bool, null, any), enums as enum(a|b|c), arrays as [T],
// alternates as A|B, objects by where they are used ("device_add
// arguments") or by their member list ({a, b?}; ? marks optional
// members). Introspection's numeric type names never appear.
func (t *Type) String() string {
	var b strings.Builder
	t.render(&b, 2, 0)
	return b.String()
}

// Short renders the type like String but cuts enum value lists and member
// lists after max entries (…), for one-line displays.
func (t *Type) Short(max int) string {
	var b strings.Builder
	t.render(&b, 1, max)
	return b.String()
}

func (t *Type) render(b *strings.Builder, depth, max int) {
	if t == nil {
		b.WriteString("none")
		return
	}
	switch t.Kind {
	case Builtin:
		b.WriteString(t.Name)
	case Enum:
		b.WriteString("enum(")
		writeList(b, t.Values, max)
		b.WriteByte(')')
	case Array:
		b.WriteByte('[')
		t.Elem.render(b, depth, max)
		b.WriteByte(']')
	case Alternate:
		for i, a := range t.Alternatives {
			if i > 0 {
				b.WriteByte('|')
			}
			a.render(b, depth-1, max)
		}
	case Object:
		if t.label != "" && depth < 2 {
			b.WriteString(t.label)
			return
		}
		if len(t.Members) == 0 && t.Tag == "" {
			b.WriteString("{}")
			return
		}
		if depth <= 0 {
			b.WriteString("{…}")
			return
		}
		b.WriteByte('{')
		names := make([]string, 0, len(t.Members))
		for _, m := range t.Members {
			n := m.Name
			if m.Optional {
				n += "?"
			}
			names = append(names, n)
		}
		if t.Tag != "" {
			names = append(names, "…")
		}
		writeSep(b, names, max, ", ")
		b.WriteByte('}')
	default:
		b.WriteString("?")
	}
}

func writeList(b *strings.Builder, vals []string, max int) { writeSep(b, vals, max, "|") }

func writeSep(b *strings.Builder, vals []string, max int, sep string) {
	for i, v := range vals {
		if max > 0 && i == max {
			b.WriteString(sep)
			b.WriteString("…")
			return
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(v)
	}
}
