package schema_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/qscope/qscope/qmp/schema"
)

// A hand-written introspection in QEMU's format: a command without
// arguments, one with a nested union (chardev-add's backend, tagged by an
// enum) and the types they use.
const jsonMini = `[
 {"name":"str","meta-type":"builtin","json-type":"string"},
 {"name":"bool","meta-type":"builtin","json-type":"boolean"},
 {"name":"0","meta-type":"object","members":[]},
 {"name":"10","meta-type":"object","members":[{"name":"id","type":"str"},{"name":"backend","type":"11"}]},
 {"name":"11","meta-type":"object","members":[{"name":"type","type":"12"}],"tag":"type",
  "variants":[{"case":"file","type":"13"},{"case":"null","type":"0"},{"case":"socket","type":"0"}]},
 {"name":"12","meta-type":"enum","values":["file","null","socket"]},
 {"name":"13","meta-type":"object","members":[{"name":"out","type":"str"},{"name":"append","type":"bool","default":null}]},
 {"name":"query-status","meta-type":"command","arg-type":"0","ret-type":"0"},
 {"name":"query-stats","meta-type":"command","arg-type":"0","ret-type":"0"},
 {"name":"chardev-add","meta-type":"command","arg-type":"10","ret-type":"0"}
]`

// Raw JSON requests complete inside their strings: the command, argument
// names (nested, tagged unions included, given ones left out) and values.
func TestCompleteJSON(t *testing.T) {
	s, err := schema.Parse([]byte(jsonMini))
	if err != nil {
		t.Fatal(err)
	}
	const add = `{"execute":"chardev-add","arguments":{`
	for _, tc := range []struct {
		line   string
		cursor int // -1: the end
		first  string
		insert string // of the first candidate
		want   []string
		absent []string
	}{
		{line: `{"execute":"query-st`, cursor: -1, first: "query-status", insert: `query-status"`},
		{line: `{"execute":"query-st"}`, cursor: 20, first: "query-status", insert: `query-status`},
		{line: `{"exec-oob":"chard`, cursor: -1, first: "chardev-add", insert: `chardev-add"`},
		{line: `{"`, cursor: -1, want: []string{"execute", "arguments", "id"}},
		{line: add + `"`, cursor: -1, first: "id", insert: `id":`, want: []string{"backend"}},
		{line: add + `"id":"c0","`, cursor: -1, first: "backend", absent: []string{"id"}},
		{line: add + `"id":"c0","backend":{"type":"`, cursor: -1, want: []string{"file", "null", "socket"}},
		{line: add + `"id":"c0","backend":{"type":"fi`, cursor: -1, first: "file", insert: `file"`},
		{line: add + `"id":"c0","backend":{"type":"file","`, cursor: -1, want: []string{"out", "append"}, absent: []string{"type", "id"}},
		// Outside a string, in an array, or on a broken line: nothing.
		{line: `{"execute":"query-status", `, cursor: -1},
		{line: add + `"id":["`, cursor: -1},
		{line: `{"execute":"x"}}"`, cursor: -1},
		{line: `{"execute":"nosuch","arguments":{"`, cursor: -1},
	} {
		cur := tc.cursor
		if cur < 0 {
			cur = len(tc.line)
		}
		c := s.Complete(tc.line, cur, nil)
		got := texts(c)
		if tc.first == "" && tc.want == nil {
			if len(got) != 0 {
				t.Errorf("%s: candidates %v, want none", tc.line, got)
			}
			continue
		}
		if tc.first != "" && (len(got) == 0 || got[0] != tc.first) {
			t.Errorf("%s: candidates %v, want %s first", tc.line, got, tc.first)
			continue
		}
		if tc.insert != "" && c.Candidates[0].Insert != tc.insert {
			t.Errorf("%s: insert %q, want %q", tc.line, c.Candidates[0].Insert, tc.insert)
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: candidates %v lack %s", tc.line, got, w)
			}
		}
		for _, a := range tc.absent {
			if slices.Contains(got, a) {
				t.Errorf("%s: candidates %v include %s", tc.line, got, a)
			}
		}
		// Accepting the first candidate yields what the candidate says.
		x := c.Candidates[0]
		line := tc.line[:c.Start] + x.Insert + tc.line[c.End:]
		if !strings.Contains(line, x.Text) || strings.Count(line, `"`)%2 != 0 {
			t.Errorf("%s: accepting %q gives %s", tc.line, x.Insert, line)
		}
	}
}
