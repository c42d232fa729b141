// Command service is the service a platform team writes on rewardkit from
// the README and go doc alone: it sells coin packs, sends gifts, cashes out
// a creator's diamonds and shows balances over HTTP, with no hand-made
// sweep between programs, no switch over sentinel errors and no Tick
// bookkeeping (one scheduler ticks everything due).
//
//	go run ./examples/service -demo                 # serve, drive it with a scripted client, exit
//	go run ./examples/service -addr 127.0.0.1:8080  # serve until interrupted
//	go run ./examples/service -postgres 'postgres://user:pass@localhost/rewardkit'
//	WEBHOOK_SECRET=... go run ./examples/service -webhook https://example.com/hooks
//
// With -webhook, every event the programs emit (gifting.gift.sent,
// payout.payout.paid, ...) is POSTed to the URL as CloudEvents JSON,
// signed with the secret in WEBHOOK_SECRET (at least 16 bytes; see
// ledger/webhooks for the headers and webhooks.Verify for the receiver).
//
// Routes (the member who acts is in the path; a real service takes it from
// its session):
//
//	POST /v1/members/{member}/coins           {"payment_ref","pack"}             buy a coin pack
//	POST /v1/members/{member}/gifts           {"event_id","creator","gift","count","live"}
//	PUT  /v1/members/{member}/payout-account  {"account"}                        link PayPal
//	POST /v1/members/{member}/cashouts        {"payout_id","diamonds"}           cash out diamonds
//	GET  /v1/members/{member}/balances
//	GET  /v1/payouts/{payout}
//	POST /v1/webhooks/payout                  a provider's pushed outcome
//
// Every refusal is {"code","rule","message"} with the HTTP status of its
// code (ledger.ErrorCode, Code.HTTPStatus).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/rewardkit/rewardkit/examples/internal/exampledb"
	"github.com/rewardkit/rewardkit/ledger"
	"github.com/rewardkit/rewardkit/ledger/kit"
	"github.com/rewardkit/rewardkit/payout"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	dsn := flag.String("postgres", "", "PostgreSQL connection string (default: the in-memory store)")
	demo := flag.Bool("demo", false, "serve on a free port, drive the service with a scripted client, and exit")
	webhook := flag.String("webhook", "", "URL that receives every event, signed with $WEBHOOK_SECRET (default: none)")
	flag.Parse()
	if err := run(*addr, *dsn, *webhook, *demo); err != nil {
		fmt.Fprintf(os.Stderr, "service example: %v\n", err)
		os.Exit(1)
	}
}

func run(addr, dsn, webhook string, demo bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	store, err := exampledb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := ledger.SystemClock{}
	s, err := newService(ctx, store, config{
		clock: clock, members: demoMembers(), provider: payout.NewMemoryProvider(clock), log: log,
		webhook: webhook, webhookSecret: []byte(os.Getenv("WEBHOOK_SECRET")),
	})
	if err != nil {
		return err
	}
	if demo {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if !demo {
		fmt.Printf("serving on http://%s\n", ln.Addr())
		return s.serve(ctx, ln, time.Second)
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln, 50*time.Millisecond) }()
	err = runDemo(ctx, os.Stdout, "http://"+ln.Addr().String())
	cancel()
	if serr := <-served; err == nil && serr != nil && serr != context.Canceled {
		err = serr
	}
	return err
}

// demoMembers are the demo's members: the facts gifting's rules read.
func demoMembers() *kit.Directory {
	return kit.NewDirectory(
		kit.Member{ID: "chiara", BirthDate: kit.NewDate(1996, time.April, 10), TimeZone: "Europe/Rome", Kind: "creator", Country: "IT"},
		kit.Member{ID: "marco", BirthDate: kit.NewDate(1989, time.February, 14), TimeZone: "Europe/Rome", Kind: "creator", Country: "IT"},
		kit.Member{ID: "anna", BirthDate: kit.NewDate(1991, time.September, 3), TimeZone: "Europe/Rome", Kind: "personal", Country: "IT"},
		kit.Member{ID: "dario", BirthDate: kit.NewDate(2011, time.July, 1), TimeZone: "Europe/Rome", Kind: "personal", Country: "IT"},
	)
}

// runDemo drives the service at base as its clients would and prints each
// exchange.
func runDemo(ctx context.Context, out io.Writer, base string) error {
	c := &client{ctx: ctx, base: base, out: out}
	steps := []struct{ method, path, body string }{
		{"POST", "/v1/members/anna/coins", `{"payment_ref":"pay-1","pack":"it-app-7000"}`},
		{"POST", "/v1/members/anna/coins", `{"payment_ref":"pay-1","pack":"it-app-7000"}`},
		{"POST", "/v1/members/dario/coins", `{"payment_ref":"pay-2","pack":"it-app-70"}`},
		{"POST", "/v1/members/anna/gifts", `{"event_id":"g-1","creator":"chiara","gift":"galaxy","count":5}`},
		{"POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-1","diamonds":"2000"}`},
		{"PUT", "/v1/members/chiara/payout-account", `{"account":"chiara@example.com"}`},
		{"POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-2","diamonds":"100"}`},
		{"POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-3","diamonds":"2000"}`},
		{"POST", "/v1/members/chiara/cashouts", `{"payout_id":"po-4","diamonds":"2000"}`},
		{"GET", "/v1/payouts/po-3", ""},
		{"GET", "/v1/members/chiara/balances", ""},
	}
	for _, st := range steps {
		if _, _, err := c.do(st.method, st.path, st.body); err != nil {
			return err
		}
	}
	return nil
}
