package discover

import (
	"cmp"
	"slices"
	"strings"
)

// Merge combines what several sources report into one list, one entry per
// guest:
//
//   - entries with the same PID are one guest, unless both carry a UUID
//     and the UUIDs differ (a remote libvirt reports its own host's pids);
//     the first source's entry (the process source's, with the /proc
//     facts) is the base;
//   - an entry without a PID (a libvirt domain known only from the
//     libvirt API, say) joins the guest with the same UUID, else the guest
//     with the same Owner and Domain; else it stays a guest of its own;
//   - when entries are joined, a later source's launcher facts win: an
//     Owner other than "process", Name, Domain, Monitor/Monitors and
//     Reason; UUID and State fill only what is empty, except that a
//     state from the libvirt API (an entry owned by libvirt that has one)
//     wins; Taints are taken when given. The base keeps its /proc facts
//     and a "stopped" state.
//
// The result is sorted by name, then pid.
func Merge(lists ...[]Guest) []Guest {
	var out []Guest
	byPID := map[int]int{}
	for _, list := range lists {
		for _, g := range list {
			i, ok := -1, false
			if g.PID > 0 {
				i, ok = byPID[g.PID]
				if ok && out[i].UUID != "" && g.UUID != "" && !strings.EqualFold(out[i].UUID, g.UUID) {
					// Same pid, different machines (a remote libvirt
					// reports its host's pids): not the same guest.
					out = append(out, g)
					continue
				}
			} else {
				i, ok = matchWithoutPID(out, g)
			}
			if !ok {
				out = append(out, g)
				if g.PID > 0 {
					byPID[g.PID] = len(out) - 1
				}
				continue
			}
			out[i] = join(out[i], g)
		}
	}
	sortGuests(out)
	return out
}

func matchWithoutPID(out []Guest, g Guest) (int, bool) {
	if g.UUID != "" {
		for i, o := range out {
			if strings.EqualFold(o.UUID, g.UUID) {
				return i, true
			}
		}
	}
	if g.Domain != "" {
		for i, o := range out {
			if o.Owner == g.Owner && o.Domain == g.Domain {
				return i, true
			}
		}
	}
	return -1, false
}

func join(base, o Guest) Guest {
	if o.Owner != "" && o.Owner != OwnerProcess {
		base.Owner = o.Owner
	}
	if o.Name != "" {
		base.Name = o.Name
	}
	if o.Domain != "" {
		base.Domain = o.Domain
	}
	if base.UUID == "" {
		base.UUID = o.UUID
	}
	if len(o.Monitors) > 0 {
		base.Monitors = o.Monitors
		base.Monitor = o.Monitor
	}
	if len(o.Taints) > 0 {
		base.Taints = o.Taints
	}
	if base.State == StateStopped {
		return base
	}
	switch {
	case o.State != "":
		base.State = o.State
	case base.Owner == OwnerLibvirt && (base.State == "" || base.State == StateNoMonitor || base.State == StateDenied):
		// A process that turned out to be libvirt's: libvirt is the
		// route, and the process is alive.
		base.State = StateRunning
	}
	if o.Reason != "" {
		base.Reason = o.Reason
	}
	return base
}

func sortGuests(gs []Guest) {
	slices.SortStableFunc(gs, func(a, b Guest) int {
		if c := CompareNames(a.Name, b.Name); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.PID, b.PID)
	})
}
