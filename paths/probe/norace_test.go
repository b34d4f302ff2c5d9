// SPDX-License-Identifier: MIT

//go:build !race

package probe

const raceEnabled = false
