// SPDX-License-Identifier: MIT

//go:build !race

package linkem

const raceEnabled = false
