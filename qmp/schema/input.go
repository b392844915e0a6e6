package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sahilm/fuzzy"
)

// Request is a command that passed Check: ready to send.
type Request struct {
	Command string
	// Args is the argument object, nil when there are none.
	Args json.RawMessage
}

// JSON renders the request as the QMP message a client sends (without an
// id): {"execute": …, "arguments": …}.
func (r Request) JSON() string {
	var b strings.Builder
	b.WriteString(`{"execute":`)
	q, _ := json.Marshal(r.Command)
	b.Write(q)
	if len(r.Args) > 0 {
		b.WriteString(`,"arguments":`)
		b.Write(r.Args)
	}
	b.WriteByte('}')
	return b.String()
}

// Line renders the request in the console's key=value syntax, with JSON
// values where a value is not a plain string, number or boolean.
func (r Request) Line() string {
	var b strings.Builder
	b.WriteString(r.Command)
	if len(r.Args) == 0 {
		return b.String()
	}
	var args object
	if err := json.Unmarshal(r.Args, &args); err != nil {
		b.WriteByte(' ')
		b.Write(r.Args)
		return b.String()
	}
	for i, k := range args.keys {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(lineValue(args.vals[i]))
	}
	return b.String()
}

func lineValue(v any) string {
	if s, ok := v.(string); ok {
		if s != "" && !strings.ContainsAny(s, " \t\"'[]{}") && !looksTyped(s) {
			return s
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// looksTyped reports whether a bare word would be read as something
// other than a string when the schema does not say.
func looksTyped(s string) bool {
	switch s {
	case "true", "false", "null":
		return true
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// InputError says what is wrong with a line, before anything is sent.
type InputError struct {
	// Command is the command named on the line ("" when the line has
	// none or names none that exists).
	Command string
	// Arg is the argument at fault, dotted for nested ones; may be empty.
	Arg string
	// Msg is the problem, already naming the argument where it helps.
	Msg string
}

func (e *InputError) Error() string {
	if e.Command == "" {
		return e.Msg
	}
	return e.Command + ": " + e.Msg
}

// Live holds values only the running QEMU knows, fetched by the caller
// and used to complete and type arguments. The zero value is empty.
type Live struct {
	// DeviceTypes are qom-list-types implements=device abstract=false.
	DeviceTypes []string
	// DeviceProps are device-list-properties results, by driver.
	DeviceProps map[string][]DeviceProp
	// BlockNodes are node names (query-named-block-nodes).
	BlockNodes []string
	// DeviceIDs are ids of user-created devices (qom-list
	// /machine/peripheral).
	DeviceIDs []string
	// Chardevs are chardev ids (query-chardev).
	Chardevs []string
	// Jobs are job ids (query-jobs).
	Jobs []string
}

// DeviceProp is one property of a device type.
type DeviceProp struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

var (
	strType  = &Type{Kind: Builtin, Name: "str"}
	intType  = &Type{Kind: Builtin, Name: "int"}
	boolType = &Type{Kind: Builtin, Name: "bool"}
	anyType  = &Type{Kind: Builtin, Name: "any"}
)

// propType maps a QOM property type to the JSON type device_add wants.
func propType(t string) *Type {
	switch t {
	case "bool":
		return boolType
	case "str", "string":
		return strType
	case "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "size":
		return intType
	}
	return nil // infer from the text
}

// token is one whitespace-separated word of a line; quotes and brackets
// group.
type token struct {
	text       string
	start, end int
	open       bool // an unterminated quote or bracket runs to the end
}

func tokenize(line string) []token {
	var toks []token
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		start := i
		var quote byte
		depth := 0
		for i < len(line) {
			c := line[i]
			if quote != 0 {
				if c == '\\' && i+1 < len(line) {
					i += 2
					continue
				}
				if c == quote {
					quote = 0
				}
				i++
				continue
			}
			if (c == ' ' || c == '\t') && depth == 0 {
				break
			}
			switch c {
			case '"', '\'':
				quote = c
			case '[', '{':
				depth++
			case ']', '}':
				if depth > 0 {
					depth--
				}
			}
			i++
		}
		toks = append(toks, token{text: line[start:i], start: start, end: i, open: quote != 0 || depth > 0})
	}
	return toks
}

// node is an argument as the line gives it: an object of dotted keys, or
// a leaf with the value's text.
type node struct {
	keys []string
	kids map[string]*node
	leaf bool
	text string
}

func (n *node) child(k string) *node {
	if c := n.kids[k]; c != nil {
		return c
	}
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	c := &node{}
	n.kids[k] = c
	n.keys = append(n.keys, k)
	return c
}

// object is a JSON object that keeps its keys in order.
type object struct {
	keys []string
	vals []any
}

func (o *object) add(k string, v any) { o.keys = append(o.keys, k); o.vals = append(o.vals, v) }

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o *object) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		o.add(kt.(string), v)
	}
	return nil
}

// Check parses line and checks it against the schema: the command must
// exist, every argument must be known, every required one given, every
// value of the right type (enum values among the allowed ones; union
// members as the discriminator selects; alternates by the form of the
// value). The line is either `command key=value …` (dotted keys build
// nested objects, a.b=1, and index arrays, a.0.b=1; values are typed by
// the schema: a str argument given 3 gets "3", an int argument 3; arrays
// and objects can also be written as JSON) or a QMP message
// {"execute": …, "arguments": {…}}.
//
// live supplies device properties for device_add, the one command whose
// arguments go beyond its schema; nil is fine. Their types from
// device-list-properties only guide: a value that reads as the reported
// type is sent as that type, any other as a string for QEMU to judge
// (addr=07.0, size=1G). The error is an *InputError.
func (s *Schema) Check(line string, live *Live) (Request, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return Request{}, &InputError{Msg: "empty command"}
	}
	if line[0] == '{' {
		return s.checkJSONLine(line, live)
	}
	toks := tokenize(line)
	name := toks[0].text
	cmd := s.commands[name]
	if cmd == nil {
		return Request{}, s.unknownCommand(name)
	}
	c := &checker{s: s, cmd: cmd, live: live}
	root := &node{}
	for _, t := range toks[1:] {
		if t.open {
			return Request{}, c.errf("", "unterminated quote or bracket in %s", t.text)
		}
		eq := strings.IndexByte(t.text, '=')
		if eq <= 0 {
			return Request{}, c.errf("", "%q is not key=value", t.text)
		}
		key, val := t.text[:eq], t.text[eq+1:]
		n := root
		parts := strings.Split(key, ".")
		for i, p := range parts {
			if p == "" {
				return Request{}, c.errf(key, "bad argument name %q", key)
			}
			if n.leaf {
				return Request{}, c.errf(key, "%q is given both as a value and as an object", strings.Join(parts[:i], "."))
			}
			n = n.child(p)
		}
		if n.leaf || len(n.keys) > 0 {
			return Request{}, c.errf(key, "argument %q given twice", key)
		}
		n.leaf, n.text = true, val
	}
	if len(root.keys) == 0 {
		if err := c.missing(cmd.Args); err != nil {
			return Request{}, err
		}
		return Request{Command: name}, nil
	}
	var v any
	var err error
	if s.NamesOnly {
		v, err = c.infer(root)
	} else {
		v, err = c.object(cmd.Args, root, "", name == "device_add")
	}
	if err != nil {
		return Request{}, err
	}
	args, err := json.Marshal(v)
	if err != nil {
		return Request{}, c.errf("", "encoding arguments: %v", err)
	}
	return Request{Command: name, Args: args}, nil
}

