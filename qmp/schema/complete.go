package schema

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sahilm/fuzzy"
)

// CandidateKind says what a completion candidate is.
type CandidateKind int

const (
	CommandCandidate CandidateKind = iota + 1
	ArgumentCandidate
	ValueCandidate
)

// Candidate is one completion.
type Candidate struct {
	Kind CandidateKind
	// Text is what is shown and matched: a command, argument or value.
	Text string
	// Insert replaces the completion's [Start, End) range when the
	// candidate is accepted (e.g. "driver=" for an argument).
	Insert string
	// Detail is a short description: an argument's type, "device type".
	Detail     string
	Required   bool
	Deprecated bool
	Unstable   bool
	// Matched are the byte offsets in Text the pattern matched, for
	// highlighting.
	Matched []int
}

// Completion is the result of Complete: candidates for the text between
// Start and End (byte offsets in the line).
type Completion struct {
	Start, End int
	// Pattern is the text the candidates were matched against.
	Pattern    string
	Candidates []Candidate
}

// common are commands people type most; among equally good prefix matches
// they come first (so "query-st" offers query-status before query-stats).
var common = map[string]int{
	"query-status": 9, "query-version": 8, "query-name": 6, "query-block": 7, "query-cpus-fast": 7,
	"cont": 8, "stop": 8, "system_powerdown": 6, "system_reset": 5, "quit": 5,
	"device_add": 8, "device_del": 7, "human-monitor-command": 6, "query-commands": 5,
	"qom-list": 6, "qom-get": 6, "qom-set": 5, "blockdev-add": 7, "blockdev-del": 6,
	"query-named-block-nodes": 6, "query-chardev": 6, "query-jobs": 6, "query-migrate": 6,
	"migrate": 6, "query-kvm": 5, "query-pci": 5, "query-hotpluggable-cpus": 5,
	"query-memory-devices": 5, "query-machines": 5, "query-qmp-schema": 4, "netdev_add": 6,
	"netdev_del": 5, "object-add": 6, "object-del": 5, "chardev-add": 5, "chardev-remove": 5,
}

// Complete returns completions for line with the cursor at byte offset
// cursor: command names first; then, after the command, its arguments
// (required first, with types, those already given left out; dotted keys
// complete members of nested objects); after "key=", the values the
// argument's type allows (enum values, true/false) or, for arguments that
// name things QEMU already has, the live values (device types for
// device_add driver=, block node names, device ids, chardev ids, job ids).
// Candidates are fuzzy-matched against what is typed. A raw JSON request
// ({"execute": …}) is completed inside its strings: the command, argument
// names, values. It never fails: a line it cannot read gets no candidates.
func (s *Schema) Complete(line string, cursor int, live *Live) Completion {
	if cursor < 0 || cursor > len(line) {
		cursor = len(line)
	}
	if strings.HasPrefix(strings.TrimSpace(line), "{") {
		return s.completeJSON(line, cursor, live)
	}
	toks := tokenize(line)
	// The token under the cursor, or an empty one at the cursor.
	cur := token{start: cursor, end: cursor}
	idx := len(toks)
	for i, t := range toks {
		if cursor >= t.start && cursor <= t.end {
			cur, idx = t, i
			break
		}
		if t.start > cursor {
			idx = i
			break
		}
	}
	prefix := line[cur.start:cursor]
	if idx == 0 {
		return s.completeCommand(prefix, cur)
	}
	if len(toks) == 0 {
		return Completion{Start: cursor, End: cursor}
	}
	cmd := s.commands[toks[0].text]
	if cmd == nil {
		return Completion{Start: cursor, End: cursor}
	}
	// Everything else on the line, for what is already given.
	given := &node{}
	for i, t := range toks[1:] {
		if i+1 == idx {
			continue
		}
		if eq := strings.IndexByte(t.text, '='); eq > 0 {
			n := given
			for _, p := range strings.Split(t.text[:eq], ".") {
				if n.leaf {
					break
				}
				n = n.child(p)
			}
			if len(n.keys) == 0 {
				n.leaf, n.text = true, t.text[eq+1:]
			}
		}
	}
	if eq := strings.IndexByte(prefix, '='); eq >= 0 {
		key := prefix[:eq]
		c := Completion{Start: cur.start + eq + 1, End: cur.end, Pattern: prefix[eq+1:]}
		vals := s.valueCandidates(cmd, key, given, live)
		c.Candidates = rank(c.Pattern, vals, nil)
		return c
	}
	c := Completion{Start: cur.start, End: cur.end}
	if e := strings.IndexByte(line[cur.start:cur.end], '='); e >= 0 {
		c.End = cur.start + e + 1 // replace the key and its '='
	}
	parent, last := "", prefix
	if dot := strings.LastIndexByte(prefix, '.'); dot >= 0 {
		parent, last = prefix[:dot], prefix[dot+1:]
	}
	c.Pattern = last
	c.Candidates = rank(last, s.argCandidates(cmd, parent, given, live), nil)
	return c
}

