package schema_test

import (
	"fmt"

	"github.com/qscope/qscope/qmp/schema"
)

// A hand-written introspection in query-qmp-schema's form: one command
// with an int and an enum argument.
const example = `[
 {"name":"str","meta-type":"builtin","json-type":"string"},
 {"name":"int","meta-type":"builtin","json-type":"int"},
 {"name":"1","meta-type":"enum","values":["fast","slow"]},
 {"name":"2","meta-type":"object","members":[{"name":"size","type":"int"},{"name":"speed","type":"1","default":null},{"name":"label","type":"str","default":null}]},
 {"name":"0","meta-type":"object","members":[]},
 {"name":"resize","meta-type":"command","arg-type":"2","ret-type":"0"}
]`

func Example() {
	s, err := schema.Parse([]byte(example))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Command("resize").Args)

	req, err := s.Check("resize size=4096 label=7", nil)
	fmt.Println(req.JSON(), err)

	_, err = s.Check("resize size=big", nil)
	fmt.Println(err)
	_, err = s.Check("resize size=1 speed=warp", nil)
	fmt.Println(err)
	_, err = s.Check("resize speed=fast", nil)
	fmt.Println(err)

	c := s.Complete("resize size=1 sp", 16, nil)
	for _, x := range c.Candidates {
		fmt.Println(x.Text, x.Detail)
	}
	// Output:
	// {size, speed?, label?}
	// {"execute":"resize","arguments":{"size":4096,"label":"7"}} <nil>
	// resize: size: want int, got "big"
	// resize: speed: "warp" is not one of fast|slow
	// resize: missing required argument "size"
	// speed enum(fast|slow)
}
