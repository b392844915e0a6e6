package schema

import (
	"encoding/json"
	"regexp"
	"strings"
)

// jsonLevel is one open object or array of a raw JSON request, as read up
// to the cursor.
type jsonLevel struct {
	object    bool
	expectKey bool   // an object between '{' or ',' and the next ':'
	key       string // in an object: the key whose value is being read
	path      []string
	args      *node // the arguments given at this level; nil outside "arguments"
}

var executeRE = regexp.MustCompile(`"(?:execute|exec-oob)"\s*:\s*"([^"\\]*)"`)

// completeJSON completes a raw JSON request, {"execute": …, "arguments":
// {…}}, inside the string under the cursor: the command after "execute"
// or "exec-oob", argument names as keys under "arguments" (nested
// objects included), and the values an argument takes inside its string
// value. Outside a string it offers nothing.
func (s *Schema) completeJSON(line string, cursor int, live *Live) Completion {
	none := Completion{Start: cursor, End: cursor}
	root := &node{}
	stack := []*jsonLevel{}
	var lastKey string
	inStr, esc, strIsKey := false, false, false
	strStart := 0
	for i := 0; i < cursor; i++ {
		b := line[i]
		var top *jsonLevel
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if inStr {
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
				raw := line[strStart : i+1]
				var v string
				if json.Unmarshal([]byte(raw), &v) != nil {
					return none
				}
				if strIsKey {
					lastKey = v
				} else if top != nil && top.object && top.args != nil && top.key != "" {
					n := top.args.child(top.key)
					n.leaf, n.text = true, raw
				}
			}
			continue
		}
		switch b {
		case '"':
			inStr, strStart = true, i
			strIsKey = top != nil && top.object && top.expectKey
		case '{', '[':
			l := &jsonLevel{object: b == '{', expectKey: b == '{'}
			if top != nil {
				l.path = append(append([]string(nil), top.path...), top.key)
				switch {
				case len(stack) == 1 && top.key == "arguments" && l.object:
					l.args = root
				case top.args != nil && top.object && l.object:
					l.args = top.args.child(top.key)
				}
			}
			stack = append(stack, l)
		case '}', ']':
			if len(stack) == 0 {
				return none
			}
			stack = stack[:len(stack)-1]
		case ':':
			if top != nil && top.object {
				top.key, top.expectKey = lastKey, false
			}
		case ',':
			if top != nil && top.object {
				top.key, top.expectKey = "", true
			}
		}
	}
	if !inStr || len(stack) == 0 {
		return none
	}
	top := stack[len(stack)-1]
	if !top.object {
		return none
	}
	prefix := line[strStart+1 : cursor]
	if strings.ContainsRune(prefix, '\\') {
		return none
	}
	// The string's content runs to its closing quote, if it has one.
	end, closed := cursor, false
	for j := cursor; j < len(line); j++ {
		if line[j] == '\\' || line[j] == '{' || line[j] == '}' {
			break
		}
		if line[j] == '"' {
			end, closed = j, true
			break
		}
	}
	c := Completion{Start: strStart + 1, End: end, Pattern: prefix}
	var cands []Candidate
	depth := len(stack)
	var cmd *Command
	if m := executeRE.FindStringSubmatch(line); m != nil {
		cmd = s.commands[m[1]]
	}
	switch {
	case depth == 1 && strIsKey:
		for _, k := range []string{"execute", "arguments", "id"} {
			cands = append(cands, Candidate{Kind: ArgumentCandidate, Text: k, Insert: k})
		}
	case depth == 1 && (top.key == "execute" || top.key == "exec-oob"):
		cc := s.completeCommand(prefix, token{start: c.Start, end: c.End})
		cands = cc.Candidates
		for i := range cands {
			cands[i].Insert = cands[i].Text
		}
		c.Candidates = cands
		return closeJSONString(c, closed, false)
	case cmd == nil || top.args == nil:
		return none
	case strIsKey:
		cands = s.argCandidates(cmd, strings.Join(top.path[1:], "."), root, live)
		for i := range cands {
			cands[i].Insert = cands[i].Text
		}
	default:
		key := strings.Join(append(append([]string(nil), top.path[1:]...), top.key), ".")
		cands = s.valueCandidates(cmd, key, root, live)
		for i := range cands {
			cands[i].Insert = strings.TrimSuffix(cands[i].Insert, " ")
		}
	}
	c.Candidates = rank(prefix, cands, nil)
	return closeJSONString(c, closed, strIsKey)
}

// closeJSONString ends each candidate's insert with the string's closing
// quote when the line has none yet (and, for a key, the colon after it).
func closeJSONString(c Completion, closed, key bool) Completion {
	if closed {
		return c
	}
	tail := `"`
	if key {
		tail = `":`
	}
	for i := range c.Candidates {
		c.Candidates[i].Insert += tail
	}
	return c
}
