// SPDX-License-Identifier: MIT

//go:build !race

package replay

const raceEnabled = false