func (s *Schema) completeCommand(prefix string, cur token) Completion {
	c := Completion{Start: cur.start, End: cur.end, Pattern: prefix}
	cands := make([]Candidate, 0, len(s.cmdNames))
	for _, n := range s.cmdNames {
		cmd := s.commands[n]
		insert := n
		if s.NamesOnly || (cmd.Args != nil && (len(cmd.Args.Members) > 0 || cmd.Args.Tag != "")) {
			insert += " "
		}
		detail := ""
		if cmd.Args != nil {
			detail = argSummary(cmd.Args)
		}
		cands = append(cands, Candidate{Kind: CommandCandidate, Text: n, Insert: insert, Detail: detail,
			Deprecated: cmd.Deprecated(), Unstable: cmd.Unstable()})
	}
	c.Candidates = rank(prefix, cands, common)
	return c
}

// argSummary lists a command's required arguments, for the detail column.
func argSummary(t *Type) string {
	var req []string
	opt := 0
	for _, m := range t.Members {
		if m.Optional {
			opt++
		} else {
			req = append(req, m.Name)
		}
	}
	out := strings.Join(req, " ")
	if t.Tag != "" || opt > 0 {
		if out != "" {
			out += " "
		}
		out += "[…]"
	}
	return out
}

// resolve walks a dotted key from the command's arguments to the type it
// names, using the discriminators given on the line to enter unions.
// device_add properties from live are returned as their own types.
func (s *Schema) resolve(cmd *Command, key string, given *node, live *Live) (t *Type, member *Member, n *node) {
	t, n = cmd.Args, given
	if key == "" {
		return t, nil, n
	}
	for i, p := range strings.Split(key, ".") {
		if t != nil && t.Kind == Array {
			// An index into an array: its element type.
			if _, err := strconv.Atoi(p); err != nil {
				return nil, nil, nil
			}
			t = t.Elem
			if n != nil {
				n = n.kids[p]
			}
			continue
		}
		for t != nil && t.Kind == Alternate {
			var obj *Type
			for _, a := range t.Alternatives {
				if a.Kind == Object {
					obj = a
				}
			}
			t = obj
		}
		if t == nil || t.Kind != Object {
			return nil, nil, nil
		}
		m := t.Member(p, tagOf(t, n))
		if m == nil {
			if i == 0 && cmd.Name == "device_add" {
				if pt := deviceProp(live, n, p); pt != nil {
					return pt, nil, nil
				}
			}
			return nil, nil, nil
		}
		member, t = m, m.Type
		if n != nil {
			n = n.kids[p]
		}
	}
	return t, member, n
}

func deviceProp(live *Live, given *node, name string) *Type {
	drv := driverOf(live, given)
	for _, p := range drv {
		if p.Name == name {
			if t := propType(p.Type); t != nil {
				return t
			}
			if p.Type == "OnOffAuto" {
				return &Type{Kind: Enum, Values: []string{"on", "off", "auto"}}
			}
			return strType
		}
	}
	return nil
}

func driverOf(live *Live, given *node) []DeviceProp {
	if live == nil || given == nil {
		return nil
	}
	if d := given.kids["driver"]; d != nil && d.leaf {
		name, _, _ := unquote(d.text)
		return live.DeviceProps[name]
	}
	return nil
}

func (s *Schema) argCandidates(cmd *Command, parent string, given *node, live *Live) []Candidate {
	if s.NamesOnly || cmd.Args == nil {
		return nil
	}
	t, _, n := s.resolve(cmd, parent, given, live)
	for t != nil && t.Kind == Alternate {
		var obj *Type
		for _, a := range t.Alternatives {
			if a.Kind == Object {
				obj = a
			}
		}
		t = obj
	}
	if t == nil || t.Kind != Object {
		return nil
	}
	has := func(k string) bool { return n != nil && n.kids[k] != nil }
	pre := ""
	if parent != "" {
		pre = parent + "."
	}
	var req, opt []Candidate
	for _, m := range t.AllMembers(tagOf(t, n)) {
		if has(m.Name) {
			continue
		}
		insert := pre + m.Name + "="
		if m.Type.Kind == Object {
			insert = pre + m.Name + "."
		}
		c := Candidate{Kind: ArgumentCandidate, Text: m.Name, Insert: insert, Detail: m.Type.Short(6),
			Required: !m.Optional, Deprecated: m.Deprecated(), Unstable: m.Unstable()}
		if c.Required {
			req = append(req, c)
		} else {
			opt = append(opt, c)
		}
	}
	out := append(req, opt...)
	if parent == "" && cmd.Name == "device_add" {
		for _, p := range driverOf(live, given) {
			if t.Member(p.Name, "") != nil || has(p.Name) {
				continue
			}
			out = append(out, Candidate{Kind: ArgumentCandidate, Text: p.Name, Insert: p.Name + "=", Detail: p.Type})
		}
	}
	return out
}

