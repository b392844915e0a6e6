package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Kind is what a Type is.
type Kind int

const (
	// Builtin is one of str, int, number, bool, null, any.
	Builtin Kind = iota + 1
	// Enum is a string restricted to a set of values.
	Enum
	// Array is a JSON array of one element type.
	Array
	// Object is a JSON object with named members; with a Tag it is a
	// union whose extra members depend on the tag's value.
	Object
	// Alternate is one of several types, told apart by JSON type.
	Alternate
)

func (k Kind) String() string {
	switch k {
	case Builtin:
		return "builtin"
	case Enum:
		return "enum"
	case Array:
		return "array"
	case Object:
		return "object"
	case Alternate:
		return "alternate"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Type is one type of the schema. Introspection masks type names as
// numbers; a Type never shows them: [Type.String] renders a readable
// description instead.
type Type struct {
	id string // the masked name, used only while building

	Kind Kind
	// Name is the builtin's name (str, int, number, bool, null, any) for
	// Builtin types, empty otherwise.
	Name string
	// Values are an Enum's values, in schema order.
	Values []string
	// ValueFeatures are the features of single enum values
	// (deprecated, unstable), when any.
	ValueFeatures map[string][]string
	// Elem is an Array's element type.
	Elem *Type
	// Members are an Object's members (for a union, the common ones).
	Members []*Member
	// Tag is a union's discriminator: the member whose value selects a
	// variant. Empty for plain objects.
	Tag string
	// Variants map the tag's values to the type whose members are added.
	Variants []Variant
	// Alternatives are an Alternate's choices.
	Alternatives []*Type
	// Features are the type's features.
	Features []string

	// label names where an object type is used ("device_add arguments"),
	// set while building.
	label string
}

// Member is one member of an object type.
type Member struct {
	Name     string
	Type     *Type
	Optional bool
	Features []string
}

// Variant is one branch of a union.
type Variant struct {
	Case string
	Type *Type
}

// Command is one QMP command.
type Command struct {
	Name string
	// Args is the argument object (an Object with no members when the
	// command takes none). Nil when the schema knows names only.
	Args *Type
	// Returns is the type of the reply's return value; nil when unknown.
	Returns *Type
	// AllowOOB says the command may be sent with exec-oob.
	AllowOOB bool
	// Features are the command's features: deprecated, unstable, and
	// others (json-cli, …).
	Features []string
}

// Event is one QMP event.
type Event struct {
	Name string
	// Data is the event's data object, nil when it carries none.
	Data     *Type
	Features []string
}

// Source says where a schema came from.
type Source string

const (
	// FromLive is a schema read from query-qmp-schema just now.
	FromLive Source = "live"
	// FromCache is a schema read from the on-disk cache.
	FromCache Source = "cache"
	// FromCommandList is a names-only schema from query-commands, for a
	// QEMU without introspection.
	FromCommandList Source = "query-commands"
)

// Schema is the model of one QEMU binary's QMP schema.
type Schema struct {
	// Version and Package identify the QEMU (query-version).
	Version string
	Package string
	// Source tells where the schema came from.
	Source Source
	// NamesOnly is set when only command names are known (QEMU without
	// query-qmp-schema): arguments are not checked then.
	NamesOnly bool

	commands map[string]*Command
	events   map[string]*Event
	cmdNames []string // sorted
	evNames  []string // sorted
	types    int
}

// Command returns the named command, or nil.
func (s *Schema) Command(name string) *Command { return s.commands[name] }

// Event returns the named event, or nil.
func (s *Schema) Event(name string) *Event { return s.events[name] }

// CommandNames returns the commands' names, sorted. The slice is shared:
// do not modify it.
func (s *Schema) CommandNames() []string { return s.cmdNames }

// EventNames returns the events' names, sorted. The slice is shared.
func (s *Schema) EventNames() []string { return s.evNames }

// Commands returns every command, sorted by name.
func (s *Schema) Commands() []*Command {
	out := make([]*Command, len(s.cmdNames))
	for i, n := range s.cmdNames {
		out[i] = s.commands[n]
	}
	return out
}

// Events returns every event, sorted by name.
func (s *Schema) Events() []*Event {
	out := make([]*Event, len(s.evNames))
	for i, n := range s.evNames {
		out[i] = s.events[n]
	}
	return out
}

// Types is the number of types (builtin, enum, array, object, alternate)
// the schema defines; zero for a names-only schema.
func (s *Schema) Types() int { return s.types }

// Deprecated reports whether the command carries the deprecated feature.
func (c *Command) Deprecated() bool { return slices.Contains(c.Features, "deprecated") }

// Unstable reports whether the command carries the unstable feature (or,
// as QEMU names experimental commands, starts with "x-").
func (c *Command) Unstable() bool {
	return slices.Contains(c.Features, "unstable") || strings.HasPrefix(c.Name, "x-")
}

// Deprecated reports whether the member carries the deprecated feature.
func (m *Member) Deprecated() bool { return slices.Contains(m.Features, "deprecated") }

// Unstable reports whether the member carries the unstable feature.
func (m *Member) Unstable() bool { return slices.Contains(m.Features, "unstable") }

// Member returns the object's member called name, looking into the
// variant selected by tagValue for unions ("" when the tag is not known).
func (t *Type) Member(name, tagValue string) *Member {
	if t == nil || t.Kind != Object {
		return nil
	}
	for _, m := range t.Members {
		if m.Name == name {
			return m
		}
	}
	if v := t.Variant(tagValue); v != nil {
		return v.Member(name, "")
	}
	return nil
}

// Variant returns the type added to a union when its tag is value, or
// nil.
func (t *Type) Variant(value string) *Type {
	if t == nil || t.Tag == "" || value == "" {
		return nil
	}
	for _, v := range t.Variants {
		if v.Case == value {
			return v.Type
		}
	}
	return nil
}

// AllMembers returns the members of an object, with the variant's
// members for tagValue appended.
func (t *Type) AllMembers(tagValue string) []*Member {
	if t == nil || t.Kind != Object {
		return nil
	}
	v := t.Variant(tagValue)
	if v == nil || len(v.Members) == 0 {
		return t.Members
	}
	out := make([]*Member, 0, len(t.Members)+len(v.Members))
	out = append(out, t.Members...)
	return append(out, v.AllMembers("")...)
}

// entry is one element of query-qmp-schema's reply.
type entry struct {
	Name        string   `json:"name"`
	MetaType    string   `json:"meta-type"`
	Features    []string `json:"features"`
	JSONType    string   `json:"json-type"`
	Values      []string `json:"values"`
	ElementType string   `json:"element-type"`
	Members     []struct {
		Name     string          `json:"name"`
		Type     string          `json:"type"`
		Default  json.RawMessage `json:"default"`
		Features []string        `json:"features"`
	} `json:"members"`
	Tag      string `json:"tag"`
	Variants []struct {
		Case string `json:"case"`
		Type string `json:"type"`
	} `json:"variants"`
	ArgType  string `json:"arg-type"`
	RetType  string `json:"ret-type"`
	AllowOOB bool   `json:"allow-oob"`
}

// Parse builds a schema from the raw reply of query-qmp-schema (the
// "return" value: a JSON array). It fails when the text is not such an
// array or refers to types it does not define.
func Parse(raw []byte) (*Schema, error) {
	var entries []entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("schema: decoding introspection: %w", err)
	}
	return build(entries)
}

func build(entries []entry) (*Schema, error) {
	s := &Schema{commands: map[string]*Command{}, events: map[string]*Event{}}
	types := make(map[string]*Type, len(entries))
	byName := make(map[string]*entry, len(entries))
	// First pass: allocate every type so references can be resolved in
	// any order (the schema is recursive).
	for i := range entries {
		e := &entries[i]
		if e.Name == "" {
			return nil, fmt.Errorf("schema: entry %d has no name", i)
		}
		switch e.MetaType {
		case "builtin", "enum", "array", "object", "alternate":
			if _, dup := types[e.Name]; dup {
				return nil, fmt.Errorf("schema: type %s defined twice", e.Name)
			}
			types[e.Name] = &Type{id: e.Name}
			byName[e.Name] = e
		case "command", "event":
		default:
			return nil, fmt.Errorf("schema: entry %d has unknown meta-type %q", i, e.MetaType)
		}
	}
	ref := func(from, id string) (*Type, error) {
		t := types[id]
		if t == nil {
			return nil, fmt.Errorf("schema: %s refers to undefined type", from)
		}
		return t, nil
	}
	for id, t := range types {
		e := byName[id]
		t.Features = e.Features
		var err error
		switch e.MetaType {
		case "builtin":
			t.Kind = Builtin
			t.Name = builtinName(e.Name, e.JSONType)
		case "enum":
			t.Kind = Enum
			t.Values = e.Values
			if len(t.Values) == 0 {
				for _, m := range e.Members {
					t.Values = append(t.Values, m.Name)
				}
			}
			for _, m := range e.Members {
				if len(m.Features) > 0 {
					if t.ValueFeatures == nil {
						t.ValueFeatures = map[string][]string{}
					}
					t.ValueFeatures[m.Name] = m.Features
				}
			}
		case "array":
			t.Kind = Array
			if t.Elem, err = ref("an array type", e.ElementType); err != nil {
				return nil, err
			}
		case "object":
			t.Kind = Object
			t.Tag = e.Tag
			t.Members = make([]*Member, 0, len(e.Members))
			for _, m := range e.Members {
				mt, err := ref("member "+m.Name, m.Type)
				if err != nil {
					return nil, err
				}
				t.Members = append(t.Members, &Member{Name: m.Name, Type: mt, Optional: m.Default != nil, Features: m.Features})
			}
			for _, v := range e.Variants {
				vt, err := ref("variant "+v.Case, v.Type)
				if err != nil {
					return nil, err
				}
				t.Variants = append(t.Variants, Variant{Case: v.Case, Type: vt})
			}
		case "alternate":
			t.Kind = Alternate
			for _, m := range e.Members {
				mt, err := ref("an alternate type", m.Type)
				if err != nil {
					return nil, err
				}
				t.Alternatives = append(t.Alternatives, mt)
			}
		}
	}
	s.types = len(types)
	for i := range entries {
		e := &entries[i]
		switch e.MetaType {
		case "command":
			if _, dup := s.commands[e.Name]; dup {
				return nil, fmt.Errorf("schema: command %s defined twice", e.Name)
			}
			c := &Command{Name: e.Name, AllowOOB: e.AllowOOB, Features: e.Features}
			var err error
			if c.Args, err = ref("command "+e.Name, e.ArgType); err != nil {
				return nil, err
			}
			if c.Returns, err = ref("command "+e.Name, e.RetType); err != nil {
				return nil, err
			}
			c.Args.setLabel(e.Name + " arguments")
			c.Returns.setLabel(e.Name + " result")
			s.commands[e.Name] = c
		case "event":
			if _, dup := s.events[e.Name]; dup {
				return nil, fmt.Errorf("schema: event %s defined twice", e.Name)
			}
			ev := &Event{Name: e.Name, Features: e.Features}
			if e.ArgType != "" {
				var err error
				if ev.Data, err = ref("event "+e.Name, e.ArgType); err != nil {
					return nil, err
				}
				ev.Data.setLabel(e.Name + " data")
			}
			s.events[e.Name] = ev
		}
	}
	if len(s.commands) == 0 {
		return nil, fmt.Errorf("schema: introspection defines no commands")
	}
	s.index()
	return s, nil
}

// builtinName maps introspection's builtin names to the ones users read.
func builtinName(name, jsonType string) string {
	switch name {
	case "str", "int", "number", "bool", "null", "any":
		return name
	}
	switch jsonType {
	case "string":
		return "str"
	case "int":
		return "int"
	case "number":
		return "number"
	case "boolean":
		return "bool"
	case "null":
		return "null"
	}
	return "any"
}

// setLabel names an object type after its first user, for rendering. The
// shared empty object of argument-less commands gets no label.
func (t *Type) setLabel(label string) {
	if t.Kind == Object && t.label == "" && (len(t.Members) > 0 || t.Tag != "") {
		t.label = label
	}
}

func (s *Schema) index() {
	s.cmdNames = make([]string, 0, len(s.commands))
	for n := range s.commands {
		s.cmdNames = append(s.cmdNames, n)
	}
	sort.Strings(s.cmdNames)
	s.evNames = make([]string, 0, len(s.events))
	for n := range s.events {
		s.evNames = append(s.evNames, n)
	}
	sort.Strings(s.evNames)
}

// FromCommandNames builds a names-only schema, as query-commands gives on
// a QEMU without introspection.
func FromCommandNames(names []string) (*Schema, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("schema: no command names")
	}
	s := &Schema{commands: map[string]*Command{}, events: map[string]*Event{}, NamesOnly: true, Source: FromCommandList}
	for _, n := range names {
		s.commands[n] = &Command{Name: n}
	}
	s.index()
	return s, nil
}
