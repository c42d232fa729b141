package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/shoutout"
)

// shoutoutReviewers is a role directory in which the given staff members
// may review shoutout videos.
func shoutoutReviewers(ids ...string) *kit.RoleDirectory {
	d := &kit.RoleDirectory{}
	for _, id := range ids {
		d.Grant(id, kit.RoleReviewer)
	}
	return d
}

// shoutoutDriver: creators above the follower threshold set a price; fans
// with coins request personalised videos; creators accept, decline or let
// the 3 days pass; accepted orders get a video that moderators approve or
// reject (one resubmission allowed); Tick refunds what ran out of time.
// Bad inputs: creators below the threshold setting offers, fans ordering
// from themselves, a stale price, the wrong creator accepting, accepting
// twice, a creator approving their own video, replays and racing
// duplicates.
type shoutoutDriver struct {
	p        *shoutout.Program
	st       *programStats
	inbox    *shoutout.Inbox
	dms      *flakyMessenger
	prices   map[string]int64
	offering []*person
	open     []*order
	seq      int
}

type order struct {
	id      string
	fan     *person
	creator *person
	status  shoutout.Status
	events  int
}

func (d *shoutoutDriver) Name() string { return "shoutout" }

func (d *shoutoutDriver) Setup(ctx context.Context, s *sim) error {
	dir := kit.NewDirectory()
	for _, p := range s.pop.people {
		dir.Put(kit.Member{ID: p.ID, BirthDate: birthDateForAge(simStart, p.Age), Followers: p.Followers})
	}
	d.inbox = shoutout.NewInbox()
	d.dms = &flakyMessenger{inbox: d.inbox, seed: s.cfg.Seed, tries: map[string]int{}}
	d.prices = map[string]int64{}
	var err error
	d.p, err = shoutout.New(ctx, s.l, shoutout.DefaultRules(), dir, d.dms,
		shoutout.WithRoles(shoutoutReviewers("moderator-1", "moderator-2")), shoutout.WithWallets(s.wallets))
	if err != nil {
		return err
	}
	d.st = s.statsFor(d.Name(),
		errKind{"ineligible", shoutout.ErrIneligible}, errKind{"insufficient coins", shoutout.ErrInsufficientCoins},
		errKind{"price changed", shoutout.ErrPriceChanged}, errKind{"no offer", shoutout.ErrNoOffer},
		errKind{"wrong state", shoutout.ErrWrongState}, errKind{"deadline passed", shoutout.ErrDeadlinePassed},
		errKind{"not a party", shoutout.ErrNotParty}, errKind{"price out of bounds", shoutout.ErrPriceOutOfBounds},
		errKind{"id conflict", shoutout.ErrIdempotencyConflict}, errKind{"unknown member", shoutout.ErrUnknownMember},
		errKind{"not found", shoutout.ErrNotFound}, errKind{"invalid request", shoutout.ErrInvalidRequest},
		errKind{"forbidden", ledger.ErrForbidden})
	s.at(7)
	rng := s.rand()
	for _, c := range s.pop.creators {
		price := int64(100 * (1 + rng.IntN(30)))
		_, err := d.p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: c.ID, Price: price})
		if d.st.observe(err) {
			d.prices[c.ID] = price
			d.offering = append(d.offering, c)
		}
	}
	_, err = d.p.SetOffer(ctx, shoutout.SetOfferRequest{Creator: s.pop.creators[0].ID, Price: 1}) // below min_price
	d.st.expect(err, shoutout.ErrPriceOutOfBounds)
	return s.sched.Register(d.Name(), d.p)
}

