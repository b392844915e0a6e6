package console

import (
	"encoding/json"

	"github.com/qscope/qscope/policy"
)

// Classifier says how much command (with its JSON arguments, nil when
// none) can change a guest. The default is policy.Classify: read-only
// commands run at once, changing ones run (the monitor given to the
// console journals them), destructive ones wait for the user to type the
// guest's name, and read-only mode refuses all but read-only ones.
type Classifier func(command string, args json.RawMessage) policy.Class
