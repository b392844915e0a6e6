package qmp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrClosed is returned by calls on a client that was closed with
	// Close, and by calls that were pending when it was; a Subscription
	// closed with its own Close also ends with it (Subscription.Err).
	ErrClosed = errors.New("client closed")
	// ErrDisconnected is wrapped, together with the cause, by every call
	// that was pending or is made after the connection to QEMU was lost.
	ErrDisconnected = errors.New("disconnected")
	// ErrBusy means the monitor accepted the connection but sent no
	// greeting before the context ended: another client holds it (QEMU
	// serves one client per monitor) or QEMU is not running (stopped,
	// hung).
	ErrBusy = errors.New("no greeting: monitor busy (held by another client) or QEMU not responding")
	// ErrProtocol means QEMU sent something that is not QMP. The
	// connection is closed: a byte stream cannot be trusted after that.
	ErrProtocol = errors.New("protocol error")
	// ErrNotSupported means the request needs something this connection
	// lacks (out-of-band execution not negotiated, descriptors over a
	// non-unix socket).
	ErrNotSupported = errors.New("not supported")
	// ErrInvalid means the request was refused before anything was sent:
	// a bad command name, arguments that are not a JSON object.
	ErrInvalid = errors.New("invalid request")
)

// Error is an error reply from QEMU.
type Error struct {
	// Command is the command that failed.
	Command string
	// Class is QEMU's error class: GenericError, CommandNotFound,
	// DeviceNotActive, DeviceNotFound, KVMMissingCap.
	Class string `json:"class"`
	// Desc is QEMU's human-readable description.
	Desc string `json:"desc"`
}

func (e *Error) Error() string {
	if e.Command == "" {
		return e.Class + ": " + e.Desc
	}
	return "qmp: " + e.Command + ": " + e.Class + ": " + e.Desc
}

// Version is QEMU's version as the greeting and query-version report it.
type Version struct {
	QEMU struct {
		Major int `json:"major"`
		Minor int `json:"minor"`
		Micro int `json:"micro"`
	} `json:"qemu"`
	// Package is the distribution's package string, e.g.
	// "Debian 1:7.2+dfsg-7+deb12u18".
	Package string `json:"package"`
}

func (v Version) String() string {
	return strconv.Itoa(v.QEMU.Major) + "." + strconv.Itoa(v.QEMU.Minor) + "." + strconv.Itoa(v.QEMU.Micro)
}

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.QEMU.Major > major || (v.QEMU.Major == major && v.QEMU.Minor >= minor)
}

// Greeting is what QEMU sends when a client connects.
type Greeting struct {
	Version      Version  `json:"version"`
	Capabilities []string `json:"capabilities"`
}

// Has reports whether the greeting offers capability name (e.g. "oob").
func (g Greeting) Has(name string) bool {
	for _, c := range g.Capabilities {
		if c == name {
			return true
		}
	}
	return false
}

// Timestamp is QEMU's event timestamp.
type Timestamp struct {
	Seconds      int64 `json:"seconds"`
	Microseconds int64 `json:"microseconds"`
}

// Time converts the timestamp.
func (t Timestamp) Time() time.Time { return time.Unix(t.Seconds, t.Microseconds*1000) }

// Event is an asynchronous message from QEMU.
type Event struct {
	Name      string          `json:"event"`
	Data      json.RawMessage `json:"data,omitempty"`
	Timestamp Timestamp       `json:"timestamp"`
}

// Time is when QEMU raised the event.
func (e Event) Time() time.Time { return e.Timestamp.Time() }

// DecodeData unmarshals the event's data into v. An event that carries no
// data (STOP, RESUME, …) gives an error saying so, and v is left as it
// was.
func (e Event) DecodeData(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("qmp: event %s carries no data", e.Name)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("qmp: decoding data of event %s: %w", e.Name, err)
	}
	return nil
}

// wireMessage is anything QEMU sends: greeting, reply or event.
type wireMessage struct {
	QMP       *Greeting       `json:"QMP"`
	ID        json.RawMessage `json:"id"`
	Return    json.RawMessage `json:"return"`
	Error     *Error          `json:"error"`
	Event     string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	Timestamp Timestamp       `json:"timestamp"`
}

// CheckRequest validates a command name and encodes its arguments the way
// the Client does before sending: nil (or JSON null) means no arguments;
// anything else must encode to a JSON object. Errors wrap ErrInvalid.
// Other transports use it so that every route refuses the same input.
func CheckRequest(command string, args any) (json.RawMessage, error) {
	if err := validCommand(command); err != nil {
		return nil, err
	}
	return marshalArgs(command, args)
}

// validCommand reports whether name can be a QMP command name: letters,
// digits, '-', '_' and '.' (vendor prefixes such as __com.redhat_).
func validCommand(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty command name", ErrInvalid)
	}
	if len(name) > 128 {
		return fmt.Errorf("%w: command name longer than 128 bytes", ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return fmt.Errorf("%w: command name %q has character %q", ErrInvalid, name, b)
		}
	}
	return nil
}

// marshalArgs turns args into a JSON object, or nil for no arguments.
func marshalArgs(command string, args any) ([]byte, error) {
	var b []byte
	switch a := args.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if len(a) == 0 {
			return nil, nil
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, a); err != nil {
			return nil, fmt.Errorf("%w: %s: arguments are not valid JSON: %v", ErrInvalid, command, err)
		}
		b = buf.Bytes()
	default:
		var err error
		if b, err = json.Marshal(args); err != nil {
			return nil, fmt.Errorf("%w: %s: encoding arguments: %v", ErrInvalid, command, err)
		}
	}
	switch t := bytes.TrimLeft(b, " \t\r\n"); {
	case len(t) > 0 && t[0] == '{':
		return b, nil
	case bytes.Equal(t, []byte("null")):
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %s: arguments must be a JSON object", ErrInvalid, command)
}

// appendRequest encodes one request. kind is "execute" or "exec-oob".
func appendRequest(dst []byte, kind, command string, args []byte, id uint64) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, kind...)
	dst = append(dst, `":"`...)
	dst = append(dst, command...) // validated: needs no escaping
	dst = append(dst, '"')
	if args != nil {
		dst = append(dst, `,"arguments":`...)
		dst = append(dst, args...)
	}
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	// No newline: QEMU parses a request as soon as its last brace comes,
	// and would spend a read on the newline.
	return append(dst, '}')
}
