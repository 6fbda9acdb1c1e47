//go:build tools

// Keeps the pinned Helm a direct requirement of this module; build.sh builds its command
// (helm.sh/helm/v4/cmd/helm) from the module cache.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
