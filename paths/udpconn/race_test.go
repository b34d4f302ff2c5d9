// SPDX-License-Identifier: MIT

//go:build race

package udpconn

const raceEnabled = true
