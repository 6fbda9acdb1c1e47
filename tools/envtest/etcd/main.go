// Command etcd is a thin wrapper around the upstream etcd server entrypoint so
// that tools/envtest/build.sh can build an etcd binary from Go modules alone.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