func (s *Schema) valueCandidates(cmd *Command, key string, given *node, live *Live) []Candidate {
	var out []Candidate
	seen := map[string]bool{}
	add := func(v, detail string, feats []string) {
		if seen[v] {
			return
		}
		seen[v] = true
		c := Candidate{Kind: ValueCandidate, Text: v, Insert: v + " ", Detail: detail}
		for _, f := range feats {
			c.Deprecated = c.Deprecated || f == "deprecated"
			c.Unstable = c.Unstable || f == "unstable"
		}
		out = append(out, c)
	}
	if src, detail := sourceFor(cmd.Name, key, live); src != nil {
		for _, v := range src {
			add(v, detail, nil)
		}
	}
	if s.NamesOnly || cmd.Args == nil {
		return out
	}
	t, _, _ := s.resolve(cmd, key, given, live)
	var walk func(t *Type, depth int)
	walk = func(t *Type, depth int) {
		if t == nil || depth > 3 {
			return
		}
		switch t.Kind {
		case Enum:
			for _, v := range t.Values {
				add(v, "", t.ValueFeatures[v])
			}
		case Builtin:
			switch t.Name {
			case "bool":
				add("true", "bool", nil)
				add("false", "bool", nil)
			case "null":
				add("null", "null", nil)
			}
		case Alternate:
			for _, a := range t.Alternatives {
				walk(a, depth+1)
			}
		}
	}
	walk(t, 0)
	return out
}

// sourceFor says which live values an argument names: devices types for
// device_add's driver, existing device ids, block nodes, chardevs and
// jobs for the arguments that refer to them.
func sourceFor(cmd, key string, live *Live) ([]string, string) {
	if live == nil {
		return nil, ""
	}
	last := key
	if dot := strings.LastIndexByte(key, '.'); dot >= 0 {
		last = key[dot+1:]
	}
	switch {
	case cmd == "device_add" && key == "driver":
		return live.DeviceTypes, "device type"
	case cmd == "device_del" && key == "id":
		return live.DeviceIDs, "device"
	case strings.HasPrefix(cmd, "job-") && key == "id",
		strings.HasPrefix(cmd, "block-job-") && (key == "device" || key == "id"):
		return live.Jobs, "job"
	case strings.HasPrefix(cmd, "chardev-") && cmd != "chardev-add" && key == "id",
		last == "chardev":
		return live.Chardevs, "chardev"
	case blockCommand(cmd) && refersToNode(last):
		return live.BlockNodes, "block node"
	}
	return nil, ""
}

func blockCommand(cmd string) bool {
	switch cmd {
	case "blockdev-add", "blockdev-create":
		return false // they name new nodes
	}
	for _, p := range []string{"block", "drive-", "x-blockdev", "nbd-server-add", "block-export-add", "eject", "change-backing-file"} {
		if strings.HasPrefix(cmd, p) {
			return true
		}
	}
	return false
}

func refersToNode(key string) bool {
	switch key {
	case "node-name", "node", "device", "target", "base-node", "top-node", "overlay", "parent", "child", "id":
		return true
	}
	return false
}

// rank fuzzy-matches pattern against the candidates' texts: prefix
// matches first, then by score (boost breaks ties among prefix matches),
// keeping the given order among equals. An empty pattern keeps every
// candidate in order.
func rank(pattern string, cands []Candidate, boost map[string]int) []Candidate {
	if pattern == "" {
		return cands
	}
	texts := make([]string, len(cands))
	for i, c := range cands {
		texts[i] = c.Text
	}
	matches := fuzzy.FindNoSort(pattern, texts)
	type scored struct {
		m      fuzzy.Match
		prefix bool
	}
	sc := make([]scored, len(matches))
	lp := strings.ToLower(pattern)
	for i, m := range matches {
		sc[i] = scored{m, strings.HasPrefix(strings.ToLower(m.Str), lp)}
	}
	sort.SliceStable(sc, func(i, j int) bool {
		a, b := sc[i], sc[j]
		if a.prefix != b.prefix {
			return a.prefix
		}
		if a.prefix && boost != nil {
			if ba, bb := boost[a.m.Str], boost[b.m.Str]; ba != bb {
				return ba > bb
			}
		}
		if a.m.Score != b.m.Score {
			return a.m.Score > b.m.Score
		}
		return a.m.Index < b.m.Index
	})
	out := make([]Candidate, len(sc))
	for i, x := range sc {
		c := cands[x.m.Index]
		c.Matched = x.m.MatchedIndexes
		out[i] = c
	}
	return out
}