func (s *Schema) unknownCommand(name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if near := s.nearest(name); near != "" {
		msg += "; did you mean " + near + "?"
	}
	return &InputError{Msg: msg}
}

// nearest is the command closest to a mistyped name: the smallest edit
// distance (insertions, deletions, substitutions and swaps of adjacent
// letters; at most a third of the name's length), common commands first
// among equals; else the best fuzzy match.
func (s *Schema) nearest(name string) string {
	best, bestD := "", len(name)/3+1
	for _, c := range s.cmdNames {
		d := distance(name, c, bestD+1)
		if d < bestD || (d == bestD && best != "" && common[c] > common[best]) {
			best, bestD = c, d
		}
	}
	if best == "" {
		if m := fuzzy.Find(name, s.cmdNames); len(m) > 0 {
			return m[0].Str
		}
	}
	return best
}

// distance is the optimal-string-alignment distance of a and b, or max
// when it is at least max.
func distance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, rows[i-2][j-2]+1)
			}
			rows[i][j] = v
		}
	}
	return min(rows[len(a)][len(b)], max)
}

func (s *Schema) checkJSONLine(line string, live *Live) (Request, error) {
	var msg struct {
		Execute   *string         `json:"execute"`
		ExecOOB   *string         `json:"exec-oob"`
		Arguments json.RawMessage `json:"arguments"`
		ID        json.RawMessage `json:"id"`
	}
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		return Request{}, &InputError{Msg: "not a QMP message: " + err.Error()}
	}
	if dec.More() {
		return Request{}, &InputError{Msg: "text after the QMP message"}
	}
	if msg.ExecOOB != nil {
		return Request{}, &InputError{Msg: "exec-oob is not sent from the console; use execute"}
	}
	if msg.Execute == nil {
		return Request{}, &InputError{Msg: `QMP message has no "execute"`}
	}
	if msg.ID != nil {
		return Request{}, &InputError{Command: *msg.Execute, Msg: `leave "id" out: the client numbers requests`}
	}
	name := *msg.Execute
	cmd := s.commands[name]
	if cmd == nil {
		return Request{}, s.unknownCommand(name)
	}
	c := &checker{s: s, cmd: cmd, live: live}
	args := bytes.TrimSpace(msg.Arguments)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		if err := c.missing(cmd.Args); err != nil {
			return Request{}, err
		}
		return Request{Command: name}, nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(args))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return Request{}, c.errf("", "arguments: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Request{}, c.errf("", "arguments must be a JSON object")
	}
	if !s.NamesOnly {
		if err := c.checkMap(cmd.Args, m, "", name == "device_add"); err != nil {
			return Request{}, err
		}
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, args)
	return Request{Command: name, Args: compact.Bytes()}, nil
}

