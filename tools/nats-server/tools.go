//go:build tools

// Keeps the pinned nats-server a direct requirement of this module; build.sh builds its
// main package (github.com/nats-io/nats-server/v2) from the module cache.
package tools

import _ "github.com/nats-io/nats-server/v2"
