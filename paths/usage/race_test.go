// SPDX-License-Identifier: MIT

//go:build race

package usage

const raceEnabled = true
