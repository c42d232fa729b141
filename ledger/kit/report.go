package kit

import "context"

// Item is one due item a Tick handled: Kind says what was done
// ("subscription.renewed", "shoutout.refunded"), ID which item.
type Item struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// TickReport is what one Tick of a program did, in the same shape for
// every program: the items it handled and the items it could not. A
// failed item had its writes undone, stays due, and is tried again by the
// next Tick; the others went on.
type TickReport struct {
	Done   []Item      `json:"done,omitempty"`
	Failed []ItemError `json:"failed,omitempty"`
}

// Count returns how many handled items are of kind.
func (r TickReport) Count(kind string) int {
	n := 0
	for _, it := range r.Done {
		if it.Kind == kind {
			n++
		}
	}
	return n
}

// IDs returns the IDs of the handled items of kind, in order.
func (r TickReport) IDs(kind string) []string {
	var ids []string
	for _, it := range r.Done {
		if it.Kind == kind {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// Add records a handled item.
func (r *TickReport) Add(kind, id string) { r.Done = append(r.Done, Item{Kind: kind, ID: id}) }

// Merge appends o's items to r's.
func (r *TickReport) Merge(o TickReport) {
	r.Done = append(r.Done, o.Done...)
	r.Failed = append(r.Failed, o.Failed...)
}

// Err joins the failed items into one error, nil if there are none.
func (r TickReport) Err() error { return Failures(r.Failed) }

// Ticker is a program with work that falls due (deadlines, renewals,
// releases): Tick handles everything due at the ledger clock's now, each
// item in a unit of work of its own. Every program implements it, and
// ledger/scheduler runs any number of them.
type Ticker interface {
	Tick(ctx context.Context) (TickReport, error)
}
