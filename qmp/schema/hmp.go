package schema

import (
	"strings"
)

// HMPCommand is one human monitor command as QEMU's help lists it.
type HMPCommand struct {
	// Name is the command; Aliases are other names for it ("c" for cont).
	Name    string
	Aliases []string
	// Args is the argument synopsis, Help the description.
	Args string
	Help string
}

// ParseHMPHelp reads the text of HMP's "help" (or "help info") command:
// one command per line, "name[|alias] args -- description", with
// continuation lines indented or starting with a bracket. prefix is put
// before each name ("info " for the info subcommands).
func ParseHMPHelp(text, prefix string) []HMPCommand {
	var out []HMPCommand
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '[' {
			continue // a continuation of the previous command's text
		}
		head, help, _ := strings.Cut(line, " -- ")
		head = strings.TrimPrefix(head, prefix)
		name, args, _ := strings.Cut(strings.TrimSpace(head), " ")
		if name == "" || !hmpName(name) {
			continue
		}
		names := strings.Split(name, "|")
		out = append(out, HMPCommand{
			Name:    prefix + names[0],
			Aliases: names[1:],
			Args:    strings.TrimSpace(args),
			Help:    strings.TrimSpace(help),
		})
	}
	return out
}

func hmpName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '|') {
			return false
		}
	}
	return true
}

// CompleteHMP completes an HMP command line: the command name (and, after
// "info ", the info subcommand) from cmds, fuzzy-matched. Arguments are
// free text and are not completed.
func CompleteHMP(line string, cursor int, cmds []HMPCommand) Completion {
	if cursor < 0 || cursor > len(line) {
		cursor = len(line)
	}
	toks := tokenize(line)
	var cur token
	idx := len(toks)
	for i, t := range toks {
		if cursor >= t.start && cursor <= t.end {
			cur, idx = t, i
			break
		}
	}
	if idx == len(toks) {
		cur = token{start: cursor, end: cursor}
	}
	info := len(toks) > 0 && toks[0].text == "info" && idx == 1 || len(toks) == 1 && toks[0].text == "info" && cursor > toks[0].end
	if idx != 0 && !info {
		return Completion{Start: cursor, End: cursor}
	}
	pattern := line[cur.start:cursor]
	var cands []Candidate
	for _, c := range cmds {
		sub, isInfo := strings.CutPrefix(c.Name, "info ")
		switch {
		case info && isInfo:
			cands = append(cands, Candidate{Kind: ValueCandidate, Text: sub, Insert: sub, Detail: c.Help})
		case !info && !isInfo:
			insert := c.Name
			if c.Args != "" {
				insert += " "
			}
			cands = append(cands, Candidate{Kind: CommandCandidate, Text: c.Name, Insert: insert, Detail: c.Args})
		}
	}
	return Completion{Start: cur.start, End: cur.end, Pattern: pattern, Candidates: rank(pattern, cands, hmpCommon)}
}

// hmpCommon are the HMP commands (and info subcommands) people type most;
// they come first among equally good prefix matches.
var hmpCommon = map[string]int{
	"info": 9, "cont": 8, "stop": 8, "system_reset": 6, "system_powerdown": 6, "quit": 5,
	"device_add": 7, "device_del": 6, "drive_add": 5, "help": 7,
	"status": 9, "block": 8, "cpus": 8, "network": 7, "qtree": 7, "mtree": 6, "pci": 6,
	"chardev": 6, "migrate": 6, "version": 7, "kvm": 6, "registers": 6, "balloon": 5,
}
