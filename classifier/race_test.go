// SPDX-License-Identifier: MIT

//go:build race

package classifier

const raceEnabled = true
