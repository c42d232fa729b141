package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/rewardkit/rewardkit/gifting"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/driver"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/ledger/scheduler"
	"github.com/rewardkit/rewardkit/ledger/webhooks"
	"github.com/rewardkit/rewardkit/payout"
)

// service is the newcomer's service: it sells coin packs, sends gifts,
// cashes out a creator's diamonds and shows balances, over net/http. All
// it knows of the library's errors is ledger.ErrorCode and ledger.RuleOf
// (writeError); all it knows of due work is one scheduler.
type service struct {
	l     *ledger.Ledger
	gifts *gifting.Program
	cash  *payout.Program
	sched *scheduler.Scheduler
	hooks *webhooks.Dispatcher // nil when no webhook is configured
	log   *slog.Logger
}

// config is what a deployment chooses.
type config struct {
	clock    ledger.Clock
	members  kit.Members
	provider payout.Provider
	log      *slog.Logger
	// webhook, when set, receives every event the programs emit, signed
	// with webhookSecret (see ledger/webhooks).
	webhook       string
	webhookSecret []byte
}

// newService sets the programs up on store. Both programs' rules come
// from their defaults; the diamond's cash value is configured once, in
// gifting's rules, and payout's creator rules are built from it.
func newService(ctx context.Context, store driver.Store, cfg config) (*service, error) {
	l := ledger.New(store, ledger.WithClock(cfg.clock), ledger.WithLogger(cfg.log))
	giftRules := gifting.DefaultRules()
	gifts, err := gifting.New(ctx, l, giftRules, cfg.members)
	if err != nil {
		return nil, fmt.Errorf("gifting: %w", err)
	}
	cash, err := payout.New(ctx, l, payout.CreatorRules(giftRules.CashValue()), cfg.provider)
	if err != nil {
		return nil, fmt.Errorf("payout: %w", err)
	}
	// One scheduler ticks the ledger's hold expiry and payout's due work;
	// on PostgreSQL any number of replicas may run it, one at a time.
	sched, err := scheduler.New(l, scheduler.WithLogger(cfg.log))
	if err != nil {
		return nil, err
	}
	if err := sched.Register("payout", cash); err != nil {
		return nil, err
	}
	s := &service{l: l, gifts: gifts, cash: cash, sched: sched, log: cfg.log}
	if cfg.webhook != "" {
		// Every event to one endpoint, in order, at least once: a restart
		// resumes from the endpoint's committed position in the store.
		s.hooks, err = webhooks.New(l, []webhooks.Endpoint{{ID: "service", URL: cfg.webhook, Secret: cfg.webhookSecret}},
			webhooks.WithLogger(cfg.log))
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// handler returns the service's routes. The member who acts comes from
// the path here; a real service takes it from the authenticated session.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/members/{member}/coins", s.buyCoins)
	mux.HandleFunc("POST /v1/members/{member}/gifts", s.sendGift)
	mux.HandleFunc("PUT /v1/members/{member}/payout-account", s.linkAccount)
	mux.HandleFunc("POST /v1/members/{member}/cashouts", s.cashOut)
	mux.HandleFunc("GET /v1/members/{member}/balances", s.balances)
	mux.HandleFunc("GET /v1/payouts/{payout}", s.getPayout)
	mux.HandleFunc("POST /v1/webhooks/payout", s.payoutWebhook)
	return mux
}

// handle is the shape of every handler: decode, call, answer. A replayed
// event answers 200 like the first call did (201), with the same body.
func handle[Req, Res any](s *service, w http.ResponseWriter, r *http.Request, req *Req,
	call func(ctx context.Context) (Res, error), created func(Res) bool) {
	if req != nil {
		if err := readJSON(r, req); err != nil {
			writeError(w, s.log, err)
			return
		}
	}
	res, err := call(r.Context())
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	status := http.StatusOK
	if created != nil && created(res) {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
}

// buyCoins credits a coin pack. A real handler does so only for a
// payment its payment provider confirmed (PaymentRef is that payment's
// reference); this example takes the caller's word.
func (s *service) buyCoins(w http.ResponseWriter, r *http.Request) {
	var req gifting.BuyPackRequest
	handle(s, w, r, &req, func(ctx context.Context) (gifting.Purchase, error) {
		req.Actor = r.PathValue("member")
		return s.gifts.BuyPack(ctx, req)
	}, func(p gifting.Purchase) bool { return !p.Replayed })
}

func (s *service) sendGift(w http.ResponseWriter, r *http.Request) {
	var req gifting.SendGiftRequest
	handle(s, w, r, &req, func(ctx context.Context) (gifting.GiftResult, error) {
		req.Actor = r.PathValue("member")
		return s.gifts.SendGift(ctx, req)
	}, func(g gifting.GiftResult) bool { return !g.Replayed })
}

func (s *service) linkAccount(w http.ResponseWriter, r *http.Request) {
	var req payout.LinkAccountRequest
	handle(s, w, r, &req, func(ctx context.Context) (payout.Link, error) {
		req.Actor = r.PathValue("member")
		return s.cash.LinkAccount(ctx, req)
	}, nil)
}

// cashOutRequest is a creator cashing out diamonds.
type cashOutRequest struct {
	PayoutID string          `json:"payout_id"`
	Diamonds decimal.Decimal `json:"diamonds"`
}

// cashOut withdraws diamonds straight from the creator's gifting earnings
// at the value gifting configures: one unit of work, so a refused
// withdrawal leaves every diamond where it was. The provider is asked
// after the commit.
func (s *service) cashOut(w http.ResponseWriter, r *http.Request) {
	var req cashOutRequest
	handle(s, w, r, &req, func(ctx context.Context) (payout.Payout, error) {
		member := r.PathValue("member")
		return s.cash.Withdraw(ctx, payout.WithdrawRequest{
			PayoutID: req.PayoutID,
			Actor:    member,
			Source:   gifting.EarningsAccount(member),
			Amount:   req.Diamonds,
		})
	}, func(p payout.Payout) bool { return !p.Replayed })
}

func (s *service) getPayout(w http.ResponseWriter, r *http.Request) {
	handle[struct{}](s, w, r, nil, func(ctx context.Context) (payout.Payout, error) {
		return s.cash.Get(ctx, r.PathValue("payout"))
	}, nil)
}

// payoutWebhook records an outcome the provider pushes. A real handler
// checks the delivery's signature first.
func (s *service) payoutWebhook(w http.ResponseWriter, r *http.Request) {
	var req payout.RecordOutcomeRequest
	handle(s, w, r, &req, func(ctx context.Context) (payout.Payout, error) {
		return s.cash.RecordOutcome(ctx, req)
	}, nil)
}

// balance is one line of a member's balances.
type balance struct {
	Account   string          `json:"account"`
	Asset     string          `json:"asset"`
	Posted    decimal.Decimal `json:"posted"`
	Available decimal.Decimal `json:"available"`
}

// balances shows a member's wallet and earnings, read in one snapshot.
func (s *service) balances(w http.ResponseWriter, r *http.Request) {
	handle[struct{}](s, w, r, nil, func(ctx context.Context) ([]balance, error) {
		member := r.PathValue("member")
		if err := kit.CheckID(errBadRequest, "member", member); err != nil {
			return nil, err
		}
		out := []balance{}
		err := s.l.View(ctx, func(rd *ledger.Reader) error {
			for _, acc := range []string{gifting.MemberAccount(member), gifting.EarningsAccount(member)} {
				bs, err := rd.Balances(acc)
				if errors.Is(err, ledger.ErrUnknownAccount) {
					continue // not opened yet: nothing to show
				}
				if err != nil {
					return err
				}
				for _, b := range bs {
					out = append(out, balance{Account: b.Account, Asset: b.Asset, Posted: b.Posted, Available: b.Available})
				}
			}
			return nil
		})
		return out, err
	}, nil)
}

// serve answers on ln until ctx ends, with the scheduler ticking every
// tick and the webhook dispatcher, if any, in the background.
func (s *service) serve(ctx context.Context, ln net.Listener, tick time.Duration) error {
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ticked := make(chan error, 1)
	go func() { ticked <- s.sched.Run(ctx, tick) }()
	if s.hooks != nil {
		hooked := make(chan struct{})
		go func() { _ = s.hooks.Run(ctx); close(hooked) }() // returns ctx.Err() alone
		defer func() { cancel(); <-hooked }()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		cancel()
		<-ticked
		return err
	case <-ctx.Done():
	}
	shut, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	err := srv.Shutdown(shut)
	<-ticked
	return err
}