func (d *shoutoutDriver) Day(ctx context.Context, s *sim, day int) error {
	if len(d.offering) == 0 {
		s.note("shoutout: no creator passed the follower threshold, so no shoutout was ordered")
		return nil
	}
	rng := s.rand()
	// Orders move on.
	still := d.open[:0]
	for _, o := range d.open {
		o.events++
		ev := fmt.Sprintf("%s-%d", o.id, o.events)
		var res shoutout.Order
		var err error
		r := rng.Float64()
		switch o.status {
		case shoutout.StatusRequested:
			switch {
			case r < 0.6:
				res, err = d.p.Accept(ctx, shoutout.AcceptRequest{EventID: ev, OrderID: o.id, Actor: o.creator.ID})
				if err == nil && rng.Float64() < 0.03 {
					_, again := d.p.Accept(ctx, shoutout.AcceptRequest{EventID: ev + "-again", OrderID: o.id, Actor: o.creator.ID})
					d.st.expect(again, shoutout.ErrWrongState)
				}
			case r < 0.7:
				res, err = d.p.Decline(ctx, shoutout.DeclineRequest{EventID: ev, OrderID: o.id, Actor: o.creator.ID})
			case r < 0.72:
				_, err := d.p.Accept(ctx, shoutout.AcceptRequest{EventID: ev + "-other", OrderID: o.id, Actor: o.fan.ID})
				d.st.expect(err, shoutout.ErrNotParty)
				still = append(still, o)
				continue
			default: // the creator does not answer today
				still = append(still, o)
				continue
			}
		case shoutout.StatusAccepted:
			if r < 0.5 {
				res, err = d.p.Submit(ctx, shoutout.SubmitRequest{EventID: ev, OrderID: o.id, Actor: o.creator.ID, Video: fmt.Sprintf("video://%s/%d", o.id, o.events)})
			} else {
				still = append(still, o)
				continue
			}
		case shoutout.StatusInReview:
			if r < 0.02 {
				// A creator trying to approve their own video.
				_, err := d.p.Approve(ctx, shoutout.ApproveRequest{EventID: ev + "-self", OrderID: o.id, Actor: o.creator.ID})
				d.st.expect(err, ledger.ErrForbidden)
				still = append(still, o)
				continue
			}
			if r < 0.85 {
				res, err = d.p.Approve(ctx, shoutout.ApproveRequest{EventID: ev, OrderID: o.id, Actor: "moderator-1"})
			} else {
				res, err = d.p.Reject(ctx, shoutout.RejectRequest{EventID: ev, OrderID: o.id, Actor: "moderator-2", Reason: "community guidelines"})
			}
		}
		if !d.st.observe(err) {
			// A deadline Tick already acted on (or a refusal): look it up.
			if cur, gerr := d.p.Order(ctx, o.id); gerr == nil {
				res = cur
			} else {
				d.st.failed("order lookup", gerr)
				continue
			}
		}
		o.status = res.Status
		if res.Status.Open() {
			still = append(still, o)
		} else {
			d.closed(res)
		}
	}
	d.open = still
	// New orders from fans with coins.
	holders := s.coinHolders
	if len(holders) == 0 {
		return nil
	}
	n := max(1, s.joinedCount()/1000)
	for i := 0; i < n; i++ {
		fan := holders[rng.IntN(len(holders))]
		c := d.offering[rng.IntN(len(d.offering))]
		d.seq++
		id := fmt.Sprintf("so-%d", d.seq)
		price := d.prices[c.ID]
		switch r := rng.Float64(); {
		case r < 0.02:
			_, err := d.p.Request(ctx, shoutout.RequestRequest{OrderID: id + "-stale", Fan: fan.ID, Creator: c.ID, Price: price + 100, Note: "a birthday message"})
			d.st.expect(err, shoutout.ErrPriceChanged)
		case r < 0.03:
			_, err := d.p.Request(ctx, shoutout.RequestRequest{OrderID: id + "-self", Fan: c.ID, Creator: c.ID, Price: price, Note: "for me"})
			d.st.expect(err, shoutout.ErrIneligible)
		}
		var err error
		if rng.Float64() < 0.02 {
			if !d.st.race(func() error {
				_, err := d.p.Request(ctx, shoutout.RequestRequest{OrderID: id, Fan: fan.ID, Creator: c.ID, Price: price, Note: "happy birthday"})
				return err
			}) {
				continue
			}
		} else {
			_, err = d.p.Request(ctx, shoutout.RequestRequest{OrderID: id, Fan: fan.ID, Creator: c.ID, Price: price, Note: "happy birthday"})
			if !d.st.observe(err) {
				continue
			}
			if rng.Float64() < 0.02 {
				_, err := d.p.Request(ctx, shoutout.RequestRequest{OrderID: id, Fan: fan.ID, Creator: c.ID, Price: price, Note: "happy birthday"})
				d.st.replay(err)
			}
		}
		d.open = append(d.open, &order{id: id, fan: fan, creator: c, status: shoutout.StatusRequested})
		d.st.add("ordered", 1)
	}
	return nil
}

// flakyMessenger is the direct-message service, failing the first attempt
// of about one message in ten (chosen by a hash of the seed and the
// message id, so runs repeat); the program retries in Tick.
type flakyMessenger struct {
	inbox *shoutout.Inbox
	seed  uint64
	mu    sync.Mutex
	tries map[string]int
	fails int64
}

func (f *flakyMessenger) Send(ctx context.Context, m shoutout.Message) error {
	f.mu.Lock()
	f.tries[m.ID]++
	first := f.tries[m.ID] == 1
	f.mu.Unlock()
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", f.seed, m.ID)
	if first && h.Sum64()%10 == 0 {
		f.mu.Lock()
		f.fails++
		f.mu.Unlock()
		return errors.New("direct messages: service unavailable")
	}
	return f.inbox.Send(ctx, m)
}

func (d *shoutoutDriver) closed(o shoutout.Order) {
	switch o.Outcome {
	case shoutout.OutcomePaid:
		d.st.add("delivered and paid", 1)
		d.st.add("coins to creators", o.CreatorShare)
	case shoutout.OutcomeRefunded:
		d.st.add("refunded ("+string(o.Status)+")", 1)
	}
}

func (d *shoutoutDriver) Night(ctx context.Context, s *sim, night scheduler.Report) error {
	rep := nightResult(d.st, night, d.Name())
	for _, f := range rep.Failed {
		d.st.failed("tick", f)
	}
	d.st.add("DMs resent by Tick", int64(rep.Count(shoutout.ItemMessageSent)))
	// Orders whose window ran out were refunded by Tick.
	still := d.open[:0]
	for _, o := range d.open {
		cur, err := d.p.Order(ctx, o.id)
		if err != nil {
			d.st.failed("order lookup", err)
			continue
		}
		o.status = cur.Status
		if cur.Status.Open() {
			still = append(still, o)
		} else {
			d.closed(cur)
		}
	}
	d.open = still
	return nil
}

// Check reconciles the creators' shoutout earnings on the ledger with the
// creator shares of the orders the driver saw delivered.
func (d *shoutoutDriver) Check(ctx context.Context, s *sim) ([]string, error) {
	var total int64
	for _, c := range d.offering {
		b, err := s.l.Balance(ctx, shoutout.EarningsAccount(c.ID), "COIN")
		if errors.Is(err, ledger.ErrUnknownAccount) {
			continue
		}
		if err != nil {
			return nil, err
		}
		total += b.Posted.IntPart()
	}
	if want := d.st.Counters["coins to creators"]; total != want {
		return []string{fmt.Sprintf("creators hold %d shoutout coins, delivered orders gave them %d", total, want)}, nil
	}
	return nil, nil
}
