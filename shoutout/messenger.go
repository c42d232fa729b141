package shoutout

import (
	"context"
	"sort"
	"sync"
)

// Message is a direct message carrying a delivered video.
type Message struct {
	// ID is the order id: the same order is never delivered twice.
	ID    string `json:"id"`
	From  string `json:"from"` // the creator
	To    string `json:"to"`   // the fan
	Video string `json:"video"`
	Text  string `json:"text,omitempty"`
}

// Messenger delivers direct messages. Send must be idempotent on
// Message.ID: the program may send the same message again after a crash
// or a failed attempt, and the fan must see it once. The program never
// calls it from inside a unit of work: only after the approval committed
// (Approve), or from Tick for a message waiting in the outbox.
type Messenger interface {
	Send(ctx context.Context, m Message) error
}

// Inbox is an in-memory Messenger for tests and examples: it keeps each
// message once by ID. Safe for concurrent use.
type Inbox struct {
	mu   sync.Mutex
	byID map[string]Message
	seq  map[string]int
}

// NewInbox returns an empty inbox.
func NewInbox() *Inbox { return &Inbox{byID: map[string]Message{}, seq: map[string]int{}} }

// Send stores m unless a message with its ID is already there.
func (in *Inbox) Send(_ context.Context, m Message) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.byID[m.ID]; !ok {
		in.byID[m.ID] = m
		in.seq[m.ID] = len(in.seq)
	}
	return nil
}

// Messages returns the messages sent to a member, oldest first.
func (in *Inbox) Messages(to string) []Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []Message
	for _, m := range in.byID {
		if m.To == to {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return in.seq[out[i].ID] < in.seq[out[j].ID] })
	return out
}

// Message returns the message with an ID.
func (in *Inbox) Message(id string) (Message, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m, ok := in.byID[id]
	return m, ok
}

// Len is how many distinct messages the inbox holds.
func (in *Inbox) Len() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.byID)
}
