// SPDX-License-Identifier: MIT

package signaling

import (
	"errors"
	"time"

	"github.com/quic-go/quic-go"

	"monami/signaling/msg"
)

// sendQueueLen bounds the messages waiting to be written on one stream.
const sendQueueLen = 64

// errSendQueueFull ends a session whose stream has not taken a message for
// so long that sendQueueLen of them wait.
var errSendQueueFull = errors.New("signaling send queue full")

// sender writes a session's messages from a goroutine of its own. A QUIC
// stream write waits for congestion control, and on a path that has just
// died it waits until the connection migrates or times out; the message
// loop, which must stay free to migrate it, never waits on it.
type sender struct {
	q    chan []byte
	errc chan error // the first write error; buffered
	done chan struct{}
}

func newSender(str *quic.Stream) *sender {
	s := &sender{q: make(chan []byte, sendQueueLen), errc: make(chan error, 1), done: make(chan struct{})}
	go func() { // owned: close waits for it
		defer close(s.done)
		for b := range s.q {
			str.SetWriteDeadline(time.Now().Add(setupTimeout))
			if _, err := str.Write(b); err != nil {
				s.errc <- err
				for range s.q { // drain until close
				}
				return
			}
		}
	}()
	return s
}

// send queues m. A droppable message (a heartbeat) is skipped while others
// wait: the queue itself shows the connection is busy.
func (s *sender) send(m msg.Message, droppable bool) error {
	b, err := msg.AppendMessage(nil, m)
	if err != nil {
		return err
	}
	if droppable && len(s.q) > 0 {
		return nil
	}
	select {
	case s.q <- b:
		return nil
	default:
		return errSendQueueFull
	}
}

// close stops the writer; the caller must have closed the connection (so
// that a blocked write returns) or be content to wait for it.
func (s *sender) close() {
	close(s.q)
	<-s.done
}