type checker struct {
	s    *Schema
	cmd  *Command
	live *Live
}

func (c *checker) errf(arg, format string, a ...any) error {
	return &InputError{Command: c.cmd.Name, Arg: arg, Msg: fmt.Sprintf(format, a...)}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// tagOf reads a union's discriminator from the line's node.
func tagOf(t *Type, n *node) string {
	if t.Tag == "" || n == nil {
		return ""
	}
	if k := n.kids[t.Tag]; k != nil && k.leaf {
		v, _, err := unquote(k.text)
		if err == nil {
			return v
		}
	}
	return ""
}

// missing reports the first required argument of t when none is given.
func (c *checker) missing(t *Type) error {
	if t == nil || t.Kind != Object {
		return nil
	}
	return c.missingIn(t.Members, "", func(string) bool { return false })
}

func (c *checker) missingIn(members []*Member, path string, given func(string) bool) error {
	for _, m := range members {
		if !m.Optional && !given(m.Name) {
			return c.errf(join(path, m.Name), "missing required argument %q", join(path, m.Name))
		}
	}
	return nil
}

// object converts a node of key=value arguments to an object of type t.
// extra allows members the schema does not list (device_add's device
// properties).
func (c *checker) object(t *Type, n *node, path string, extra bool) (any, error) {
	switch {
	case t.Kind == Alternate:
		for _, a := range t.Alternatives {
			if a.Kind == Object {
				return c.object(a, n, path, false)
			}
		}
		return nil, c.errf(path, "%s: want %s, got an object", path, t.Short(8))
	case t.Kind == Builtin && t.Name == "any":
		return c.infer(n)
	case t.Kind != Object:
		return nil, c.errf(path, "%s: want %s, got an object", path, t.Short(8))
	}
	if t.Tag != "" {
		if m := t.Member(t.Tag, ""); m != nil && !m.Optional && n.kids[t.Tag] == nil {
			return nil, c.errf(join(path, t.Tag), "missing required argument %q", join(path, t.Tag))
		}
	}
	tag := tagOf(t, n)
	var props map[string]*Type
	if extra && c.live != nil {
		if drv := n.kids["driver"]; drv != nil && drv.leaf {
			d, _, _ := unquote(drv.text)
			for _, p := range c.live.DeviceProps[d] {
				if props == nil {
					props = map[string]*Type{}
				}
				props[p.Name] = propType(p.Type)
			}
		}
	}
	var out object
	// The discriminator first: its value decides the other members.
	order := n.keys
	if t.Tag != "" && n.kids[t.Tag] != nil {
		order = append([]string{t.Tag}, without(n.keys, t.Tag)...)
	}
	for _, k := range order {
		kid := n.kids[k]
		p := join(path, k)
		m := t.Member(k, tag)
		var mt *Type
		switch {
		case m != nil:
			mt = m.Type
		case extra:
			mt = props[k] // nil: inferred
		default:
			return nil, c.unknown(t, tag, p)
		}
		var v any
		var err error
		switch {
		case mt == nil && kid.leaf:
			v, err = inferText(kid.text)
		case mt == nil:
			v, err = c.infer(kid)
		case kid.leaf && m == nil:
			v, err = c.propText(mt, kid.text, p)
		case kid.leaf:
			v, err = c.text(mt, kid.text, p)
		case mt.Kind == Array:
			v, err = c.array(mt, kid, p)
		default:
			v, err = c.object(mt, kid, p, false)
		}
		if err != nil {
			return nil, err
		}
		out.add(k, v)
	}
	if err := c.missingIn(t.AllMembers(tag), path, func(k string) bool { return n.kids[k] != nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// array builds an array from dotted keys that index it, as QEMU's own
// key=value syntax does: keys.0.type=qcode keys.0.data=ctrl. The indexes
// must run 0, 1, 2, … without a gap.
func (c *checker) array(t *Type, n *node, path string) (any, error) {
	out := make([]any, len(n.keys))
	for _, k := range n.keys {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || strconv.Itoa(i) != k {
			return nil, c.errf(join(path, k), "%s is an array (%s): index it with 0, 1, 2, …, not %q", path, t.Short(8), k)
		}
		if i >= len(n.keys) {
			return nil, c.errf(join(path, k), "%s: index %d leaves a gap: indexes run from 0 without one", path, i)
		}
		kid, p := n.kids[k], join(path, k)
		var v any
		switch {
		case kid.leaf:
			v, err = c.text(t.Elem, kid.text, p)
		case t.Elem.Kind == Array:
			v, err = c.array(t.Elem, kid, p)
		default:
			v, err = c.object(t.Elem, kid, p, false)
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// propText converts the text of a device property typed only by
// device-list-properties. Its type is a hint, not a rule: many
// properties that report an integer also take a string (a PCI addr as
// "07.0", a size as "1G"), and QEMU reads them itself. So text that reads
// as the reported type is sent as that type, and any other text as a
// string, for QEMU to judge.
func (c *checker) propText(t *Type, text, path string) (any, error) {
	s, quoted, err := unquote(text)
	if err != nil {
		return nil, c.errf(path, "%s: %v", path, err)
	}
	if !quoted {
		switch t.Name {
		case "int":
			if isInt(s) {
				return json.Number(s), nil
			}
		case "bool":
			if s == "true" || s == "false" {
				return s == "true", nil
			}
		}
	}
	return s, nil
}

func without(keys []string, k string) []string {
	out := make([]string, 0, len(keys))
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

func (c *checker) unknown(t *Type, tag, p string) error {
	if t.Tag != "" && tag == "" {
		return c.errf(p, "unknown argument %q (set %q first: it selects the others)", p, t.Tag)
	}
	return c.errf(p, "unknown argument %q", p)
}

// infer converts a node without schema types, as qmp-shell does: JSON
// where the text parses as JSON, a string otherwise.
func (c *checker) infer(n *node) (any, error) {
	if n.leaf {
		return inferText(n.text)
	}
	var out object
	for _, k := range n.keys {
		v, err := c.infer(n.kids[k])
		if err != nil {
			return nil, err
		}
		out.add(k, v)
	}
	return out, nil
}

func inferText(text string) (any, error) {
	if s, quoted, err := unquote(text); quoted || err != nil {
		return s, err
	}
	if v, err := decodeJSON(text); err == nil {
		return v, nil
	}
	return text, nil
}

func decodeJSON(text string) (any, error) {
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("text after the value")
	}
	return v, nil
}

// unquote strips "…" (JSON string syntax) or '…' quotes; quoted reports
// whether there were any.
func unquote(text string) (s string, quoted bool, err error) {
	if len(text) < 1 || (text[0] != '"' && text[0] != '\'') {
		return text, false, nil
	}
	if len(text) < 2 || text[len(text)-1] != text[0] {
		return "", true, fmt.Errorf("unterminated quote in %s", text)
	}
	if text[0] == '"' {
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return "", true, fmt.Errorf("bad string %s: %v", text, err)
		}
		return s, true, nil
	}
	inner := text[1 : len(text)-1]
	inner = strings.ReplaceAll(inner, `\'`, `'`)
	inner = strings.ReplaceAll(inner, `\\`, `\`)
	return inner, true, nil
}

// text converts a value's text to type t.
func (c *checker) text(t *Type, text, path string) (any, error) {
	s, quoted, err := unquote(text)
	if err != nil {
		return nil, c.errf(path, "%s: %v", path, err)
	}
	switch t.Kind {
	case Builtin:
		switch t.Name {
		case "str":
			return s, nil
		case "int":
			if !quoted && isInt(s) {
				return json.Number(s), nil
			}
			return nil, c.errf(path, "%s: want int, got %s", path, show(text))
		case "number":
			if !quoted && isNumber(s) {
				return json.Number(s), nil
			}
			return nil, c.errf(path, "%s: want number, got %s", path, show(text))
		case "bool":
			if !quoted && (s == "true" || s == "false") {
				return s == "true", nil
			}
			return nil, c.errf(path, "%s: want bool (true or false), got %s", path, show(text))
		case "null":
			if !quoted && s == "null" {
				return nil, nil
			}
			return nil, c.errf(path, "%s: want null, got %s", path, show(text))
		default: // any
			if quoted {
				return s, nil
			}
			return inferText(text)
		}
	case Enum:
		if err := c.enum(t, s, path); err != nil {
			return nil, err
		}
		return s, nil
	case Array, Object:
		if quoted {
			return nil, c.errf(path, "%s: want %s, got %s", path, t.Short(6), show(text))
		}
		v, err := decodeJSON(text)
		if err != nil {
			return nil, c.errf(path, "%s: want %s as JSON, got %s", path, t.Short(6), show(text))
		}
		if err := c.checkJSON(t, v, path, false); err != nil {
			return nil, err
		}
		return v, nil
	case Alternate:
		return c.alternate(t, text, path)
	}
	return nil, c.errf(path, "%s: unsupported type", path)
}

// alternate picks the alternative the value's form selects: null for
// null, an object or array for JSON, otherwise a scalar (int, number,
// bool, enum before str).
func (c *checker) alternate(t *Type, text, path string) (any, error) {
	_, quoted, _ := unquote(text)
	trim := strings.TrimSpace(text)
	var firstErr error
	try := func(a *Type) (any, bool) {
		v, err := c.text(a, text, path)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return nil, false
		}
		return v, true
	}
	structured := !quoted && (strings.HasPrefix(trim, "{") || strings.HasPrefix(trim, "["))
	for pass := 0; pass < 2; pass++ {
		for _, a := range t.Alternatives {
			isStr := a.Kind == Builtin && (a.Name == "str" || a.Name == "any")
			isStruct := a.Kind == Object || a.Kind == Array
			switch {
			case structured && !isStruct:
				continue
			case !structured && isStruct:
				continue
			case pass == 0 && isStr, pass == 1 && !isStr:
				continue
			}
			if v, ok := try(a); ok {
				return v, nil
			}
		}
	}
	if firstErr != nil && len(t.Alternatives) == 1 {
		return nil, firstErr
	}
	return nil, c.errf(path, "%s: want %s, got %s", path, t.Short(6), show(text))
}

func (c *checker) enum(t *Type, s, path string) error {
	for _, v := range t.Values {
		if v == s {
			return nil
		}
	}
	var b strings.Builder
	writeList(&b, t.Values, 24)
	if path == "" {
		return c.errf(path, "%q is not one of %s", s, b.String())
	}
	return c.errf(path, "%s: %q is not one of %s", path, s, b.String())
}

// checkJSON checks a decoded JSON value (numbers as json.Number) against
// t.
func (c *checker) checkJSON(t *Type, v any, path string, extra bool) error {
	bad := func() error {
		b, _ := json.Marshal(v)
		return c.errf(path, "%s: want %s, got %s", orArgs(path), t.Short(6), show(string(b)))
	}
	switch t.Kind {
	case Builtin:
		switch t.Name {
		case "str":
			if _, ok := v.(string); !ok {
				return bad()
			}
		case "int":
			if n, ok := v.(json.Number); !ok || !isInt(string(n)) {
				return bad()
			}
		case "number":
			if _, ok := v.(json.Number); !ok {
				return bad()
			}
		case "bool":
			if _, ok := v.(bool); !ok {
				return bad()
			}
		case "null":
			if v != nil {
				return bad()
			}
		}
	case Enum:
		s, ok := v.(string)
		if !ok {
			return bad()
		}
		return c.enum(t, s, path)
	case Array:
		a, ok := v.([]any)
		if !ok {
			return bad()
		}
		for i, e := range a {
			if err := c.checkJSON(t.Elem, e, path+"["+strconv.Itoa(i)+"]", false); err != nil {
				return err
			}
		}
	case Object:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		return c.checkMap(t, m, path, extra)
	case Alternate:
		var firstErr error
		for _, a := range t.Alternatives {
			err := c.checkJSON(a, v, path, false)
			if err == nil {
				return nil
			}
			// An object that matches an object alternative's shape but
			// fails inside it says more than "want A|B".
			if _, isMap := v.(map[string]any); isMap && a.Kind == Object && firstErr == nil {
				firstErr = err
			}
		}
		if firstErr != nil {
			return firstErr
		}
		return bad()
	}
	return nil
}

func orArgs(path string) string {
	if path == "" {
		return "arguments"
	}
	return path
}

func (c *checker) checkMap(t *Type, m map[string]any, path string, extra bool) error {
	tag := ""
	if t.Tag != "" {
		if tm := t.Member(t.Tag, ""); tm != nil && !tm.Optional {
			if _, ok := m[t.Tag]; !ok {
				return c.errf(join(path, t.Tag), "missing required argument %q", join(path, t.Tag))
			}
		}
		if s, ok := m[t.Tag].(string); ok {
			tag = s
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if t.Tag != "" {
		if _, ok := m[t.Tag]; ok {
			keys = append([]string{t.Tag}, without(keys, t.Tag)...)
		}
	}
	sortRest(keys, t.Tag != "" && m[t.Tag] != nil)
	for _, k := range keys {
		p := join(path, k)
		mem := t.Member(k, tag)
		if mem == nil {
			if extra {
				continue
			}
			return c.unknown(t, tag, p)
		}
		if err := c.checkJSON(mem.Type, m[k], p, false); err != nil {
			return err
		}
	}
	return c.missingIn(t.AllMembers(tag), path, func(k string) bool { _, ok := m[k]; return ok })
}

// sortRest sorts keys (after the first, when first is fixed) so errors
// come in a stable order.
func sortRest(keys []string, fixedFirst bool) {
	rest := keys
	if fixedFirst && len(keys) > 0 {
		rest = keys[1:]
	}
	for i := 1; i < len(rest); i++ {
		for j := i; j > 0 && rest[j] < rest[j-1]; j-- {
			rest[j], rest[j-1] = rest[j-1], rest[j]
		}
	}
}

func isInt(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func isNumber(s string) bool {
	if !json.Valid([]byte(s)) {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// show quotes a value for an error message, shortened.
func show(text string) string {
	if len(text) > 40 {
		text = text[:37] + "…"
	}
	if strings.HasPrefix(text, `"`) {
		return text
	}
	return strconv.Quote(text)
}

// ArgWords renders the arguments as key=value words, the console's
// syntax (JSON for non-scalar values).
func (r Request) ArgWords() []string {
	if len(r.Args) == 0 {
		return nil
	}
	var args object
	if err := json.Unmarshal(r.Args, &args); err != nil {
		return []string{string(r.Args)}
	}
	out := make([]string, len(args.keys))
	for i, k := range args.keys {
		out[i] = k + "=" + lineValue(args.vals[i])
	}
	return out
}
