// SPDX-License-Identifier: MIT

//go:build race

package tunnel

const raceEnabled = true
