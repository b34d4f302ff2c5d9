// SPDX-License-Identifier: MIT

package linkmon

import (
	"slices"
	"testing"

	"monami/configs"
)

// configs validates [[uplink]] type against its own copy of the type
// names (it may not import this package); the two lists must agree.
func TestConfigsKnowsTheLinkTypes(t *testing.T) {
	if got := configs.LinkTypes(); !slices.Equal(got, knownTypes[:]) {
		t.Errorf("configs.LinkTypes() = %v, linkmon knows %v", got, knownTypes[:])
	}
}
