package checkups_test

import (
	"fmt"

	"github.com/slardar-go/slardar/checkups"
)

func ExampleParseUpstream() {
	_, err := checkups.ParseUpstream([]byte(`{"servers":[{"host":"10.0.0.1","port":70000}]}`))
	fmt.Println(err)

	u, _ := checkups.ParseUpstream([]byte(`{"servers":[{"host":"10.0.0.1","port":8080,"weight":5},{"host":"10.0.0.2","port":8080}]}`))
	reg := checkups.NewRegistry(nil, nil)
	c, _ := reg.Build("api.example.com", u, nil)
	for range 7 {
		p, _ := c.Pick(nil, nil)
		fmt.Println(p.Addr())
	}
	// Output:
	// servers[0].port: 70000 is not a valid port (1-65535)
	// 10.0.0.1:8080
	// 10.0.0.1:8080
	// 10.0.0.1:8080
	// 10.0.0.2:8080
	// 10.0.0.1:8080
	// 10.0.0.1:8080
	// 10.0.0.1:8080
}
