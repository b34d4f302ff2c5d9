// SPDX-License-Identifier: MIT

//go:build race

package control

const raceEnabled = true
