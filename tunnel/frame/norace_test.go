// SPDX-License-Identifier: MIT

//go:build !race

package frame

const raceEnabled = false
